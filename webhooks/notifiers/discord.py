"""The ``discord`` notifier: Flagger's Slack message sent to Discord's Slack-compatible endpoint.

Discord accepts Slack's payload at ``<webhook>/slack``; Flagger appends ``/slack`` to the
webhook's path unless the URL already ends with it (the query string is kept), and sends the
Slack payload of :func:`flagger.webhooks.notifiers.slack.payload` unchanged: ``good``/``danger``
colours, ``:rocket:`` icon.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

import yarl

from flagger import plugins
from flagger.alerting import delivery

from . import slack

__all__ = ["DiscordNotifier", "flagger_notifier", "slack_url"]

TYPE = "discord"


def slack_url(url: str) -> str:
    """The webhook URL with ``/slack`` appended to its path, as Flagger does."""
    delivery.check_url(url, "Discord hook")
    if url.endswith("/slack"):
        return url
    parsed = yarl.URL(url, encoded=True)
    path = posixpath.normpath(posixpath.join(parsed.raw_path or "/", "slack"))
    return str(parsed.with_path(path, encoded=True, keep_query=True, keep_fragment=True))


class DiscordNotifier(slack.ChatNotifier):
    """Posts alerts to one Discord webhook."""

    chat = "Discord"

    def check_url(self, url: str) -> str:
        return slack_url(url)


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``discord`` alert provider type."""
    registry.notifier(TYPE, flagger_notifier)


def flagger_notifier(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.Notifier | None:
    """The Discord notifier for an AlertProvider of type ``discord``."""
    return DiscordNotifier.from_spec(spec) if provider_type == TYPE else None
