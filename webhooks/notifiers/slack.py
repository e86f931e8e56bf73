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
from typing import Any, ClassVar

from flagger import plugins
from flagger.alerting import delivery
from flagger.alerting.delivery import DeliveryError

__all__ = ["ChatNotifier", "SlackNotifier", "flagger_notifier", "payload"]

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


class ChatNotifier(delivery.WebhookNotifier):
    """A notifier posting a Slack-style message to a channel as a user (Slack, Discord,
    Rocket.Chat); Flagger refuses an empty channel or user name."""

    #: The service as Flagger's ``empty <service> channel`` error names it.
    chat: ClassVar[str] = "Slack"

    def __init__(self, url: str, *, channel: str, username: str, **options: Any) -> None:
        super().__init__(url, **options)
        check_names(self.chat, username, channel)
        self.channel, self.username = channel, username

    @classmethod
    def spec_options(cls, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The AlertProvider's ``channel`` and ``username``."""
        return {
            "channel": str(spec.get("channel") or ""),
            "username": str(spec.get("username") or ""),
        }

    def payload(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        return payload(alert, self.channel, self.username)


class SlackNotifier(ChatNotifier):
    """Posts alerts to one Slack webhook (or the Web API with a bot token)."""

    service = "Slack hook"

    async def post(self, alert: Mapping[str, Any]) -> None:
        _check_api_answer(await self.send(alert))


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
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``slack`` alert provider type."""
    registry.notifier(TYPE, flagger_notifier)


def flagger_notifier(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.Notifier | None:
    """The Slack notifier for an AlertProvider of type ``slack``."""
    return SlackNotifier.from_spec(spec) if provider_type == TYPE else None
