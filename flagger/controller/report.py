"""What a tick writes back: the ``Configured=False`` condition with its Warning event for a
user-fixable problem, and the parts of the status the engine's decision does not carry
(session cookies, ``lastCheckTime``)."""

from __future__ import annotations

import datetime
from typing import Any

from flagger.analysis import decision
from flagger.analysis import status_editor as status_edit
from flagger.api import canary as canary_api
from flagger.controller import shell as shell_api
from flagger.controller import status_writer

CONFIGURED = "Configured"


def check_stamp(now: datetime.datetime) -> str:
    """``status.lastCheckTime`` for a check at ``now``: rounded up to the second, so the next
    check is never due early."""
    whole = now.replace(microsecond=0)
    return status_edit.timestamp(whole if whole == now else whole + datetime.timedelta(seconds=1))


async def problem(shell: shell_api.Shell, raw: dict[str, Any], reason: str, message: str) -> None:
    """A user-fixable problem: Warning event, error log, ``Configured=False`` condition."""
    # The object may not parse: a stand-in with its metadata is enough to record the event.
    stand_in = canary_api.Canary.model_construct(
        metadata=dict(raw.get("metadata") or {}),
        spec=canary_api.CanarySpec.model_construct(analysis=None, canary_analysis=None),
        status=None,
    )
    shell.recorder.record_error(stand_in, message)
    fresh = await shell.kube.get(shell_api.API_VERSION, "Canary", stand_in.name, stand_in.namespace)
    if fresh is None:
        return
    stored = fresh.get("status")
    status = dict(stored) if isinstance(stored, dict) else {}
    # the status may be as broken as the spec (the problem may be in it): keep what is readable
    listed = status.get("conditions")
    readable = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
    conditions = [c for c in readable if c.get("type") != CONFIGURED]
    stamp = status_edit.timestamp(datetime.datetime.now(datetime.UTC))
    previous = next((c for c in readable if c.get("type") == CONFIGURED), None)
    if previous and previous.get("message") == message and previous.get("reason") == reason:
        return
    conditions.append(
        {
            "type": CONFIGURED,
            "status": "False",
            "reason": reason,
            "message": message,
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
        }
    )
    status["conditions"] = conditions
    await status_writer.write(shell.kube, stand_in.name, stand_in.namespace, status)


COOKIE_FIELDS = (
    "sessionAffinityCookie",
    "primarySessionAffinityCookie",
    "previousSessionAffinityCookie",
)


def cookies(canary: canary_api.Canary, outcome: decision.Decision) -> dict[str, Any]:
    """Session-affinity cookies a router recorded on the canary's status while routing
    (the Istio router does), which the decision's status does not know about."""
    if canary.status is None:
        return {}
    routed = canary.status.to_dict()
    decided = outcome.status.to_dict() if outcome.status is not None else {}
    return {k: routed[k] for k in COOKIE_FIELDS if k in routed and routed[k] != decided.get(k)}


def without_configured(status: dict[str, Any]) -> dict[str, Any] | None:
    """The status without a ``Configured`` condition, or None when it had none."""
    conditions = status.get("conditions") or []
    if not any(c.get("type") == CONFIGURED for c in conditions):
        return None
    return {**status, "conditions": [c for c in conditions if c.get("type") != CONFIGURED]}
