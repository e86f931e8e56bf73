"""Invariants of the state machine over generated specs and observation sequences.

Specs cover the three strategies (canary with stepWeight or stepWeights, A/B, blue/green), with
or without mirroring, on the istio and kubernetes providers, with any mix of webhooks. Each tick
draws the world's answers at random (metric values, webhook results, readiness, occasionally a
new revision). After every tick:

- every routing change and the router's state split exactly 100 between primary and canary;
- the canary never gets more than ``maxWeight`` (plus, as in Flagger, less than one step beyond
  it when ``stepWeight`` does not divide ``maxWeight``) while the analysis runs;
- ``failedChecks`` never exceeds the threshold: reaching it rolls back;
- a promoted canary (Succeeded) stays promoted until the revision changes;
- with fixed answers (the same metric value every tick, gates open) every run ends in Succeeded
  or Failed within a bounded number of ticks, with all traffic back on the primary.
"""

from __future__ import annotations

from typing import Any

import analysis_fixtures as fx  # type: ignore[import-not-found, unused-ignore]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flagger import simulation
from flagger.analysis import checks, decision, observation, weights
from flagger.api import analysis, status

Phase = status.CanaryPhase
HOOK_TYPES = (
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "rollback",
    "post-rollout",
)
GATES = ("confirm-rollout", "confirm-traffic-increase", "confirm-promotion")


@st.composite
def analyses(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": draw(st.sampled_from(["10s", "30s", "1m", "5m"])),
        "threshold": draw(st.integers(1, 5)),
        "metrics": [fx.SUCCESS_RATE, fx.DURATION],
    }
    strategy = draw(st.sampled_from(["stepWeight", "stepWeights", "ab", "bluegreen"]))
    if strategy == "stepWeight":
        spec["stepWeight"] = draw(st.integers(1, 100))
        if draw(st.booleans()):
            spec["maxWeight"] = draw(st.integers(1, 100))
    elif strategy == "stepWeights":
        spec["stepWeights"] = sorted(draw(st.sets(st.integers(1, 100), min_size=1, max_size=6)))
    else:
        spec["iterations"] = draw(st.integers(1, 6))
        if strategy == "ab":
            spec["match"] = [{"headers": {"x-canary": {"exact": "yes"}}}]
    if draw(st.booleans()):
        spec["mirror"] = True
    if draw(st.booleans()):
        spec["stepWeightPromotion"] = draw(st.integers(0, 100))
    kinds = draw(st.lists(st.sampled_from(HOOK_TYPES), unique=True, max_size=4))
    spec["webhooks"] = [fx.hook(f"{kind}-hook", kind) for kind in kinds]
    return spec


@st.composite
def canaries(draw: st.DrawFn) -> Any:
    return fx.make_canary(
        draw(analyses()),
        provider=draw(st.sampled_from(["istio", "kubernetes"])),
        autoscaler=draw(st.booleans()),
        skipAnalysis=draw(st.sampled_from([False, False, False, True])),
    )


OUTCOMES: list[checks.MetricOutcome] = [
    checks.MetricValue(100),
    checks.MetricValue(50),
    checks.NoValues(),
]


def outcome(data: st.DataObject) -> dict[str, list[checks.MetricOutcome]]:
    return {"request-success-rate": [data.draw(st.sampled_from(OUTCOMES))]}


def step_limit(spec: analysis.CanaryAnalysis) -> int:
    """The canary weight may pass maxWeight by less than one step, as in Flagger."""
    top = weights.max_weight(spec)
    if spec.step_weight:
        return min(100, top + spec.step_weight - 1)
    return top


def check_routes(result: decision.Decision, world: simulation.World) -> None:
    for action in result.actions:
        if isinstance(action, decision.SetRoutes):
            assert action.primary + action.canary == 100
            assert 0 <= action.canary <= 100
    routes = world.observe().routes
    assert routes.primary + routes.canary == 100


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(canaries(), st.data())
def test_invariants_hold_tick_after_tick(canary: Any, data: st.DataObject) -> None:
    world = fx.initialized(canary)
    spec = canary.spec.effective_analysis
    threshold = spec.effective_threshold
    limit = step_limit(spec)
    revision = 2
    fx.new_revision(world, f"rev-{revision}")
    promoted_revision: str | None = None
    for _ in range(60):
        world.metrics = outcome(data)
        world.webhooks = {h.name: [data.draw(st.booleans())] for h in spec.effective_webhooks}
        world.calls.clear()
        world.canary_readiness = data.draw(
            st.sampled_from([observation.Readiness.ok()] * 6 + [observation.Readiness.waiting("w")])
        )
        if data.draw(st.integers(0, 30)) == 0:
            revision += 1
            fx.new_revision(world, f"rev-{revision}")
        before = world.phase
        result = fx.step(world)
        check_routes(result, world)

        failed_checks = world.status.failed_checks or 0
        assert failed_checks <= threshold, result.messages
        if world.phase in (Phase.PROGRESSING, Phase.WAITING_PROMOTION) and (
            canary.spec.provider != "kubernetes" and not spec.iterations
        ):
            assert world.routes.canary <= limit, (world.routes, result.messages)

        if before is Phase.SUCCEEDED and world.revision.spec_hash == promoted_revision:
            assert world.phase is Phase.SUCCEEDED, result.messages
        if world.phase is Phase.SUCCEEDED:
            # the analysed revision is the promoted one (a change during promotion waits)
            promoted_revision = world.status.last_promoted_spec
            assert promoted_revision == world.status.last_applied_spec


def answer(kind: str, hooks_pass: bool) -> bool:
    """Gates open, the rollback hook silent, the other hooks all passing or all failing."""
    if kind in GATES:
        return True
    if kind == "rollback":
        return False
    return hooks_pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(canaries(), st.sampled_from([100.0, 50.0]), st.booleans())
def test_every_run_ends_when_answers_do_not_change(
    canary: Any, success_rate: float, hooks_pass: bool
) -> None:
    world = fx.initialized(canary)
    spec = canary.spec.effective_analysis
    world.metrics = {"request-success-rate": [checks.MetricValue(success_rate)]}
    world.webhooks = {
        h.name: [answer(h.effective_type, hooks_pass)] for h in spec.effective_webhooks
    }
    fx.new_revision(world)
    steps = (
        100 // max(spec.step_weight or 1, 1) + (spec.iterations or 10) + spec.effective_threshold
    )
    bound = steps + 110
    fx.run_until_done(world, limit=bound)
    assert world.phase in (Phase.SUCCEEDED, Phase.FAILED)
    assert world.observe().routes == observation.Routes(100, 0, False)
    if world.phase is Phase.FAILED:
        assert not canary.spec.skip_analysis
        assert success_rate < 99 or not hooks_pass
    elif not canary.spec.skip_analysis:
        assert success_rate >= 99 or not spec.metrics
