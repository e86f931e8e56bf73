"""What a hook result means per hook type, and the message Flagger records for it.

Matrix: the eight hook types (and a missing type) x passed/failed; the reversed rollback hook.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flagger.api import canary as canary_api
from flagger.hooks import calls, outcomes

V = outcomes.Verdict


def result(ok: bool, message: str = "") -> calls.HookResult:
    return calls.HookResult(
        name="gate",
        url="http://127.0.0.1/",
        ok=ok,
        status=200 if ok else 403,
        body=message,
        message=message,
        attempts=1,
        seconds=0.0,
    )


@pytest.mark.parametrize(
    ("hook_type", "on_failure"),
    [
        ("confirm-rollout", V.WAIT),
        ("pre-rollout", V.COUNT_FAILED_CHECK),
        ("rollout", V.COUNT_FAILED_CHECK),
        (None, V.COUNT_FAILED_CHECK),
        ("", V.COUNT_FAILED_CHECK),
        ("confirm-traffic-increase", V.HOLD_WEIGHT),
        ("confirm-promotion", V.WAIT_PROMOTION),
        ("post-rollout", V.LOG_ONLY),
        ("event", V.LOG_ONLY),
    ],
)
def test_failure_meaning_and_pass_proceeds(hook_type: str | None, on_failure: V) -> None:
    assert outcomes.verdict(hook_type, result(False)) is on_failure
    assert outcomes.verdict(hook_type, result(True)) is V.PROCEED


def test_rollback_hook_is_reversed() -> None:
    assert outcomes.verdict("rollback", result(True)) is V.ROLL_BACK
    assert outcomes.verdict("rollback", result(False)) is V.PROCEED


def test_unknown_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown webhook type 'pre'"):
        outcomes.verdict("pre", result(True))


def test_messages_read_like_flaggers(make_canary: Callable[..., canary_api.Canary]) -> None:
    canary = make_canary()
    failed = result(False, "exit status 1")
    assert outcomes.describe("pre-rollout", "smoke", canary, failed) == outcomes.Described(
        "Halt podinfo.test advancement pre-rollout check smoke failed exit status 1", "Warning"
    )
    assert outcomes.describe("pre-rollout", "smoke", canary, result(True)) == outcomes.Described(
        "Pre-rollout check smoke passed", "Normal"
    )
    assert outcomes.describe(None, "load", canary, failed).message == (
        "Halt podinfo.test advancement external check load failed exit status 1"
    )
    assert outcomes.describe("confirm-promotion", "gate", canary, failed).message == (
        "Halt podinfo.test advancement waiting for promotion approval gate"
    )
    assert outcomes.describe("rollback", "gate", canary, result(True)) == outcomes.Described(
        "Rollback check gate passed", "Warning"
    )
