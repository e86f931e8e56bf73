"""Sending Flagger's events to webhooks: a Canary's ``event`` hooks, else ``-event-webhook``.

Every event Flagger records (``Advance podinfo.test canary weight 10``, ...) is also POSTed to
the event webhooks with the metadata keys ``eventMessage``, ``eventType`` and ``timestamp``
(:func:`flagger.hooks.payloads.event_payload`). A Canary with at least one hook of type
``event`` sends to those hooks only; the global ``-event-webhook`` URL is used for canaries
without one. A failure is logged (``error sending event to webhook: ...``) and never affects
the analysis.

:class:`EventForwarder` is the callback :class:`flagger.observability.events.EventRecorder`
takes as ``on_event``.
"""

from __future__ import annotations

import aiohttp

from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.observability import logs

from . import calls

__all__ = ["EventForwarder", "event_hooks"]

#: The name Flagger gives the hook built from ``-event-webhook``.
GLOBAL_HOOK_NAME = "events"

log = logs.get_logger(__name__)


def event_hooks(
    canary: canary_api.Canary, global_url: str | None = None
) -> list[analysis_api.CanaryWebhook]:
    """The hooks an event of ``canary`` goes to: its ``event`` hooks, else the global URL."""
    analysis = canary.spec.effective_analysis
    own = [
        hook
        for hook in (analysis.effective_webhooks if analysis is not None else [])
        if hook.effective_type == "event"
    ]
    if own:
        return own
    if global_url:
        return [analysis_api.CanaryWebhook(name=GLOBAL_HOOK_NAME, url=global_url)]
    return []


class EventForwarder:
    """Posts each event to the canary's event hooks (or the global ``-event-webhook``)."""

    def __init__(
        self,
        global_url: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        policy: calls.CallPolicy = calls.DEFAULT_POLICY,
    ) -> None:
        self.global_url = global_url or None
        self.session = session
        self.policy = policy

    async def __call__(
        self, canary: canary_api.Canary, message: str, event_type: str
    ) -> list[calls.HookResult]:
        """Send one event; returns one result per hook called, failures already logged."""
        results: list[calls.HookResult] = []
        for hook in event_hooks(canary, self.global_url):
            result = await calls.call_event(
                hook, canary, message, event_type, session=self.session, policy=self.policy
            )
            if not result.ok:
                log.error("error sending event to webhook: %s", result.message, canary=canary)
            results.append(result)
        return results
