"""The generator protocol of :func:`flagger.analysis.engine.tick` and the status helpers:
one check at a time, answers of the wrong kind refused, nothing written when nothing changed,
the Promoted condition kept when only its reason changes, muted alerts."""

from __future__ import annotations

import datetime

import analysis_fixtures as fx  # type: ignore[import-not-found, unused-ignore]
import pytest

from flagger import simulation
from flagger.analysis import checks, decision, engine, observation
from flagger.analysis import status_editor as status_edit
from flagger.api import status

Phase = status.CanaryPhase
NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)


def progressing(**analysis: object) -> simulation.World:
    spec: dict[str, object] = {"interval": "1m", "threshold": 3, "stepWeight": 10}
    spec.update(analysis)
    world: simulation.World = fx.initialized(fx.make_canary(spec))
    fx.new_revision(world)
    fx.step(world)
    return world


def test_the_tick_asks_one_check_at_a_time_and_stops_at_the_first_failure() -> None:
    world = progressing(webhooks=[fx.hook("a"), fx.hook("b")], metrics=[fx.SUCCESS_RATE])
    fx.step(world)  # weight 10 (pre-rollout step)
    ticking = engine.tick(world.canary, world.observe())
    first = next(ticking)
    assert isinstance(first, checks.CallWebhook)
    assert first.webhook.name == "a"
    assert first.phase is Phase.PROGRESSING
    second = ticking.send(checks.WebhookResult.passed())
    assert isinstance(second, checks.CallWebhook) and second.webhook.name == "b"
    with pytest.raises(StopIteration) as done:
        ticking.send(checks.WebhookResult.failed("500 Internal Server Error"))
    result: decision.Decision = done.value.value
    assert result.messages == [
        "Halt podinfo.test advancement external check b failed 500 Internal Server Error"
    ]
    assert result.status is not None and result.status.failed_checks == 1


def test_answers_of_the_wrong_kind_are_refused() -> None:
    world = progressing(webhooks=[fx.hook("a", "pre-rollout")])
    ticking = engine.tick(world.canary, world.observe())
    next(ticking)
    with pytest.raises(TypeError, match="WebhookResult"):
        ticking.send(checks.MetricValue(1))


def test_nothing_to_write_when_nothing_changed() -> None:
    world = fx.initialized(fx.make_canary())
    result = engine.decide(world.canary, world.observe(), world.answer)
    assert result.status is None
    assert result.actions == (decision.RecordPhase(Phase.INITIALIZED),)


def test_webhooks_see_the_status_of_the_moment() -> None:
    world = progressing(webhooks=[fx.hook("smoke", "pre-rollout")])
    fx.step(world)
    (request,) = [r for r in world.requests if isinstance(r, checks.CallWebhook)]
    assert request.status.last_applied_spec == "rev-2"
    assert request.status.phase is Phase.PROGRESSING


def test_muted_gates_send_no_alert() -> None:
    hook = fx.hook("gate", "confirm-rollout") | {"muteAlert": True}
    world = fx.initialized(
        fx.make_canary({"interval": "1m", "threshold": 1, "stepWeight": 5, "webhooks": [hook]})
    )
    world.webhooks = {"gate": [False]}
    fx.new_revision(world)
    result = fx.step(world)
    assert result.messages == ["Halt podinfo.test advancement waiting for approval gate"]
    assert not [a for a in result.actions if isinstance(a, decision.Alert)]


def test_initializing_status_and_conditions() -> None:
    canary = fx.make_canary()
    first = status_edit.initializing(canary, NOW)
    assert first.phase is Phase.INITIALIZING
    assert first.last_transition_time == "2024-05-01T12:00:00Z"
    assert first.conditions is not None
    (condition,) = first.conditions
    assert (condition.status, condition.reason) == ("Unknown", "Initializing")
    assert condition.message == "New Deployment detected, starting initialization."
    # same status, new reason: the transition time stays, the update time moves
    later = NOW + datetime.timedelta(minutes=5)
    updated = status_edit.make_conditions(first, Phase.PROGRESSING, "Deployment", later)
    assert updated is not None
    assert updated[0].last_transition_time == "2024-05-01T12:00:00Z"
    assert updated[0].last_update_time == "2024-05-01T12:05:00Z"
    assert status_edit.make_conditions(first, Phase.INITIALIZING, "Deployment", later) is None


@pytest.mark.parametrize(
    ("applied", "promoted", "current", "changed"),
    [
        ("", "", "a", True),
        ("a", "a", "a", False),
        ("a", "a", "b", True),
        ("b", "a", "a", False),  # back to the promoted spec
        ("b", "a", "b", False),
        ("b", "a", "c", True),
    ],
)
def test_target_changed(applied: str, promoted: str, current: str, changed: bool) -> None:
    seen = status.CanaryStatus(last_applied_spec=applied, last_promoted_spec=promoted)
    assert status_edit.target_changed(seen, observation.Revision(current)) is changed


def test_config_changes() -> None:
    seen = status.CanaryStatus(tracked_configs={"secret/db": "1", "configmap/app": "2"})
    same = observation.Revision("x", {"secret/db": "1", "configmap/app": "2"})
    assert status_edit.changed_config(seen, same) == (False, None)
    secret = observation.Revision("x", {"secret/db": "9", "configmap/app": "2"})
    assert status_edit.changed_config(seen, secret) == (True, "Secret db has changed")
    added = observation.Revision("x", {"secret/db": "1", "configmap/app": "2", "secret/x": "3"})
    assert status_edit.changed_config(seen, added) == (True, None)
    assert status_edit.changed_config(seen, observation.Revision("x", None)) == (False, None)
    untracked = status.CanaryStatus()
    assert status_edit.changed_config(untracked, observation.Revision("x", {})) == (False, None)
    assert status_edit.changed_config(untracked, same)[0]
