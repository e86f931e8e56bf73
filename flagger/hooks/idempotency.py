"""Idempotency keys of webhook calls: the same key exactly when a call repeats the same step.

Webhook delivery is **at-least-once**: the daemon records a step's outcome in the Canary's
status only after the step's hooks answered, so a daemon killed mid-step (or a leader handover)
runs the step again and calls its hooks again. Every call therefore carries a key, sent as the
``Idempotency-Key`` header and as the ``idempotencyKey`` key of the payload's ``metadata``, that
a receiver can use to make the effect exactly-once (the loadtester does, for ``cmd`` tasks).

The key is a hash of what identifies the step in the persisted status, and nothing else::

    canary uid (name.namespace without one), revision checksum (lastAppliedSpec and
    trackedConfigs), the payload's phase, canaryWeight, iterations, failedChecks,
    lastTransitionTime, lastCheckTime, the hook's type and name (event hooks: the event's type
    and message)

A retried step reads the same status, so it sends the same key; any step the daemon completed
changed at least one of those fields (a new weight, iteration, failed check or phase; a held
step still writes a new lastCheckTime), so the next step sends a new key. Two hooks of one step
differ by name. The clock at the call, attempts and the daemon instance are deliberately left
out.
"""

from __future__ import annotations

import hashlib
import json

from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api

from . import payloads

__all__ = ["HEADER", "METADATA_KEY", "event_key", "hook_key"]

#: The HTTP header carrying the key (the IETF draft's name, as Stripe and others use it).
HEADER = "Idempotency-Key"
#: The key of the payload's ``metadata`` carrying the same value.
METADATA_KEY = "idempotencyKey"


def _step(canary: canary_api.Canary, phase: str) -> list[object]:
    status = canary.status
    uid = str(canary.metadata.get("uid") or f"{canary.name}.{canary.namespace}")
    return [
        uid,
        payloads.checksum(canary),
        phase,
        (status.canary_weight or 0) if status else 0,
        (status.iterations or 0) if status else 0,
        (status.failed_checks or 0) if status else 0,
        (status.last_transition_time or "") if status else "",
        # the previous check's time: a held step (status otherwise unchanged) is a new call on
        # each check, and a retry after a crash (status not yet written) repeats the key
        (status.last_check_time or "") if status else "",
    ]


def _digest(parts: list[object]) -> str:
    canonical = json.dumps(parts, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def hook_key(canary: canary_api.Canary, hook: analysis_api.CanaryWebhook, phase: str) -> str:
    """The key of a call of ``hook`` in ``phase`` for ``canary`` as its status stands."""
    return _digest([*_step(canary, phase), hook.effective_type, hook.name])


def event_key(canary: canary_api.Canary, message: str, event_type: str) -> str:
    """The key of an event sent to an event hook: the step, the event's type and message."""
    phase = payloads.phase_of(canary)
    return _digest([*_step(canary, phase), "event", event_type, message])
