"""Replica-based weights with the kubernetes provider: the split and the decisions.

The matrix: ``ceil(N * w / 100)`` canary replicas with the primary keeping at least one; the
annotation's value; a tick-by-tick rollout (no scale-from-zero, each advance scales by
``SetRoutes`` and says the share it achieved, all replicas back on the primary before the
promotion, rollback restores the primary); without the annotation the kubernetes provider stays
blue/green as in Flagger; and ``flagger validate``'s note and errors.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagger.analysis import checks, decision
from flagger.api import canary as canary_api
from flagger.api import replica_weights, status, validation
from tests.unit.analysis import analysis_fixtures as fx

Phase = status.CanaryPhase


@pytest.mark.parametrize(
    ("total", "weight", "primary", "canary"),
    [
        (4, 0, 4, 0),
        (4, 10, 3, 1),
        (4, 25, 3, 1),
        (4, 50, 2, 2),
        (4, 100, 1, 3),
        (10, 5, 9, 1),
        (10, 33, 6, 4),
        (1, 50, 1, 0),
        (0, 50, 0, 0),
    ],
)
def test_split(total: int, weight: int, primary: int, canary: int) -> None:
    assert replica_weights.split(total, weight) == replica_weights.Split(primary, canary)


def test_label_annotation() -> None:
    meta = {"annotations": {replica_weights.ANNOTATION: "app.kubernetes.io/name"}}
    assert replica_weights.split_label(meta) == "app.kubernetes.io/name"
    assert replica_weights.split_label({}) is None
    with pytest.raises(ValueError, match="is not a label key"):
        replica_weights.split_label({"annotations": {replica_weights.ANNOTATION: "a b"}})


def _canary(annotated: bool = True, **analysis: Any) -> canary_api.Canary:
    body = {"interval": "1m", "threshold": 1, "stepWeights": [10, 50], "metrics": [fx.SUCCESS_RATE]}
    canary = fx.make_canary({**body, **analysis}, provider="kubernetes")
    if not annotated:
        return canary
    meta = {
        **canary.metadata,
        "annotations": {replica_weights.ANNOTATION: "app.kubernetes.io/name"},
    }
    return canary.model_copy(update={"metadata": meta})


def _events(result: decision.Decision) -> list[str]:
    return [a.message for a in result.actions if isinstance(a, decision.Event)]


def test_rollout_by_replicas() -> None:
    world = fx.initialized(_canary(), replicas=4)
    fx.new_revision(world)
    first = world.tick()
    assert decision.ScaleFromZero() not in first.actions  # the first step scales the canary
    world.advance_clock()
    step = world.tick()
    assert decision.SetRoutes(90, 10, False) in step.actions
    assert _events(step)[-2:] == [
        "Advance podinfo.test canary weight 10",
        "Traffic split by replicas for podinfo.test: 1 canary and 3 primary replicas behind the "
        "apex Service, 25% to the canary (weight 10%)",
    ]
    world.advance_clock()
    step = world.tick()
    assert decision.SetRoutes(50, 50, False) in step.actions
    assert (
        "2 canary and 2 primary replicas behind the apex Service, 50% to the canary"
        in (_events(step)[-1])
    )
    world.advance_clock()
    promoting = world.tick()
    routes = [a for a in promoting.actions if isinstance(a, (decision.SetRoutes, decision.Promote))]
    assert routes == [decision.SetRoutes(100, 0, False), decision.Promote()]
    for _ in range(3):
        world.advance_clock()
        world.tick()
    assert world.phase is Phase.SUCCEEDED


def test_failed_analysis_gives_the_replicas_back_to_the_primary() -> None:
    world = fx.initialized(
        _canary(), replicas=4, metrics={"request-success-rate": [checks.MetricValue(50)]}
    )
    fx.new_revision(world)
    for _ in range(6):
        result = world.tick()
        if world.phase is Phase.FAILED:
            break
        world.advance_clock()
    assert world.phase is Phase.FAILED
    assert decision.SetRoutes(100, 0, False) in result.actions  # the router restores N
    assert decision.ScaleToZero() in result.actions


def test_without_the_annotation_kubernetes_stays_blue_green() -> None:
    world = fx.initialized(_canary(annotated=False))
    fx.new_revision(world)
    world.tick()
    world.advance_clock()
    texts = _events(world.tick())
    assert "Advance podinfo.test canary iteration 1/10" in texts
    assert not any("split by replicas" in t for t in texts)


def _doc(provider: str = "kubernetes", **extra: Any) -> dict[str, Any]:
    canary = _canary()
    doc = canary.to_dict()
    doc["spec"]["provider"] = provider
    doc["spec"].update(extra)
    return doc


def test_validate() -> None:
    found = validation.validate(_doc())
    assert [(p.path, p.severity) for p in found] == [(replica_weights.PATH, "note")]
    assert "ceil(N * weight / 100)" in found[0].message
    wrong = validation.validate(_doc("istio"))
    assert [p.severity for p in wrong] == ["error"]
    assert "set spec.provider: kubernetes" in wrong[0].message
    scaler = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "p"}
    assert [p.severity for p in validation.validate(_doc(autoscalerRef=scaler))] == ["error"]
