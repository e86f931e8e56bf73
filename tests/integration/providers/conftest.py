"""Fixtures for the router tests: a `Kube` client and Canaries that exist on the API server.

The Canaries are created for real so that the owner references routers write point at a live
object (otherwise the garbage collector would delete what the routers create).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from tests.support import routers
from tests.support.canary_crd import client

__all__ = ["client", "make_canary"]

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]


@pytest.fixture
def make_canary(client: kube_client.Kube, namespace: str) -> MakeCanary:
    """Create a Canary ``podinfo`` targeting Deployment ``podinfo`` and return its model."""

    async def make(
        service: dict[str, Any], analysis: dict[str, Any] | None = None, name: str = "podinfo"
    ) -> canary_api.Canary:
        doc: dict[str, Any] = {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": service,
                "analysis": analysis or {"interval": "1m", "threshold": 5, "stepWeight": 10},
            },
        }
        return await routers.create_canary(client, doc)

    return make
