"""The one HTTP session policy for every outgoing call except the Kubernetes API.

Webhooks, notifications, the built-in metrics and every MetricTemplate provider go through a
session from :func:`client_session`, which honours ``HTTP_PROXY``, ``HTTPS_PROXY`` and
``NO_PROXY`` as Go's ``http.ProxyFromEnvironment`` does for Flagger. (The Kubernetes client has
its own transport and does not read these variables.)
"""

from __future__ import annotations

from typing import Any

import aiohttp

__all__ = ["client_session"]


def client_session(**kwargs: Any) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` that reads proxy settings from the environment."""
    return aiohttp.ClientSession(trust_env=True, **kwargs)
