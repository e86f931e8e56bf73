"""Tick-by-tick behaviour of the canary strategy (progressive weights), as Flagger's scheduler.

Each test calls one tick, changes the world (a new revision, a metric value, a gate), calls the
next, and asserts the status and the events in order. The matrix: initialization, a new
revision and the confirm-rollout gate, the analysis and its halts, the failed-checks threshold,
a new revision during the analysis, promotion (at once or with stepWeightPromotion), finalising,
stepWeights, mirroring, the traffic-increase and promotion gates, rollback hooks, the progress
deadline, skipAnalysis, suspend, and reverting to the promoted spec.
"""

from __future__ import annotations

import datetime

import analysis_fixtures as fx  # type: ignore[import-not-found, unused-ignore]

from flagger import simulation
from flagger.analysis import checks, decision, observation
from flagger.api import status

Phase = status.CanaryPhase


def test_initialization_waits_for_the_primary_then_scales_the_target_down() -> None:
    world = simulation.World(canary=fx.make_canary(autoscaler=True))
    world.primary = observation.Readiness.waiting(
        "podinfo-primary.test not ready: waiting for rollout to finish: "
        "0 of 1 (readyThreshold 100%) updated replicas are available"
    )
    first = world.tick()
    assert first.status is None
    assert first.messages == [world.primary.message]
    assert [e.severity for e in first.events] == ["warning"]

    world.primary = observation.Readiness.ok()
    second = world.tick()
    assert second.messages == ["Initialization done! podinfo.test"]
    kinds = [type(a) for a in second.actions]
    assert kinds.index(decision.PauseTargetScaler) < kinds.index(decision.ScaleToZero)
    assert fx.phase(world) is Phase.INITIALIZED
    assert (
        world.status.last_applied_spec == world.status.last_promoted_spec == "simulated-revision-1"
    )
    assert world.status.conditions is not None
    (promoted,) = world.status.conditions
    assert (promoted.type, promoted.status, promoted.reason) == ("Promoted", "True", "Initialized")
    assert promoted.message == "Deployment initialization completed."
    assert world.status.last_transition_time == "2024-01-01T00:00:00Z"
    assert decision.Alert("New Deployment detected, initialization completed.", "info", True) in (
        second.actions
    )


def test_an_initialized_canary_without_changes_does_nothing() -> None:
    world = fx.initialized(fx.make_canary())
    for _ in range(3):
        result = fx.step(world)
        assert result.status is None
        assert result.messages == []
        assert result.routes is None


def test_the_tutorial_rollout_tick_by_tick() -> None:
    world = fx.initialized(
        fx.make_canary(
            {
                "interval": "1m",
                "threshold": 5,
                "maxWeight": 50,
                "stepWeight": 10,
                "metrics": [fx.SUCCESS_RATE, fx.DURATION],
                "webhooks": [fx.hook("acceptance-test", "pre-rollout"), fx.hook("load-test")],
            }
        )
    )
    fx.new_revision(world)

    detected = fx.step(world)
    assert detected.messages == ["New revision detected! Scaling up podinfo.test"]
    assert decision.ScaleFromZero() in detected.actions
    assert fx.phase(world) is Phase.PROGRESSING
    assert (world.status.canary_weight, world.status.failed_checks, world.status.iterations) == (
        0,
        0,
        0,
    )
    assert world.status.last_applied_spec == "rev-2"
    assert world.status.last_promoted_spec == "simulated-revision-1"
    assert world.status.conditions is not None
    assert world.status.conditions[0].status == "Unknown"
    assert world.status.conditions[0].reason == "Progressing"

    first = fx.step(world)
    assert first.messages == [
        "Starting canary analysis for podinfo.test",
        "Pre-rollout check acceptance-test passed",
        "Advance podinfo.test canary weight 10",
    ]
    assert first.routes == decision.SetRoutes(90, 10, False)
    assert first.record_duration
    assert world.status.canary_weight == 10
    # the pre-rollout tick runs no metric query and no rollout hook
    assert [type(r) for r in world.requests[-1:]] == [checks.CallWebhook]

    for weight in (20, 30, 40, 50):
        assert fx.step(world).messages == [f"Advance podinfo.test canary weight {weight}"]
        assert world.routes == observation.Routes(100 - weight, weight, False)
        assert world.status.canary_weight == weight

    promoting = fx.step(world)
    assert promoting.messages == ["Copying podinfo.test template spec to podinfo-primary.test"]
    assert decision.Promote() in promoting.actions
    assert fx.phase(world) is Phase.PROMOTING
    assert world.status.canary_weight == 0

    finalising = fx.step(world)
    assert finalising.messages == ["Routing all traffic to primary"]
    assert world.routes == observation.Routes(100, 0, False)
    assert fx.phase(world) is Phase.FINALISING

    done = fx.step(world)
    assert done.messages == ["Promotion completed! Scaling down podinfo.test"]
    assert decision.ScaleToZero() in done.actions
    assert decision.RunPostRolloutHooks(Phase.SUCCEEDED) in done.actions
    assert decision.RecordOutcome(True, "canary") in done.actions
    assert fx.phase(world) is Phase.SUCCEEDED
    assert world.status.last_promoted_spec == "rev-2"
    assert world.status.conditions is not None
    assert world.status.conditions[0].status == "True"

    # a promoted canary stays put
    assert fx.step(world).status is None


def test_metric_halts_count_failed_checks_and_recovery_continues() -> None:
    world = fx.initialized(fx.make_canary())
    world.metrics = {
        "request-success-rate": [
            checks.MetricValue(99.5),
            checks.MetricValue(62.5),
            checks.MetricValue(100),
        ],
        "request-duration": [
            checks.MetricValue(120),
            checks.MetricValue(2415.9),
            checks.MetricValue(80),
        ],
    }
    fx.new_revision(world)
    fx.step(world)  # new revision
    fx.step(world)  # starting analysis, weight 10
    assert fx.step(world).messages == ["Advance podinfo.test canary weight 20"]
    assert fx.step(world).messages == ["Halt podinfo.test advancement success rate 62.50% < 99%"]
    assert world.status.failed_checks == 1
    assert world.routes.canary == 20
    assert fx.step(world).messages == [
        "Halt podinfo.test advancement request duration 2.415s > 500ms"
    ]
    assert world.status.failed_checks == 2
    assert fx.step(world).messages == ["Advance podinfo.test canary weight 30"]
    # failed checks are not forgiven by a good tick
    assert world.status.failed_checks == 2
    recorded = [a for _, a in world.history if isinstance(a, decision.RecordMetricValue)]
    assert decision.RecordMetricValue("request-success-rate", 62.5) in recorded
    # flagger_canary_metric_analysis{metric="request-duration"} is in seconds, as Flagger's
    durations = [a.value for a in recorded if a.metric == "request-duration"]
    assert durations[:2] == [0.12, 2.4159]


def test_threshold_reached_rolls_back_to_the_primary() -> None:
    world = fx.initialized(fx.make_canary(autoscaler=True))
    world.metrics = {"request-success-rate": [checks.MetricValue(99), checks.MetricValue(10)]}
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)  # weight 10
    fx.step(world)  # weight 20 (99 passes)
    for count in range(1, 6):
        result = fx.step(world)
        assert result.messages == ["Halt podinfo.test advancement success rate 10.00% < 99%"]
        assert world.status.failed_checks == count
    rollback = fx.step(world)
    assert rollback.messages == [
        "Rolling back podinfo.test failed checks threshold reached 5",
        "Canary failed! Scaling down podinfo.test",
    ]
    assert rollback.events[1].phase is Phase.FAILED
    kinds = [type(a) for a in rollback.actions if type(a) in decision.FALLIBLE]
    assert kinds == [decision.SetRoutes, decision.PauseTargetScaler, decision.ScaleToZero]
    assert decision.Alert("Failed checks threshold reached 5", "error") in rollback.actions
    assert decision.RunPostRolloutHooks(Phase.FAILED) in rollback.actions
    assert world.routes == observation.Routes(100, 0, False)
    assert fx.phase(world) is Phase.FAILED
    assert (world.status.canary_weight, world.status.failed_checks) == (0, 0)
    assert world.status.conditions is not None
    assert world.status.conditions[0].status == "False"
    assert (
        world.status.conditions[0].message == "Canary analysis failed, Deployment scaled to zero."
    )
    # a failed canary waits for a new revision
    assert fx.step(world).messages == []
    fx.new_revision(world, "rev-3")
    assert fx.step(world).messages == ["New revision detected! Scaling up podinfo.test"]


def test_reverting_to_the_promoted_spec_starts_nothing() -> None:
    world = fx.initialized(fx.make_canary())
    world.metrics = {"request-success-rate": [checks.MetricValue(1)]}
    fx.new_revision(world, "bad")
    fx.run_until_done(world)
    assert fx.phase(world) is Phase.FAILED
    fx.new_revision(world, "simulated-revision-1")  # back to what the primary runs
    result = fx.step(world)
    assert result.messages == []
    assert fx.phase(world) is Phase.FAILED
    # the revision is recorded, so re-applying the bad spec counts as new again
    assert world.status.last_applied_spec == "simulated-revision-1"
    fx.new_revision(world, "bad")
    assert fx.step(world).messages == ["New revision detected! Scaling up podinfo.test"]


def test_a_new_revision_during_the_analysis_restarts_it() -> None:
    world = fx.initialized(fx.make_canary())
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)
    world.metrics = {"request-success-rate": [checks.MetricValue(1)]}
    fx.step(world)  # halt
    assert world.status.failed_checks == 1
    assert world.routes.canary == 10
    fx.new_revision(world, "rev-3")
    restart = fx.step(world)
    assert restart.messages == ["New revision detected! Restarting analysis for podinfo.test"]
    assert world.routes == observation.Routes(100, 0, False)
    assert fx.phase(world) is Phase.PROGRESSING
    assert (world.status.failed_checks, world.status.canary_weight) == (0, 0)
    assert world.status.last_applied_spec == "rev-3"
    world.metrics = {}
    assert fx.step(world).messages == [
        "Starting canary analysis for podinfo.test",
        "Advance podinfo.test canary weight 10",
    ]


def test_a_config_change_starts_the_analysis_and_is_named() -> None:
    world = simulation.World(canary=fx.make_canary())
    world.revision = observation.Revision("rev-1", {"configmap/backend": "aaaa"})
    world.tick()
    world.revision = observation.Revision("rev-1", {"configmap/backend": "bbbb"})
    result = fx.step(world)
    logs = [a.message for a in result.actions if isinstance(a, decision.Log)]
    assert logs == ["ConfigMap backend has changed"]
    assert result.messages == ["New revision detected! Scaling up podinfo.test"]
    assert world.status.tracked_configs == {"configmap/backend": "bbbb"}


def test_confirm_rollout_gate_holds_the_canary_in_waiting() -> None:
    world = fx.initialized(
        fx.make_canary(
            {
                "interval": "1m",
                "threshold": 2,
                "stepWeight": 50,
                "webhooks": [fx.hook("gate", "confirm-rollout")],
            }
        )
    )
    world.webhooks = {"gate": [False, False, True]}
    fx.new_revision(world)
    held = fx.step(world)
    assert held.messages == ["Halt podinfo.test advancement waiting for approval gate"]
    assert decision.Alert("Canary is waiting for approval.", "warn") in held.actions
    assert fx.phase(world) is Phase.WAITING
    assert world.status.conditions is not None
    assert world.status.conditions[0].message == "Waiting for approval."
    assert world.routes.canary == 0
    assert decision.ScaleFromZero() not in held.actions
    still = fx.step(world)
    assert fx.phase(world) is Phase.WAITING
    # Flagger 1.44 reports the halt once, on entering Waiting, not on every tick
    assert still.messages == []
    assert not [a for a in still.actions if isinstance(a, decision.Alert)]
    opened = fx.step(world)
    assert opened.messages == [
        "Confirm-rollout check gate passed",
        "New revision detected! Scaling up podinfo.test",
    ]
    assert fx.phase(world) is Phase.PROGRESSING
    gate_calls = [r for r in world.requests if isinstance(r, checks.CallWebhook)]
    # the gate sees the canary's real phase and its status before the new revision is synced
    assert [r.phase for r in gate_calls] == [Phase.INITIALIZED, Phase.WAITING, Phase.WAITING]
    assert all(r.status.last_applied_spec != "rev-2" for r in gate_calls)
    assert world.status.last_applied_spec == "rev-2"


def test_confirm_traffic_increase_holds_the_weight() -> None:
    world = fx.initialized(
        fx.make_canary(
            {
                "interval": "1m",
                "threshold": 2,
                "stepWeight": 25,
                "maxWeight": 50,
                "webhooks": [fx.hook("more", "confirm-traffic-increase")],
            }
        )
    )
    world.webhooks = {"more": [True, False, True]}
    fx.new_revision(world)
    fx.step(world)
    assert fx.step(world).messages == [
        "Starting canary analysis for podinfo.test",
        "Confirm-traffic-increase check more passed",
        "Advance podinfo.test canary weight 25",
    ]
    held = fx.step(world)
    assert held.messages == [
        "Halt podinfo.test advancement waiting for traffic increase approval more"
    ]
    assert world.routes.canary == 25
    assert world.status.failed_checks == 0
    assert fx.step(world).messages[-1] == "Advance podinfo.test canary weight 50"
    # as in Flagger, the traffic gate is consulted in Progressing even at maxWeight
    assert fx.step(world).messages == [
        "Confirm-traffic-increase check more passed",
        "Copying podinfo.test template spec to podinfo-primary.test",
    ]


def test_confirm_promotion_gate_waits_while_checks_keep_running() -> None:
    world = fx.initialized(
        fx.make_canary(
            {
                "interval": "1m",
                "threshold": 2,
                "stepWeight": 50,
                "maxWeight": 50,
                "metrics": [fx.SUCCESS_RATE],
                "webhooks": [fx.hook("promote", "confirm-promotion")],
            }
        )
    )
    world.webhooks = {"promote": [False, False, True]}
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)  # weight 50
    waiting = fx.step(world)
    assert waiting.messages == [
        "Halt podinfo.test advancement waiting for promotion approval promote"
    ]
    assert decision.Alert("Canary promotion is waiting for approval.", "warn") in waiting.actions
    assert fx.phase(world) is Phase.WAITING_PROMOTION
    assert world.routes.canary == 50
    # metrics keep running in WaitingPromotion and their failures count
    world.metrics = {"request-success-rate": [checks.MetricValue(50)]}
    assert fx.step(world).messages == ["Halt podinfo.test advancement success rate 50.00% < 99%"]
    assert world.status.failed_checks == 1
    world.metrics = {}
    still = fx.step(world)
    assert still.messages == []
    assert fx.phase(world) is Phase.WAITING_PROMOTION
    promoted = fx.step(world)
    assert promoted.messages == [
        "Confirm-promotion check promote passed",
        "Copying podinfo.test template spec to podinfo-primary.test",
    ]
    assert fx.phase(world) is Phase.PROMOTING


def test_step_weights_walk_the_ladder_and_cap_max_weight() -> None:
    world = fx.initialized(
        fx.make_canary({"interval": "1m", "threshold": 2, "stepWeights": [1, 2, 10, 80]})
    )
    fx.new_revision(world)
    fx.step(world)
    seen = fx.run_until_done(world)
    advances = [m for m in seen if m.startswith("Advance")]
    assert advances == [f"Advance podinfo.test canary weight {w}" for w in (1, 2, 10, 80)]


def test_the_last_step_may_pass_max_weight_as_in_flagger() -> None:
    world = fx.initialized(
        fx.make_canary({"interval": "1m", "threshold": 2, "stepWeight": 20, "maxWeight": 50})
    )
    fx.new_revision(world)
    seen = fx.run_until_done(world)
    advances = [m for m in seen if m.startswith("Advance")]
    assert advances[-1] == "Advance podinfo.test canary weight 60"
    assert fx.phase(world) is Phase.SUCCEEDED


def test_step_weight_promotion_shifts_traffic_back_gradually() -> None:
    world = fx.initialized(
        fx.make_canary(
            {
                "interval": "1m",
                "threshold": 2,
                "stepWeight": 50,
                "maxWeight": 50,
                "stepWeightPromotion": 30,
            },
            autoscaler=True,
        )
    )
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)
    fx.step(world)  # promote
    assert fx.phase(world) is Phase.PROMOTING
    first = fx.step(world)
    assert decision.ReconcilePrimaryScaler() in first.actions
    assert first.messages == ["Advance podinfo.test primary weight 80"]
    assert world.status.canary_weight == 20
    assert fx.phase(world) is Phase.PROMOTING
    second = fx.step(world)
    assert second.messages == ["Advance podinfo.test primary weight 100"]
    assert world.routes == observation.Routes(100, 0, False)
    assert fx.phase(world) is Phase.FINALISING


def test_mirroring_runs_one_mirrored_tick_before_shifting_traffic() -> None:
    world = fx.initialized(
        fx.make_canary(
            {"interval": "1m", "threshold": 2, "stepWeight": 10, "maxWeight": 20, "mirror": True}
        )
    )
    fx.new_revision(world)
    fx.step(world)
    mirrored = fx.step(world)
    assert mirrored.routes == decision.SetRoutes(100, 0, True)
    assert mirrored.messages[-1] == "Advance podinfo.test canary weight 0"
    logs = [a.message for a in mirrored.actions if isinstance(a, decision.Log)]
    assert logs == ["Running mirror step 100/0/true"]
    shifted = fx.step(world)
    # mirroring counts as traffic: the rollout checks run, not the pre-rollout hooks
    assert "Starting canary analysis for podinfo.test" not in shifted.messages
    assert shifted.routes == decision.SetRoutes(90, 10, False)
    assert fx.step(world).routes == decision.SetRoutes(80, 20, False)


def test_a_rollback_hook_answering_2xx_rolls_back() -> None:
    world = fx.initialized(
        fx.make_canary(
            {
                "interval": "1m",
                "threshold": 5,
                "stepWeight": 10,
                "webhooks": [fx.hook("abort", "rollback")],
            }
        )
    )
    world.webhooks = {"abort": [False, False, True]}
    fx.new_revision(world)
    fx.step(world)
    first = fx.step(world)
    assert first.messages[0] == "Rollback hook abort not signaling a rollback"
    fx.step(world)
    rolled = fx.step(world)
    assert rolled.messages == [
        "Rollback check abort passed",
        "Rolling back podinfo.test manual webhook invoked",
        "Canary failed! Scaling down podinfo.test",
    ]
    assert fx.phase(world) is Phase.FAILED
    assert world.routes == observation.Routes(100, 0, False)
    rollback_calls = [
        r for r in world.requests if isinstance(r, checks.CallWebhook) and r.webhook.name == "abort"
    ]
    assert rollback_calls[-1].phase is Phase.PROGRESSING


def test_failing_rollout_and_pre_rollout_hooks_count_as_failed_checks() -> None:
    world = fx.initialized(
        fx.make_canary(
            {
                "interval": "1m",
                "threshold": 3,
                "stepWeight": 10,
                "webhooks": [fx.hook("smoke", "pre-rollout"), fx.hook("load")],
            }
        )
    )
    world.webhooks = {"smoke": [False, True], "load": [False, True]}
    fx.new_revision(world)
    fx.step(world)
    pre = fx.step(world)
    assert pre.messages == [
        "Starting canary analysis for podinfo.test",
        "Halt podinfo.test advancement pre-rollout check smoke failed "
        "http://flagger-loadtester.test/smoke returned 403 Forbidden (simulated)",
    ]
    assert world.status.failed_checks == 1
    assert fx.step(world).messages[-1] == "Advance podinfo.test canary weight 10"
    rollout = fx.step(world)
    assert rollout.messages == [
        "Halt podinfo.test advancement external check load failed "
        "http://flagger-loadtester.test/load returned 403 Forbidden (simulated)"
    ]
    assert world.status.failed_checks == 2


def test_canary_progress_deadline_rolls_back() -> None:
    world = fx.initialized(fx.make_canary())
    fx.new_revision(world)
    fx.step(world)
    world.canary_readiness = observation.Readiness.waiting(
        "canary deployment podinfo.test not ready: waiting for rollout to finish: "
        "0 of 1 (readyThreshold 100%) updated replicas are available"
    )
    waiting = fx.step(world)
    assert waiting.messages == [world.canary_readiness.message]
    assert fx.phase(world) is Phase.PROGRESSING
    world.canary_readiness = observation.Readiness.failed(
        'canary deployment podinfo.test not ready: deployment "podinfo" exceeded its progress '
        "deadline"
    )
    result = fx.step(world)
    # Flagger 1.44: the readiness error, then the rollback (no "Rolling back ... progress
    # deadline exceeded", which is dead code in 1.44)
    assert result.messages == [
        world.canary_readiness.message,
        "Canary failed! Scaling down podinfo.test",
    ]
    assert fx.phase(world) is Phase.FAILED


def test_primary_not_ready_halts_and_a_dead_primary_rolls_back() -> None:
    world = fx.initialized(fx.make_canary())
    fx.new_revision(world)
    world.primary = observation.Readiness.waiting("primary not ready")
    held = fx.step(world)
    assert held.messages == ["primary not ready"]
    assert fx.phase(world) is Phase.INITIALIZED  # the revision is not picked up yet
    world.primary = observation.Readiness.failed("primary exceeded its progress deadline")
    failed = fx.step(world)
    assert failed.messages == [
        "primary exceeded its progress deadline",
        "Canary failed! Scaling down podinfo.test",
    ]
    assert fx.phase(world) is Phase.FAILED


def test_a_primary_that_breaks_during_promotion_leaves_traffic_on_the_canary() -> None:
    world = fx.initialized(
        fx.make_canary({"interval": "1m", "threshold": 2, "stepWeight": 50, "maxWeight": 50})
    )
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)
    fx.step(world)
    assert fx.phase(world) is Phase.PROMOTING
    world.primary = observation.Readiness.failed("primary exceeded its progress deadline")
    result = fx.step(world)
    assert result.messages == [
        "primary exceeded its progress deadline",
        "Promotion of podinfo.test failed, primary not ready: primary exceeded its progress "
        "deadline",
    ]
    alerts = [a.message for a in result.actions if isinstance(a, decision.Alert)]
    assert alerts == ["Promotion failed, primary not ready: primary exceeded its progress deadline"]
    assert world.routes == observation.Routes(0, 100, False)
    assert world.status.canary_weight == 100  # Flagger reports the weight matching the routes
    assert decision.ScaleToZero() not in result.actions
    assert fx.phase(world) is Phase.FAILED


def test_skip_analysis_promotes_on_the_next_tick() -> None:
    world = fx.initialized(fx.make_canary(skipAnalysis=True, autoscaler=True))
    fx.new_revision(world)
    assert fx.step(world).messages == ["New revision detected! Scaling up podinfo.test"]
    result = fx.step(world)
    assert result.messages == [
        "Copying podinfo.test template spec to podinfo-primary.test",
        "Promotion completed! Canary analysis was skipped for podinfo.test",
    ]
    fallible = [type(a) for a in result.actions if type(a) in decision.FALLIBLE]
    assert fallible == [
        decision.SetRoutes,
        decision.Promote,
        decision.ReconcilePrimaryScaler,
        decision.PauseTargetScaler,
        decision.ScaleToZero,
    ]
    assert fx.phase(world) is Phase.SUCCEEDED
    assert world.requests == []  # no webhook, no metric


def test_skip_analysis_still_rolls_back_a_canary_past_its_deadline() -> None:
    world = fx.initialized(fx.make_canary(skipAnalysis=True))
    fx.new_revision(world)
    fx.step(world)
    world.canary_readiness = observation.Readiness.failed("deadline")
    assert fx.step(world).messages == ["deadline", "Canary failed! Scaling down podinfo.test"]


def test_a_canary_past_its_deadline_during_promotion_rolls_back() -> None:
    """Flagger 1.44 (since 1.36.1) rolls back a non-retriable canary in any phase."""
    world = fx.initialized(
        fx.make_canary({"interval": "1m", "threshold": 2, "stepWeight": 50, "maxWeight": 50})
    )
    fx.new_revision(world)
    for _ in range(3):
        fx.step(world)
    assert fx.phase(world) is Phase.PROMOTING
    world.canary_readiness = observation.Readiness.failed("deadline")
    assert fx.step(world).messages == ["deadline", "Canary failed! Scaling down podinfo.test"]
    assert fx.phase(world) is Phase.FAILED


def test_suspend_skips_every_run_even_mid_analysis() -> None:
    world = fx.initialized(fx.make_canary())
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)
    world.canary = world.canary.model_copy(
        update={"spec": world.canary.spec.model_copy(update={"suspend": True})}
    )
    result = fx.step(world)
    assert result.messages == ["skipping canary run as object is suspended"]
    assert result.status is None
    assert result.routes is None


def test_status_timestamps_come_from_the_observation() -> None:
    world = simulation.World(canary=fx.make_canary())
    world.elapsed = 90
    world.tick()
    assert world.status.last_transition_time == (
        (simulation.EPOCH + datetime.timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
