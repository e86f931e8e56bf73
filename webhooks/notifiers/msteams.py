"""The ``msteams`` notifier: Flagger's MessageCard to a Microsoft Teams incoming webhook.

The payload is Flagger's ``MSTeamsPayload``, an Office 365 connector card::

    {"@type": "MessageCard", "@context": "http://schema.org/extensions",
     "themeColor": "0076D7", "summary": "podinfo.test",
     "sections": [{"activityTitle": "New revision detected, progressing canary analysis.",
                   "activitySubtitle": "podinfo.test",
                   "facts": [{"name": "Target", "value": "Deployment/podinfo.test"}]}]}

The theme is blue (``0076D7``), red (``FF0000``) for error alerts. Teams ignores the channel and
user name (a webhook belongs to one channel).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger import plugins
from flagger.alerting import delivery

__all__ = ["MSTeamsNotifier", "flagger_notifier", "payload"]

TYPE = "msteams"
BLUE, RED = "0076D7", "FF0000"


def payload(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Flagger's MessageCard for an alert."""
    subject = f"{alert['name']}.{alert['namespace']}"
    return {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": RED if alert.get("severity") == "error" else BLUE,
        "summary": subject,
        "sections": [
            {
                "activityTitle": alert["message"],
                "activitySubtitle": subject,
                "facts": [
                    {"name": str(f["name"]), "value": str(f["value"])}
                    for f in alert.get("fields") or []
                ],
            }
        ],
    }


class MSTeamsNotifier(delivery.WebhookNotifier):
    """Posts alerts to one Teams incoming webhook."""

    service = "MS Teams webhook"

    def payload(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        return payload(alert)


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``msteams`` alert provider type."""
    registry.notifier(TYPE, flagger_notifier)


def flagger_notifier(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.Notifier | None:
    """The Teams notifier for an AlertProvider of type ``msteams``."""
    return MSTeamsNotifier.from_spec(spec) if provider_type == TYPE else None
