"""What a webhook's result means for the analysis, by hook type (Flagger's rules).

The analysis decides; this module only says what a :class:`~flagger.hooks.calls.HookResult`
means for each of the eight hook types and which message Flagger records for it::

    type                      passed (status <= 202)        failed
    confirm-rollout           proceed                       WAIT (phase Waiting, retry next tick)
    pre-rollout               proceed                       COUNT_FAILED_CHECK
    rollout (or no type)      proceed                       COUNT_FAILED_CHECK
    confirm-traffic-increase  proceed                       HOLD_WEIGHT (retry next tick)
    confirm-promotion         proceed                       WAIT_PROMOTION
    post-rollout              proceed                       LOG_ONLY
    rollback                  ROLL_BACK (reversed!)         proceed
    event                     proceed                       LOG_ONLY

The messages are Flagger's, word for word (``reference/flagger.md`` §11), with the canary as
``name.namespace``; :func:`describe` also says whether Flagger records them as a Normal or a
Warning event.
"""

from __future__ import annotations

import dataclasses
import enum

from flagger.api import canary as canary_api

from . import calls

__all__ = ["Described", "Verdict", "describe", "verdict"]

NORMAL = "Normal"
WARNING = "Warning"


class Verdict(enum.Enum):
    """What the analysis should do after a hook answered."""

    #: Carry on as if the hook were not there.
    PROCEED = "proceed"
    #: confirm-rollout refused: set the phase to Waiting and ask again next tick.
    WAIT = "wait"
    #: pre-rollout or rollout failed: add one to ``failedChecks`` and end the tick.
    COUNT_FAILED_CHECK = "count-failed-check"
    #: confirm-traffic-increase refused: keep the current weight this tick.
    HOLD_WEIGHT = "hold-weight"
    #: confirm-promotion refused: set the phase to WaitingPromotion.
    WAIT_PROMOTION = "wait-promotion"
    #: post-rollout or event hook failed: record it, change nothing.
    LOG_ONLY = "log-only"
    #: rollback hook answered <= 202: roll the canary back now.
    ROLL_BACK = "roll-back"


_ON_FAILURE = {
    "confirm-rollout": Verdict.WAIT,
    "pre-rollout": Verdict.COUNT_FAILED_CHECK,
    "rollout": Verdict.COUNT_FAILED_CHECK,
    "confirm-traffic-increase": Verdict.HOLD_WEIGHT,
    "confirm-promotion": Verdict.WAIT_PROMOTION,
    "post-rollout": Verdict.LOG_ONLY,
    "event": Verdict.LOG_ONLY,
    "rollback": Verdict.PROCEED,
}


def _normalise(hook_type: str | None) -> str:
    """An empty or missing hook type is a rollout hook, as in Flagger."""
    return hook_type or "rollout"


def verdict(hook_type: str | None, result: calls.HookResult) -> Verdict:
    """The meaning of ``result`` for a hook of ``hook_type``.

    Raises :class:`ValueError` for an unknown hook type.
    """
    kind = _normalise(hook_type)
    if kind not in _ON_FAILURE:
        raise ValueError(f"unknown webhook type {kind!r}; expected one of {sorted(_ON_FAILURE)}")
    if kind == "rollback":
        return Verdict.ROLL_BACK if result.ok else Verdict.PROCEED
    return Verdict.PROCEED if result.ok else _ON_FAILURE[kind]


@dataclasses.dataclass(frozen=True)
class Described:
    """The event Flagger records for a hook result: its text and type (Normal or Warning)."""

    message: str
    event_type: str


def describe(
    hook_type: str | None, hook_name: str, canary: canary_api.Canary, result: calls.HookResult
) -> Described:
    """Flagger's event message for ``result`` of hook ``hook_name`` of ``hook_type``.

    confirm-rollout and confirm-promotion failures are the "waiting for approval" messages;
    Flagger records them once when the phase changes, which is the caller's concern.
    """
    kind = _normalise(hook_type)
    target = f"{canary.name}.{canary.namespace}"
    passed = {
        "confirm-rollout": f"Confirm-rollout check {hook_name} passed",
        "pre-rollout": f"Pre-rollout check {hook_name} passed",
        "rollout": "",
        "confirm-traffic-increase": f"Confirm-traffic-increase check {hook_name} passed",
        "confirm-promotion": f"Confirm-promotion check {hook_name} passed",
        "post-rollout": f"Post-rollout check {hook_name} passed",
        "rollback": f"Rollback check {hook_name} passed",
        "event": "",
    }
    failed = {
        "confirm-rollout": f"Halt {target} advancement waiting for approval {hook_name}",
        "pre-rollout": f"Halt {target} advancement pre-rollout check {hook_name} failed {result}",
        "rollout": f"Halt {target} advancement external check {hook_name} failed {result}",
        "confirm-traffic-increase": (
            f"Halt {target} advancement waiting for traffic increase approval {hook_name}"
        ),
        "confirm-promotion": (
            f"Halt {target} advancement waiting for promotion approval {hook_name}"
        ),
        "post-rollout": f"Post-rollout hook {hook_name} failed {result}",
        "rollback": f"Rollback hook {hook_name} not signaling a rollback",
        "event": f"error sending event to webhook: {result}",
    }
    if kind not in passed:
        raise ValueError(f"unknown webhook type {kind!r}; expected one of {sorted(passed)}")
    if kind == "rollback":
        # Reversed: a passing rollback hook is the Warning.
        return Described(passed[kind], WARNING) if result.ok else Described(failed[kind], NORMAL)
    if result.ok:
        return Described(passed[kind], NORMAL)
    return Described(failed[kind], WARNING)
