"""Idempotency keys: equal exactly when a call repeats the same step.

Matrix: the same step read twice (a retry after a crash) -> same key; each field that a completed
step changes (weight, iterations, failed checks, phase, revision, transition time) -> a new
key; two hooks of one step, two canaries with the same name (different uid) -> different keys;
a rollout of 5 steps x 2 hooks -> 10 distinct keys; every attempt of one call carries its key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.hooks import calls, idempotency
from tests.unit.hooks.conftest import Receiver

MakeCanary = Callable[..., canary_api.Canary]
STEP = {
    "phase": "Progressing",
    "canaryWeight": 10,
    "iterations": 0,
    "failedChecks": 0,
    "lastAppliedSpec": "5f7c8b9d4",
    "lastTransitionTime": "2026-12-03T10:00:00Z",
}


def _hook(name: str = "load-test", kind: str = "rollout") -> analysis_api.CanaryWebhook:
    return analysis_api.CanaryWebhook.model_validate(
        {"name": name, "type": kind, "url": "http://flagger-loadtester.test/"}
    )


def _canary(make_canary: MakeCanary, uid: str = "uid-1", **status: Any) -> canary_api.Canary:
    canary = make_canary(status={**STEP, **status})
    return canary.model_copy(update={"metadata": {**canary.metadata, "uid": uid}})


def test_a_retried_step_sends_the_same_key(make_canary: MakeCanary) -> None:
    first = idempotency.hook_key(_canary(make_canary), _hook(), "Progressing")
    again = idempotency.hook_key(_canary(make_canary), _hook(), "Progressing")
    assert first == again and len(first) == 32


def test_every_step_change_gives_a_new_key(make_canary: MakeCanary) -> None:
    base = idempotency.hook_key(_canary(make_canary), _hook(), "Progressing")
    changed = [
        idempotency.hook_key(_canary(make_canary, **change), _hook(), "Progressing")
        for change in (
            {"canaryWeight": 20},
            {"iterations": 1},
            {"failedChecks": 1},
            {"lastAppliedSpec": "6d8f"},
            {"trackedConfigs": {"configmap/podinfo": "x"}},
            {"lastTransitionTime": "2026-12-03T10:01:00Z"},
        )
    ]
    changed.append(idempotency.hook_key(_canary(make_canary), _hook(), "Succeeded"))
    changed.append(idempotency.hook_key(_canary(make_canary), _hook("other"), "Progressing"))
    changed.append(idempotency.hook_key(_canary(make_canary), _hook(kind="pre-rollout"), "P"))
    changed.append(idempotency.hook_key(_canary(make_canary, "uid-2"), _hook(), "Progressing"))
    assert len({base, *changed}) == len(changed) + 1


def test_a_rollout_has_one_key_per_step_and_hook(make_canary: MakeCanary) -> None:
    keys = [
        idempotency.hook_key(
            _canary(make_canary, canaryWeight=weight, lastTransitionTime=f"t{weight}"),
            _hook(name),
            "Progressing",
        )
        for weight in (0, 10, 20, 30, 40)
        for name in ("load-test", "acceptance")
    ]
    assert len(set(keys)) == 10


def test_event_keys_follow_the_event(make_canary: MakeCanary) -> None:
    canary = _canary(make_canary)
    one = idempotency.event_key(canary, "Advance podinfo.test canary weight 10", "Normal")
    assert one == idempotency.event_key(canary, "Advance podinfo.test canary weight 10", "Normal")
    assert one != idempotency.event_key(canary, "Advance podinfo.test canary weight 20", "Normal")


async def test_every_attempt_carries_the_key(receiver: Receiver, make_canary: MakeCanary) -> None:
    receiver.answer({"status": 500}, {"status": 200})
    canary = _canary(make_canary)
    hook = analysis_api.CanaryWebhook.model_validate(
        {"name": "load-test", "url": f"{receiver.url}/", "retries": 1}
    )
    result = await calls.call(
        hook, canary, "Progressing", policy=calls.CallPolicy(wait_min=0.01, wait_max=0.02)
    )
    assert result.ok and result.attempts == 2
    keys = {r.headers["Idempotency-Key"] for r in receiver.received}
    assert keys == {idempotency.hook_key(canary, hook, "Progressing")}
