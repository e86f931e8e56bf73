"""The ``slack`` notifier: Flagger's Slack message, to an incoming webhook or the Web API.

The payload is Flagger's ``SlackPayload``: the channel, the user name, the ``:rocket:`` icon and
one attachment, green (``good``) or red (``danger``, for error alerts), whose author is
``name.namespace``, whose text is the message (Slack markdown) and whose fields are Flagger's
(Cluster, Target, Failed checks threshold, ...), none of them short::

    {"channel": "general", "username": "flagger", "icon_url": "", "icon_emoji": ":rocket:",
     "attachments": [{"color": "good", "author_name": "podinfo.test",
                      "text": "New revision detected, progressing canary analysis.",
                      "mrkdwn_in": ["text"],
                      "fields": [{"title": "Cluster", "value": "prod", "short": false}]}]}

An AlertProvider's ``address`` is usually an incoming-webhook URL. With a ``token`` (the
``token`` key of its Secret, or ``-slack-token`` for the global notifier) the token is sent as
``Authorization: Bearer``, which is how Slack's ``chat.postMessage`` API authenticates a bot;
that API answers 200 even when it refuses a message, so a ``{"ok": false}`` answer is reported
as a failure (``rejected``) here, where Flagger would count it as sent.

The Discord and Rocket.Chat notifiers reuse :func:`payload` with their own colours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from flagger import plugins
from flagger.alerting import delivery
from flagger.alerting.delivery import DeliveryError

__all__ = ["SlackNotifier", "flagger_notifier", "payload"]

TYPE = "slack"
ICON = ":rocket:"
GOOD, DANGER = "good", "danger"


def payload(
    alert: Mapping[str, Any], channel: str, username: str, good: str = GOOD, danger: str = DANGER
) -> dict[str, Any]:
    """Flagger's ``SlackPayload`` for an alert (``danger`` colour for error alerts)."""
    fields = [
        {"title": str(f["name"]), "value": str(f["value"]), "short": False}
        for f in alert.get("fields") or []
    ]
    return {
        "channel": channel,
        "username": username,
        "icon_url": "",
        "icon_emoji": ICON,
        "attachments": [
            {
                "color": danger if alert.get("severity") == "error" else good,
                "author_name": f"{alert['name']}.{alert['namespace']}",
                "text": alert["message"],
                "mrkdwn_in": ["text"],
                "fields": fields,
            }
        ],
    }


def check_names(service: str, username: str, channel: str) -> None:
    """Flagger refuses an empty user name or channel (``empty Slack channel``)."""
    if not username:
        raise DeliveryError(delivery.PROVIDER_ERROR, f"empty {service} username")
    if not channel:
        raise DeliveryError(delivery.PROVIDER_ERROR, f"empty {service} channel")


class SlackNotifier:
    """Posts alerts to one Slack webhook (or the Web API with a bot token)."""

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
        self.url = delivery.check_url(url, "Slack hook")
        check_names("Slack", username, channel)
        self.channel, self.username = channel, username
        self.proxy, self.token = proxy, token
        self.timeout, self.session = timeout, session

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> SlackNotifier:
        return cls(
            str(spec.get("address") or ""),
            channel=str(spec.get("channel") or ""),
            username=str(spec.get("username") or ""),
            proxy=str(spec.get("proxy") or ""),
            token=str(spec.get("token") or ""),
        )

    async def post(self, alert: Mapping[str, Any]) -> None:
        body = await delivery.post_json(
            self.url,
            payload(alert, self.channel, self.username),
            proxy=self.proxy,
            token=self.token,
            timeout=self.timeout,
            session=self.session,
        )
        _check_api_answer(body)


def _check_api_answer(body: bytes) -> None:
    """Slack's Web API says ``{"ok": false, "error": "channel_not_found"}`` with a 200."""
    if not body.lstrip().startswith(b"{"):
        return  # an incoming webhook answers "ok"
    try:
        answer = json.loads(body)
    except ValueError:
        return
    if isinstance(answer, dict) and answer.get("ok") is False:
        error = str(answer.get("error", "unknown error"))
        raise DeliveryError(
            delivery.REJECTED,
            f"sending notification failed: {error}",
            retriable=error == "ratelimited",
        )


@plugins.hookimpl
def flagger_notifier(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.Notifier | None:
    """The Slack notifier for an AlertProvider of type ``slack``."""
    return SlackNotifier.from_spec(spec) if provider_type == TYPE else None
