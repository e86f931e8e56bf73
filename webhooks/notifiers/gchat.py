"""The ``gchat`` notifier: Flagger's card to a Google Chat incoming webhook.

The payload is Flagger's ``GChatPayload``: one card headed "Flagger" with ``name.namespace`` as
subtitle and Flagger's icon, a first section with the message in bold grey and one section per
field (the field's name, a line break, its value in bold grey)::

    {"cards": [{"header": {"title": "Flagger", "subtitle": "podinfo.test",
                           "imageUrl": "https://flagger.app/favicon.png"},
                "sections": [
                    {"widgets": [{"textParagraph": {
                        "text": "<font color=#848484><strong>...</strong></font>"}}]},
                    {"widgets": [{"textParagraph": {
                        "text": "Target<br><font color=#848484><strong>Deployment/podinfo.test"
                                "</strong></font>"}}]}]}]}

Severity does not change the card. The channel and user name are not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger import plugins
from flagger.alerting import delivery

__all__ = ["GChatNotifier", "flagger_notifier", "payload"]

TYPE = "gchat"
TITLE = "Flagger"
IMAGE_URL = "https://flagger.app/favicon.png"


def _paragraph(text: str) -> dict[str, Any]:
    return {"widgets": [{"textParagraph": {"text": text}}]}


def payload(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Flagger's Google Chat card for an alert."""
    sections = [_paragraph(f"<font color=#848484><strong>{alert['message']}</strong></font>")]
    sections += [
        _paragraph(f"{f['name']}<br><font color=#848484><strong>{f['value']}</strong></font>")
        for f in alert.get("fields") or []
    ]
    return {
        "cards": [
            {
                "header": {
                    "title": TITLE,
                    "subtitle": f"{alert['name']}.{alert['namespace']}",
                    "imageUrl": IMAGE_URL,
                },
                "sections": sections,
            }
        ]
    }


class GChatNotifier(delivery.WebhookNotifier):
    """Posts alerts to one Google Chat incoming webhook."""

    service = "Google Chat webhook"

    def payload(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        return payload(alert)


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``gchat`` alert provider type."""
    registry.notifier(TYPE, flagger_notifier)


def flagger_notifier(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.Notifier | None:
    """The Google Chat notifier for an AlertProvider of type ``gchat``."""
    return GChatNotifier.from_spec(spec) if provider_type == TYPE else None
