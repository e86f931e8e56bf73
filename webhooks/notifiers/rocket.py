"""The ``rocket`` notifier: Flagger's Slack-shaped message to a Rocket.Chat incoming webhook.

Rocket.Chat's incoming webhooks take Slack's attachments; Flagger sends the Slack payload of
:func:`flagger.webhooks.notifiers.slack.payload` with hexadecimal colours: ``#0076D7`` (blue), or
``#FF0000`` (red) for error alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger import plugins

from . import slack

__all__ = ["RocketNotifier", "flagger_notifier", "payload"]

TYPE = "rocket"
BLUE, RED = "#0076D7", "#FF0000"


def payload(alert: Mapping[str, Any], channel: str, username: str) -> dict[str, Any]:
    """Flagger's Rocket.Chat payload: the Slack one with blue/red colours."""
    return slack.payload(alert, channel, username, good=BLUE, danger=RED)


class RocketNotifier(slack.ChatNotifier):
    """Posts alerts to one Rocket.Chat incoming webhook."""

    service, chat = "Rocket hook", "Rocket"

    def payload(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        return payload(alert, self.channel, self.username)


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``rocket`` alert provider type."""
    registry.notifier(TYPE, flagger_notifier)


def flagger_notifier(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.Notifier | None:
    """The Rocket.Chat notifier for an AlertProvider of type ``rocket``."""
    return RocketNotifier.from_spec(spec) if provider_type == TYPE else None
