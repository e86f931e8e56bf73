"""Actions asked by hand (``flagger.app/action``), tick by tick, as the daemon decides them.

The matrix: promote one step (halted canary, WaitingPromotion gate, blue/green iterations,
Waiting gate), promote --full, abort (the failed-analysis path), retry after a failure, pause
and resume (weights kept, no checks run or counted), requests that make no sense in the phase
(a Warning event naming why), an unreadable annotation, and a request handled exactly once.
"""

from __future__ import annotations

import analysis_fixtures as fx  # type: ignore[import-not-found, unused-ignore]

from flagger import simulation
from flagger.analysis import checks, decision, manual, observation
from flagger.api import actions, status

Phase = status.CanaryPhase
Action = actions.Action


def ask(world: simulation.World, action: Action, ident: str, *, full: bool = False) -> None:
    request = actions.ActionRequest(action, ident, full=full, requested_by="alice")
    world.annotations[actions.ANNOTATION] = request.encode()


def progressing(canary_weight: int = 10, **spec: object) -> simulation.World:
    """A canary analysed up to ``canary_weight``."""
    world = fx.initialized(fx.make_canary(**spec))  # type: ignore[arg-type]
    fx.new_revision(world)
    while world.routes.canary < canary_weight:
        fx.step(world)
    assert world.phase is Phase.PROGRESSING
    return world


def test_promote_full_promotes_a_halted_canary_now_and_only_once() -> None:
    world = progressing(10)
    world.metrics["request-success-rate"] = [checks.MetricValue(50.0)]
    fx.step(world)
    assert world.status.failed_checks == 1

    ask(world, Action.PROMOTE, "r1", full=True)
    result = fx.step(world)
    assert result.messages == [
        "Promotion of podinfo.test requested by alice: skipping the remaining analysis",
        "Copying podinfo.test template spec to podinfo-primary.test",
    ]
    assert decision.Promote() in result.actions
    assert decision.Alert(result.messages[0], "info") in result.actions
    assert fx.phase(world) is Phase.PROMOTING
    record = world.status.last_action
    assert record is not None
    assert (record.id, record.action, record.full, record.requested_by, record.accepted) == (
        "r1",
        "promote",
        True,
        "alice",
        True,
    )
    seen = fx.run_until_done(world)
    assert fx.phase(world) is Phase.SUCCEEDED
    assert not any("requested by" in m for m in seen), "the request was handled once"


def test_promote_advances_one_step_without_running_the_checks() -> None:
    world = progressing(20)
    world.metrics["request-success-rate"] = [checks.MetricValue(50.0)]
    ask(world, Action.PROMOTE, "r2")
    queried = len(world.requests)
    result = fx.step(world)
    assert result.messages == [
        "Advance of podinfo.test requested by alice: skipping this step's checks",
        "Advance podinfo.test canary weight 30",
    ]
    assert len(world.requests) == queried, "no metric or webhook was checked"
    assert world.routes == observation.Routes(70, 30)
    assert world.status.canary_weight == 30 and world.status.failed_checks == 0
    # the next tick is a normal one: the failing metric halts it
    assert fx.step(world).messages == ["Halt podinfo.test advancement success rate 50.00% < 99%"]


def test_promote_at_the_last_step_promotes_past_a_closed_promotion_gate() -> None:
    gate = fx.hook("approve", "confirm-promotion")
    analysis = {"interval": "1m", "threshold": 5, "maxWeight": 20, "stepWeight": 10}
    world = fx.initialized(fx.make_canary({**analysis, "webhooks": [gate]}))
    world.webhooks["approve"] = [False]
    fx.new_revision(world)
    for _ in range(6):
        fx.step(world)
    assert fx.phase(world) is Phase.WAITING_PROMOTION
    ask(world, Action.PROMOTE, "r3")
    result = fx.step(world)
    assert "Copying podinfo.test template spec to podinfo-primary.test" in result.messages
    assert fx.phase(world) is Phase.PROMOTING


def test_promote_advances_one_iteration_of_a_blue_green_analysis() -> None:
    analysis = {"interval": "1m", "threshold": 5, "iterations": 5}
    world = fx.initialized(fx.make_canary(analysis))
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)
    done = world.status.iterations or 0
    ask(world, Action.PROMOTE, "r4")
    result = fx.step(world)
    assert f"Advance podinfo.test canary iteration {done + 1}/5" in result.messages


def test_abort_rolls_back_as_a_failed_analysis_does() -> None:
    world = progressing(30)
    ask(world, Action.ABORT, "r5")
    result = fx.step(world)
    assert result.messages == [
        "Rollback of podinfo.test requested by alice",
        "Canary failed! Scaling down podinfo.test",
    ]
    assert [e.severity for e in result.events] == ["warning", "warning"]
    assert decision.SetRoutes(100, 0) in result.actions
    assert decision.ScaleToZero() in result.actions
    assert decision.RunPostRolloutHooks(Phase.FAILED) in result.actions
    assert any(isinstance(a, decision.RecordOutcome) and not a.succeeded for a in result.actions)
    assert fx.phase(world) is Phase.FAILED
    assert world.routes == observation.Routes(100, 0)


def test_retry_analyses_the_same_revision_again_after_a_failure() -> None:
    world = progressing(10)
    world.metrics["request-success-rate"] = [checks.MetricValue(50.0)]
    fx.run_until_done(world)
    assert fx.phase(world) is Phase.FAILED
    assert fx.step(world).messages == [], "a failed revision is not retried by itself"

    world.metrics.clear()
    ask(world, Action.RETRY, "r6")
    result = fx.step(world)
    assert result.messages[0] == (
        "Retry of podinfo.test requested by alice: analysing the current revision"
    )
    assert "New revision detected! Scaling up podinfo.test" in result.messages
    assert decision.ScaleFromZero() in result.actions
    assert fx.phase(world) is Phase.PROGRESSING and world.status.failed_checks == 0
    fx.run_until_done(world)
    assert fx.phase(world) is Phase.SUCCEEDED


def test_pause_holds_the_weights_and_counts_no_checks_until_resume() -> None:
    world = progressing(20)
    world.metrics["request-success-rate"] = [checks.MetricValue(50.0)]
    ask(world, Action.PAUSE, "r7")
    result = fx.step(world)
    assert result.messages == ["Analysis of podinfo.test paused by alice at canary weight 20"]
    assert world.status.paused is True
    queried = len(world.requests)
    for _ in range(5):
        held = fx.step(world)
        assert held.messages == [] and held.routes is None
    assert len(world.requests) == queried
    assert world.status.failed_checks == 0 and world.routes == observation.Routes(80, 20)

    world.metrics.clear()
    ask(world, Action.RESUME, "r8")
    assert fx.step(world).messages == ["Analysis of podinfo.test resumed by alice"]
    assert not world.status.paused
    assert fx.step(world).messages == ["Advance podinfo.test canary weight 30"]


def test_an_action_that_makes_no_sense_is_refused_with_a_warning_once() -> None:
    world = fx.initialized(fx.make_canary())
    ask(world, Action.PROMOTE, "r9abcdef123")
    result = fx.step(world)
    assert result.messages == [
        "cannot promote podinfo.test: no analysis in progress (request r9abcdef by alice)"
    ]
    assert result.events[0].severity == "warning"
    assert not any(isinstance(a, decision.Alert) for a in result.actions)
    record = world.status.last_action
    assert record is not None and not record.accepted
    assert fx.phase(world) is Phase.INITIALIZED
    assert fx.step(world).messages == []


def test_refusals_name_the_reason_for_each_phase() -> None:
    world = progressing(10)
    ask(world, Action.RETRY, "a")
    assert fx.step(world).messages == [
        "cannot retry podinfo.test: only a failed analysis can be retried "
        "(phase Progressing) (request a by alice)"
    ]
    ask(world, Action.RESUME, "b")
    assert fx.step(world).messages == [
        "cannot resume podinfo.test: the analysis is not paused (request b by alice)"
    ]


def test_an_unreadable_request_is_reported_once() -> None:
    world = progressing(10)
    world.annotations[actions.ANNOTATION] = "promote"
    result = fx.step(world)
    assert len(result.messages) == 1
    assert result.messages[0].startswith(
        "cannot act on podinfo.test: flagger.app/action must be a JSON object"
    )
    assert world.routes.canary == 10
    assert fx.step(world).messages == ["Advance podinfo.test canary weight 20"]


def test_a_request_on_a_suspended_canary_is_refused_with_the_reason() -> None:
    request = actions.ActionRequest(Action.PROMOTE, "r10abcdef", requested_by="bob")
    message, record = manual.refused_while_suspended("podinfo.test", request, simulation.EPOCH)
    assert message == (
        "cannot promote podinfo.test: the canary is suspended (spec.suspend: true); "
        "resume it first (request r10abcde by bob)"
    )
    assert (record.id, record.accepted, record.requested_by) == ("r10abcdef", False, "bob")
    assert record.handled_at == "2024-01-01T00:00:00Z"
