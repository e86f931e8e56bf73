"""Tick-by-tick behaviour of A/B testing, blue/green (with and without mirroring) and the
kubernetes provider, which forces blue/green with 10 iterations and ignores ``match``."""

from __future__ import annotations

import analysis_fixtures as fx  # type: ignore[import-not-found, unused-ignore]

from flagger.analysis import decision, observation
from flagger.api import status

Phase = status.CanaryPhase
MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]


def test_ab_testing_routes_matching_requests_for_each_iteration() -> None:
    world = fx.initialized(
        fx.make_canary(
            {
                "interval": "1m",
                "threshold": 2,
                "iterations": 3,
                "match": MATCH,
                "metrics": [fx.SUCCESS_RATE],
            }
        )
    )
    fx.new_revision(world)
    fx.step(world)
    first = fx.step(world)
    assert first.messages == [
        "Starting canary analysis for podinfo.test",
        "Advance podinfo.test canary iteration 1/3",
    ]
    assert first.routes == decision.SetRoutes(0, 100, False)
    assert world.status.iterations == 1
    assert fx.step(world).messages == ["Advance podinfo.test canary iteration 2/3"]
    assert fx.step(world).messages == ["Advance podinfo.test canary iteration 3/3"]
    assert fx.step(world).messages == ["Copying podinfo.test template spec to podinfo-primary.test"]
    assert fx.phase(world) is Phase.PROMOTING
    assert fx.step(world).messages == ["Routing all traffic to primary"]
    assert world.routes == observation.Routes(100, 0, False)
    assert fx.step(world).messages == ["Promotion completed! Scaling down podinfo.test"]
    outcomes = [a for _, a in world.history if isinstance(a, decision.RecordOutcome)]
    assert outcomes == [decision.RecordOutcome(True, "ab-testing")]


def test_blue_green_counts_iterations_then_switches_all_traffic() -> None:
    world = fx.initialized(fx.make_canary({"interval": "30s", "threshold": 2, "iterations": 2}))
    fx.new_revision(world)
    fx.step(world)
    assert fx.step(world).messages == [
        "Starting canary analysis for podinfo.test",
        "Advance podinfo.test canary iteration 1/2",
    ]
    assert world.routes == observation.Routes(100, 0, False)
    assert fx.step(world).messages == ["Advance podinfo.test canary iteration 2/2"]
    switch = fx.step(world)
    assert switch.messages == ["Routing all traffic to canary"]
    assert world.routes == observation.Routes(0, 100, False)
    assert world.status.iterations == 3
    assert fx.step(world).messages == ["Copying podinfo.test template spec to podinfo-primary.test"]
    assert fx.step(world).messages == ["Routing all traffic to primary"]
    assert fx.step(world).messages == ["Promotion completed! Scaling down podinfo.test"]
    # detection at 30s (after initialization), then one step per 30s interval
    assert world.history[-1][0] == 30 + 6 * 30


def test_blue_green_with_mirroring_mirrors_during_the_iterations() -> None:
    world = fx.initialized(
        fx.make_canary({"interval": "1m", "threshold": 2, "iterations": 2, "mirror": True})
    )
    fx.new_revision(world)
    fx.step(world)
    first = fx.step(world)
    assert first.routes == decision.SetRoutes(100, 0, True)
    logs = [a.message for a in first.actions if isinstance(a, decision.Log)]
    assert logs == ["Start traffic mirroring"]
    second = fx.step(world)
    assert second.routes is None  # already mirrored
    assert fx.step(world).messages == ["Stop traffic mirroring and route all traffic to canary"]
    assert world.routes == observation.Routes(0, 100, False)


def test_kubernetes_provider_forces_ten_iterations_without_traffic_shifting() -> None:
    world = fx.initialized(
        fx.make_canary(
            {"interval": "30s", "threshold": 2, "stepWeight": 10, "match": MATCH},
            provider="kubernetes",
        )
    )
    fx.new_revision(world)
    fx.step(world)
    first = fx.step(world)
    assert first.messages == [
        "Starting canary analysis for podinfo.test",
        "A/B testing is not supported when using the kubernetes provider",
        "Progressive traffic is not supported when using the kubernetes provider",
        "Setting canaryAnalysis.iterations: 10",
        "Advance podinfo.test canary iteration 1/10",
    ]
    seen = fx.run_until_done(world)
    advances = [m for m in seen if m.startswith("Advance")]
    assert advances[-1] == "Advance podinfo.test canary iteration 10/10"
    assert "Routing all traffic to canary" not in seen
    assert "Routing all traffic to primary" not in seen  # straight to Finalising
    assert seen[-1] == "Promotion completed! Scaling down podinfo.test"
    # no SetRoutes ever reaches the router: the kubernetes provider has none
    assert fx.phase(world) is Phase.SUCCEEDED


def test_blue_green_promotion_gate_oscillates_like_flagger() -> None:
    world = fx.initialized(
        fx.make_canary(
            {
                "interval": "1m",
                "threshold": 2,
                "iterations": 1,
                "webhooks": [fx.hook("approve", "confirm-promotion")],
            }
        )
    )
    world.webhooks = {"approve": [False]}
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)  # iteration 1/1
    held = fx.step(world)
    assert held.messages == ["Halt podinfo.test advancement waiting for promotion approval approve"]
    assert fx.phase(world) is Phase.WAITING_PROMOTION
    assert world.status.iterations == 0  # WaitingPromotion keeps iterations - 1
    for _ in range(4):
        fx.step(world)
        assert fx.phase(world) is Phase.WAITING_PROMOTION
    world.webhooks = {"approve": [True]}
    world.calls.clear()
    seen = fx.run_until_done(world)
    assert seen[-1] == "Promotion completed! Scaling down podinfo.test"
