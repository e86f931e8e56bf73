"""The ``rocket`` notifier: Flagger's Slack-shaped message to a Rocket.Chat incoming webhook.

Rocket.Chat's incoming webhooks take Slack's attachments; Flagger sends the Slack payload of
:func:`flagger.webhooks.notifiers.slack.payload` with hexadecimal colours: ``#0076D7`` (blue), or
``#FF0000`` (red) for error alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from flagger import plugins
from flagger.alerting import delivery

from . import slack

__all__ = ["RocketNotifier", "flagger_notifier", "payload"]

TYPE = "rocket"
BLUE, RED = "#0076D7", "#FF0000"


def payload(alert: Mapping[str, Any], channel: str, username: str) -> dict[str, Any]:
    """Flagger's Rocket.Chat payload: the Slack one with blue/red colours."""
    return slack.payload(alert, channel, username, good=BLUE, danger=RED)


class RocketNotifier:
    """Posts alerts to one Rocket.Chat incoming webhook."""

    def __init__(
        self,
        url: str,
        *,
        channel: str,
        username: str,
        proxy: str = "",
        token: str = "",
        timeout: float = delivery.DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = delivery.check_url(url, "Rocket hook")
        slack.check_names("Rocket", username, channel)
        self.channel, self.username = channel, username
        self.proxy, self.token = proxy, token
        self.timeout, self.session = timeout, session

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> RocketNotifier:
        return cls(
            str(spec.get("address") or ""),
            channel=str(spec.get("channel") or ""),
            username=str(spec.get("username") or ""),
            proxy=str(spec.get("proxy") or ""),
            token=str(spec.get("token") or ""),
        )

    async def post(self, alert: Mapping[str, Any]) -> None:
        await delivery.post_json(
            self.url,
            payload(alert, self.channel, self.username),
            proxy=self.proxy,
            token=self.token,
            timeout=self.timeout,
            session=self.session,
        )


@plugins.hookimpl
def flagger_notifier(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.Notifier | None:
    """The Rocket.Chat notifier for an AlertProvider of type ``rocket``."""
    return RocketNotifier.from_spec(spec) if provider_type == TYPE else None
