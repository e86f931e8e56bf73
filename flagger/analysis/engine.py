"""One tick of a canary, decided the way Flagger's ``advanceCanary`` decides it.

:func:`tick` is a generator: it yields a :data:`~flagger.analysis.checks.Request` whenever it
needs a check run (a webhook call, a metric query), receives the answer through ``send``, and
finally returns a :class:`~flagger.analysis.decision.Decision`. It reads no clock and does no
I/O, so the same code drives the daemon, the unit tests and ``flagger simulate``::

    ticking = engine.tick(canary, observation, mesh_provider="istio")
    request = next(ticking)            # or: decision = engine.drive(ticking, answer)
    while True:
        try:
            request = ticking.send(await run_check(request))
        except StopIteration as done:
            decision = done.value
            break

The order of steps follows Flagger (see ``reference/flagger.md`` §3): initialization, the
revision check, primary readiness, the confirm-rollout gate, a restart on a new revision, canary
readiness, skipAnalysis, rollback hooks, promotion traffic shift, finalising, the failed-checks
threshold, pre-rollout or rollout hooks and metrics, and the strategy (A/B, blue/green, canary).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

from flagger.analysis import baseline, checks, decision, manual, messages, observation, weights
from flagger.analysis import status_editor as status_edit
from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.api import replica_weights, rollback_window
from flagger.api import status as status_api

Phase = status_api.CanaryPhase
Ticking = Generator[checks.Request, checks.Response, decision.Decision]
Checking = Generator[checks.Request, checks.Response, bool]

DEFAULT_MESH_PROVIDER = "istio"
KUBERNETES = "kubernetes"
KUBERNETES_ITERATIONS = 10


def tick(
    canary: canary_api.Canary,
    obs: observation.Observation,
    *,
    mesh_provider: str = DEFAULT_MESH_PROVIDER,
) -> Ticking:
    """Decide one tick of ``canary`` given what the shell observed (see the module docstring)."""
    run = _Tick(canary, obs, mesh_provider)
    yield from run.advance()
    return run.outcome()


def drive(
    ticking: Ticking, answer: Callable[[checks.Request], checks.Response]
) -> decision.Decision:
    """Run a tick to its decision, answering each check with ``answer`` (synchronously)."""
    try:
        request = next(ticking)
        while True:
            request = ticking.send(answer(request))
    except StopIteration as done:
        result: decision.Decision = done.value
        return result


def decide(
    canary: canary_api.Canary,
    obs: observation.Observation,
    answer: Callable[[checks.Request], checks.Response],
    *,
    mesh_provider: str = DEFAULT_MESH_PROVIDER,
) -> decision.Decision:
    """:func:`tick` and :func:`drive` in one call."""
    return drive(tick(canary, obs, mesh_provider=mesh_provider), answer)


def effective_provider(canary: canary_api.Canary, mesh_provider: str) -> str:
    """``spec.provider``, else the daemon's ``-mesh-provider``."""
    return canary.spec.provider or mesh_provider


def metrics_provider(canary: canary_api.Canary, mesh_provider: str) -> str:
    """The observer name Flagger prints in "no values found" messages."""
    name = "crossover" if "crossover" in mesh_provider else mesh_provider
    if canary.spec.provider:
        name = "linkerd" if "linkerd" in mesh_provider else canary.spec.provider
    if canary.spec.target_ref.kind == "Service" and not canary.spec.target_ref.is_knative:
        name += ":service"
    return name


class _Tick:
    """The state of one tick: the working status and the actions decided so far."""

    def __init__(
        self, canary: canary_api.Canary, obs: observation.Observation, mesh_provider: str
    ) -> None:
        self.canary = canary
        self.obs = obs
        self.mesh_provider = mesh_provider
        self.provider = effective_provider(canary, mesh_provider)
        self.spec = canary.spec.effective_analysis or analysis_api.CanaryAnalysis()
        self.skip = canary.spec.effective_skip_analysis
        namespace = canary.namespace or "default"
        target = canary.spec.target_ref.name
        self.name = messages.ref(canary.name, namespace)
        self.target = messages.ref(target, namespace)
        self.primary = messages.ref(f"{target}-primary", namespace)
        self.editor = status_edit.StatusEditor(canary, obs, self.spec.iterations or 0)
        self.actions: list[decision.Action] = []
        self.record_duration = False
        # a step asked by hand (flagger promote): its checks and gates are skipped
        self.manual_step = False
        # the original status decides change detection, as Flagger's in-memory copy does
        self.seen = self.editor.original  # only read; the editor works on its own copy
        self.webhooks = self.spec.effective_webhooks
        self.window = _rollback_window(canary)
        self.by_replicas = self.provider == KUBERNETES and replica_weights.enabled(canary.metadata)

    # --- output ----------------------------------------------------------------------------

    def outcome(self) -> decision.Decision:
        new_status = self.editor.snapshot() if self.editor.changed else None
        return decision.Decision(tuple(self.actions), new_status, self.record_duration)

    def act(self, action: decision.Action) -> None:
        self.actions.append(action)

    def event(
        self, message: str, severity: decision.Severity = "info", phase: Phase | None = None
    ) -> None:
        self.act(decision.Event(message, severity, phase or self.editor.phase))

    def warn(self, message: str, phase: Phase | None = None) -> None:
        self.event(message, "warning", phase)

    def error(self, message: str) -> None:
        self.event(message, "error")

    def alert(self, message: str, severity: decision.AlertSeverity, details: bool = False) -> None:
        self.act(decision.Alert(message, severity, details))

    def set_routes(self, primary: int, canary: int, mirrored: bool = False) -> None:
        self.act(decision.SetRoutes(primary, canary, mirrored))

    @property
    def has_scaler(self) -> bool:
        return self.canary.spec.autoscaler_ref is not None

    # --- the tick --------------------------------------------------------------------------

    def advance(self) -> Generator[checks.Request, checks.Response, None]:
        """One tick, stage by stage; each stage may end the tick."""
        if self.suspended():
            return
        if self.obs.action is not None:
            yield from manual.handle(self, self.obs.action)
            return
        if not self.gates_open() or not self.primary_ready():
            return
        routes = self.obs.routes
        self.act(decision.RecordWeight(routes.primary, routes.canary))
        if not (yield from self.check_canary_status()):
            return
        if not self.canary_steady():
            return
        if self.skip:
            self.skip_analysis()
            return
        if (yield from self.phase_step(routes.primary, routes.canary)):
            return
        yield from self.checks_then_strategy(routes.canary, routes.mirrored)

    def suspended(self) -> bool:
        """``spec.suspend``: log and report it; the tick ends here."""
        if not self.canary.spec.suspend:
            return False
        self.act(decision.Log(messages.suspended(), "debug"))
        self.event(messages.suspended())
        return True

    def gates_open(self) -> bool:
        """Initialisation, the analysis schedule and ``paused``: False when the tick ends."""
        if self.editor.phase in (Phase.NEW, Phase.INITIALIZING):
            self.initialize()
            return False
        if not self.should_advance():
            self.act(decision.RecordPhase(self.editor.phase))
            return False
        if self.editor.status.paused:
            self.act(decision.Log(f"Canary {self.name} is paused", "debug"))
            self.act(decision.RecordPhase(self.editor.phase))
            return False
        return True

    def primary_ready(self) -> bool:
        """The primary's readiness (unless skipping analysis); a lasting failure rolls back."""
        if self.skip or self.obs.primary.ready:
            return True
        self.warn(self.obs.primary.message)
        if not self.obs.primary.retriable:
            if self.editor.phase in (Phase.PROMOTING, Phase.FINALISING):
                self.fail_promotion(self.obs.primary.message)
            else:
                self.rollback()
        return False

    def canary_steady(self) -> bool:
        """A revert to the known-good revision, a new revision mid-analysis, the canary's
        readiness: False when one of them ended the tick."""
        if self.reverted_to_known_good():
            self.fast_rollback()
            return False
        if self.revision_changed_during_analysis():
            self.set_routes(weights.TOTAL_WEIGHT, 0)
            self.editor.sync(Phase.PROGRESSING)
            self.event(messages.restarting_analysis(self.target))
            return False
        if not self.obs.canary.ready:
            # Flagger 1.44: a canary past its progress deadline rolls back in any phase
            self.warn(self.obs.canary.message)
            if not self.obs.canary.retriable:
                self.rollback()
            return False
        return True

    def phase_step(
        self, primary_weight: int, canary_weight: int
    ) -> Generator[checks.Request, checks.Response, bool]:
        """What the phase alone decides (rollback hooks, promotion, finalising, failed-checks
        threshold): True when it ended the tick."""
        phase = self.editor.phase
        if phase in (Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION) and (
            yield from self.rollback_hooks(phase)
        ):
            self.warn(messages.manual_rollback(self.name))
            self.alert(messages.ALERT_MANUAL_ROLLBACK, "warn")
            self.rollback()
            return True
        if phase is Phase.PROMOTING:
            if self.has_scaler:
                self.act(decision.ReconcilePrimaryScaler())
            self.promotion_traffic_shift(primary_weight, canary_weight)
            return True
        if phase is Phase.FINALISING:
            self.finalise()
            return True
        if (
            phase in (Phase.PROGRESSING, Phase.WAITING_PROMOTION)
            and self.editor.failed_checks >= self.spec.effective_threshold
        ):
            self.rollback()
            return True
        return False

    def checks_then_strategy(
        self, canary_weight: int, mirrored: bool
    ) -> Generator[checks.Request, checks.Response, None]:
        """Pre-rollout hooks on the first step, else the metric checks; then the strategy's
        step. A failure counts one failed check and ends the tick."""
        self.record_duration = True
        if (
            canary_weight == 0
            and self.editor.iterations == 0
            and not (self.spec.mirror and mirrored)
        ):
            self.event(messages.starting_analysis(self.target))
            if not (yield from self.pre_rollout_hooks()):
                self.editor.set_failed_checks(self.editor.failed_checks + 1)
                return
        elif not (yield from self.run_analysis()):
            self.editor.set_failed_checks(self.editor.failed_checks + 1)
            return
        yield from self.run_strategy()

    def run_strategy(self) -> Generator[checks.Request, checks.Response, None]:
        """The strategy's next step (A/B, blue/green or canary), once the checks passed."""
        routes = self.obs.routes
        primary_weight, canary_weight, mirrored = routes.primary, routes.canary, routes.mirrored
        phase = self.editor.phase
        max_weight = weights.max_weight(self.spec)
        match = self.spec.match
        iterations = self.spec.iterations or 0
        if self.provider == KUBERNETES:
            if match:
                self.warn(messages.AB_NOT_SUPPORTED)
                match = None
            if iterations < 1 and not self.by_replicas:
                self.warn(messages.PROGRESSIVE_NOT_SUPPORTED)
                self.warn(messages.SETTING_ITERATIONS)
                iterations = KUBERNETES_ITERATIONS
                # Flagger sets it on its in-memory copy, which WaitingPromotion then reads
                self.editor.analysis_iterations = iterations

        if match and iterations > 0:
            yield from self.run_ab(iterations)
            return
        if iterations > 0:
            yield from self.run_blue_green(iterations, mirrored)
            return
        if weights.next_step_weight(self.spec, canary_weight) > 0:
            if (
                not mirrored
                and phase
                not in (
                    Phase.PROMOTING,
                    Phase.WAITING_PROMOTION,
                    Phase.FINALISING,
                )
                and not (yield from self.confirm_traffic_increase_hooks())
            ):
                return
            yield from self.run_canary(primary_weight, canary_weight, mirrored, max_weight)

    # --- initialization and change detection -------------------------------------------------

    def initialize(self) -> None:
        """First ticks: wait for the primary, scale the target down, mark Initialized."""
        if not self.skip and not self.obs.primary.ready:
            self.warn(self.obs.primary.message)
            if not self.obs.primary.retriable:
                # Flagger rolls back a primary that cannot start (non-retriable Initialize)
                self.rollback()
            return
        if self.has_scaler:
            self.act(decision.PauseTargetScaler())
        self.act(decision.Log(f"Scaling down {self.canary.spec.target_ref.kind} {self.target}"))
        self.act(decision.ScaleToZero())
        self.editor.sync(Phase.INITIALIZED)
        self.editor.remember_promoted(self.window)
        self.act(decision.RecordPhase(Phase.INITIALIZED))
        self.event(messages.initialization_done(self.name))
        self.alert(messages.alert_initialized(self.canary.spec.target_ref.kind), "info", True)

    def should_advance(self) -> bool:
        phase = self.editor.phase
        if phase in status_edit.ACTIVE_PHASES:
            return True
        if phase is Phase.FAILED:
            self.editor.sync_revision()
        if status_edit.target_changed(self.seen, self.obs.revision):
            return True
        changed, line = status_edit.changed_config(self.seen, self.obs.revision)
        if line:
            self.act(decision.Log(line))
        return changed

    # --- rollback window (an extension, see flagger.api.rollback_window) ----------------------

    @property
    def observed_revision(self) -> str:
        return status_edit.revision_key(self.obs.revision.spec_hash, self.obs.revision.configs)

    def known_good(self) -> bool:
        """The observed revision is one of the last promoted ones (the window is on)."""
        remembered = self.seen.promoted_revisions or []
        return self.window > 0 and self.observed_revision in remembered[-self.window :]

    def reverted_to_known_good(self) -> bool:
        """During an analysis, the target went back to a revision promoted before."""
        if self.editor.phase not in (Phase.PROGRESSING, Phase.WAITING_PROMOTION):
            return False
        applied = status_edit.revision_key(
            self.seen.last_applied_spec or "", self.seen.tracked_configs
        )
        return self.observed_revision != applied and self.known_good()

    def fast_rollback(self) -> None:
        """Promote a known-good revision at once: no canary pods, no analysis."""
        self.editor.sync(Phase.PROGRESSING)
        self.event(messages.rolling_back_known_good(self.target, self.observed_revision))
        self.promote_at_once()
        self.event(messages.promotion_completed(self.target))
        self.alert(messages.ALERT_SUCCEEDED, "info")
        self.act(decision.RecordOutcome(True, canary_api.strategy_for(self.canary.spec)))

    def revision_changed_during_analysis(self) -> bool:
        if self.editor.phase not in (Phase.PROGRESSING, Phase.WAITING_PROMOTION):
            return False
        if status_edit.target_changed(self.seen, self.obs.revision):
            return True
        changed, line = status_edit.changed_config(self.seen, self.obs.revision)
        if line:
            self.act(decision.Log(line))
        return changed

    def check_canary_status(self) -> Checking:
        """Start the analysis of a new revision, behind the confirm-rollout gate."""
        phase = self.editor.phase
        self.act(decision.RecordPhase(phase))
        if phase in (Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING):
            return True
        # Flagger 1.44 calls the gate with the canary's real phase (Initialized, Succeeded,
        # then Waiting) and its status unchanged; the halt is reported once, on entering Waiting.
        if not (yield from self.confirm_rollout_hooks()):
            return False
        if self.known_good():
            self.fast_rollback()
            return False
        self.event(messages.new_revision(self.target), phase=Phase.PROGRESSING)
        self.alert(messages.ALERT_NEW_REVISION, "info", True)
        if self.has_scaler:
            self.act(decision.ResumeTargetScaler())
        if not self.by_replicas:  # by replicas, each step scales the canary (from zero)
            self.act(decision.ScaleFromZero())
        self.editor.sync(Phase.PROGRESSING)
        self.act(decision.RecordPhase(Phase.PROGRESSING))
        return False

    # --- hooks -------------------------------------------------------------------------------

    def hooks(self, *types: str) -> list[analysis_api.CanaryWebhook]:
        return [w for w in self.webhooks if w.effective_type in types]

    def call(
        self, hook: analysis_api.CanaryWebhook, phase: Phase
    ) -> Generator[checks.Request, checks.Response, checks.WebhookResult]:
        answer = yield checks.CallWebhook(hook, phase, self.editor.snapshot())
        if not isinstance(answer, checks.WebhookResult):
            raise TypeError(f"a webhook call needs a WebhookResult, got {answer!r}")
        return answer

    def confirm_rollout_hooks(self) -> Checking:
        if self.manual_step:
            return True
        for hook in self.hooks("confirm-rollout"):
            result = yield from self.call(hook, self.editor.phase)
            if not result.ok:
                if self.editor.phase is not Phase.WAITING:
                    self.editor.set_phase(Phase.WAITING)
                    self.warn(messages.waiting_for_approval(self.name, hook.name))
                    if not hook.mute_alert:
                        self.alert(messages.ALERT_WAITING_APPROVAL, "warn")
                return False
            self.event(messages.hook_passed("Confirm-rollout", hook.name))
        return True

    def confirm_promotion_hooks(self) -> Checking:
        if self.manual_step:
            return True
        for hook in self.hooks("confirm-promotion"):
            result = yield from self.call(hook, Phase.PROGRESSING)
            if not result.ok:
                if self.editor.phase is not Phase.WAITING_PROMOTION:
                    self.editor.set_phase(Phase.WAITING_PROMOTION)
                    self.warn(messages.waiting_for_promotion_approval(self.name, hook.name))
                    if not hook.mute_alert:
                        self.alert(messages.ALERT_WAITING_PROMOTION, "warn")
                else:
                    self.editor.set_iterations(self.editor.analysis_iterations - 1)
                return False
            self.event(messages.hook_passed("Confirm-promotion", hook.name))
        return True

    def confirm_traffic_increase_hooks(self) -> Checking:
        if self.manual_step:
            return True
        for hook in self.hooks("confirm-traffic-increase"):
            result = yield from self.call(hook, Phase.PROGRESSING)
            if not result.ok:
                self.warn(messages.waiting_for_traffic_increase_approval(self.name, hook.name))
                if not hook.mute_alert:
                    self.alert(messages.ALERT_WAITING_TRAFFIC, "warn")
                return False
            self.event(messages.hook_passed("Confirm-traffic-increase", hook.name))
        return True

    def pre_rollout_hooks(self) -> Checking:
        for hook in self.hooks("pre-rollout"):
            result = yield from self.call(hook, Phase.PROGRESSING)
            if not result.ok:
                self.warn(messages.pre_rollout_failed(self.name, hook.name, result.error))
                return False
            self.event(messages.hook_passed("Pre-rollout", hook.name))
        return True

    def rollback_hooks(self, phase: Phase) -> Checking:
        for hook in self.hooks("rollback"):
            result = yield from self.call(hook, phase)
            if result.ok:
                self.warn(messages.hook_passed("Rollback", hook.name))
                return True
            self.event(messages.rollback_hook_idle(hook.name))
        return False

    def run_analysis(self) -> Checking:
        """Rollout hooks, then the metric checks; the first failure halts the advancement."""
        for hook in self.hooks("rollout"):
            result = yield from self.call(hook, Phase.PROGRESSING)
            if not result.ok:
                self.warn(messages.external_check_failed(self.name, hook.name, result.error))
                return False
        for request in checks.metric_checks(self.spec.effective_metrics):
            outcome = yield request
            if not self.judge(request, outcome):
                return False
        return True

    # --- metrics -----------------------------------------------------------------------------

    def judge(self, request: checks.QueryMetric, outcome: checks.Response) -> bool:
        """Record a metric's outcome and tell whether the check passed (emitting the halt)."""
        metric, source = request.metric, request.source
        if isinstance(outcome, checks.WebhookResult):
            raise TypeError(f"a metric query needs a metric outcome, got {outcome!r}")
        if isinstance(outcome, checks.TemplateError):
            self.error(outcome.message)
            return False
        if isinstance(outcome, checks.NoValues):
            self.warn(self.no_values(metric, source, outcome.error))
            return False
        if isinstance(outcome, checks.QueryFailed):
            if source == "query":
                self.error(messages.prometheus_failed_for(metric.name, outcome.error))
            elif source == "template":
                self.error(messages.metric_query_failed(metric.name, outcome.error))
            else:
                self.error(messages.prometheus_failed(outcome.error))
            return False
        if isinstance(outcome, checks.Samples):
            return self.judge_against_baseline(metric, outcome)
        value = outcome.value
        # the built-in request-duration is checked in milliseconds but recorded in seconds
        # (Flagger's SetAnalysis(val.Seconds()); its dashboards and alerts assume seconds)
        recorded = value / 1000.0 if source == "request-duration" else value
        self.act(decision.RecordMetricValue(metric.name, recorded))
        halt = self.halt_message(metric, source, value)
        if halt is not None:
            self.warn(halt)
            return False
        return True

    def judge_against_baseline(
        self, metric: analysis_api.CanaryMetric, samples: checks.Samples
    ) -> bool:
        """The baseline judge (an extension): pass unless the canary is significantly worse."""
        verdict = baseline.judge(
            self.name,
            metric.name,
            samples.canary,
            samples.primary,
            samples.comparison,
            samples.baseline,
        )
        if verdict is None:
            self.warn(
                messages.baseline_too_few(
                    self.name,
                    metric.name,
                    len(samples.canary),
                    len(samples.primary),
                    baseline.MIN_SAMPLES,
                )
            )
            return False
        self.act(decision.RecordMetricValue(metric.name, verdict.canary_median))
        if verdict.worse:
            self.warn(verdict.message)
            return False
        self.event(verdict.message)
        return True

    def no_values(self, metric: analysis_api.CanaryMetric, source: str, error: str) -> str:
        if source == "request-success-rate":
            provider = metrics_provider(self.canary, self.mesh_provider)
            return messages.no_values_builtin(provider, metric.name, self.target, error)
        if source == "request-duration":
            provider = metrics_provider(self.canary, self.mesh_provider)
            return messages.no_values_builtin(provider, metric.name, self.target, None)
        if source == "query":
            return messages.no_values_query(metric.name)
        return messages.no_values_custom(metric.name, error)

    def halt_message(
        self, metric: analysis_api.CanaryMetric, source: str, value: float
    ) -> str | None:
        """Flagger's "halt advancement" message when ``value`` is out of the metric's
        threshold (or ``thresholdRange``), else None."""
        if source == "request-success-rate":
            return self.success_rate_halt(metric, value)
        if source == "request-duration":
            return self.duration_halt(metric, value)
        return self.custom_metric_halt(metric, value)

    def success_rate_halt(self, metric: analysis_api.CanaryMetric, value: float) -> str | None:
        """The builtin success rate: below ``threshold``, or out of ``thresholdRange``."""
        low, high = _limits(metric)
        if metric.threshold_range is None:
            threshold = _threshold(metric)
            return (
                messages.success_rate_below(self.name, value, threshold)
                if threshold > value
                else None
            )
        if low is not None and value < low:
            return messages.success_rate_below(self.name, value, low)
        if high is not None and value > high:
            return messages.success_rate_above(self.name, value, high)
        return None

    def duration_halt(self, metric: analysis_api.CanaryMetric, value: float) -> str | None:
        """The builtin duration, compared in Go's whole milliseconds."""
        low, high = _limits(metric)
        millis = messages.go_milliseconds(value)
        if metric.threshold_range is None:
            limit = messages.go_milliseconds(_threshold(metric))
            return messages.duration_above(self.name, millis, limit) if millis > limit else None
        if low is not None and millis < messages.go_milliseconds(low):
            return messages.duration_below(self.name, millis, messages.go_milliseconds(low))
        if high is not None and millis > messages.go_milliseconds(high):
            return messages.duration_above(self.name, millis, messages.go_milliseconds(high))
        return None

    def custom_metric_halt(self, metric: analysis_api.CanaryMetric, value: float) -> str | None:
        """A templated or query metric: above ``threshold``, or out of ``thresholdRange``."""
        low, high = _limits(metric)
        if metric.threshold_range is None:
            threshold = _threshold(metric)
            return (
                messages.metric_above(self.name, metric.name, value, threshold)
                if value > threshold
                else None
            )
        if low is not None and value < low:
            return messages.metric_below(self.name, metric.name, value, low)
        if high is not None and value > high:
            return messages.metric_above(self.name, metric.name, value, high)
        return None

    # --- strategies --------------------------------------------------------------------------

    def promote(self) -> None:
        if self.by_replicas:
            # all replicas back on the primary first: the promotion then rolls its pods
            self.set_routes(weights.TOTAL_WEIGHT, 0)
            self.act(decision.RecordWeight(weights.TOTAL_WEIGHT, 0))
        self.event(messages.copying(self.target, self.primary))
        self.act(decision.Promote())
        self.editor.set_phase(Phase.PROMOTING)

    def run_ab(self, iterations: int) -> Generator[checks.Request, checks.Response, None]:
        done = self.editor.iterations
        if iterations > done:
            self.set_routes(0, weights.TOTAL_WEIGHT)
            self.act(decision.RecordWeight(0, weights.TOTAL_WEIGHT))
            self.editor.set_iterations(done + 1)
            self.event(messages.advance_iteration(self.name, done + 1, iterations))
            return
        if not (yield from self.confirm_promotion_hooks()):
            return
        if iterations == done:
            self.promote()

    def run_blue_green(
        self, iterations: int, mirrored: bool
    ) -> Generator[checks.Request, checks.Response, None]:
        done = self.editor.iterations
        if iterations > done:
            if self.provider != KUBERNETES and self.spec.mirror and not mirrored:
                self.set_routes(weights.TOTAL_WEIGHT, 0, True)
                self.act(decision.Log(messages.START_MIRRORING))
            self.editor.set_iterations(done + 1)
            self.event(messages.advance_iteration(self.name, done + 1, iterations))
            return
        if not (yield from self.confirm_promotion_hooks()):
            return
        if iterations == done:
            if self.provider != KUBERNETES:
                text = messages.STOP_MIRRORING if self.spec.mirror else messages.ALL_TO_CANARY
                self.event(text)
                self.set_routes(0, weights.TOTAL_WEIGHT)
                self.act(decision.RecordWeight(0, weights.TOTAL_WEIGHT))
            self.editor.set_iterations(done + 1)
            return
        if iterations < done:
            self.promote()

    def run_canary(
        self, primary_weight: int, canary_weight: int, mirrored: bool, max_weight: int
    ) -> Generator[checks.Request, checks.Response, None]:
        if canary_weight < max_weight:
            step = weights.next_step_weight(self.spec, canary_weight)
            if self.spec.mirror and canary_weight == 0:
                if not mirrored:
                    mirrored, primary_weight, canary_weight = True, weights.TOTAL_WEIGHT, 0
                else:
                    mirrored = False
                    primary_weight, canary_weight = weights.TOTAL_WEIGHT - step, step
                self.act(
                    decision.Log(messages.mirror_step(primary_weight, canary_weight, mirrored))
                )
            else:
                primary_weight = max(primary_weight - step, 0)
                canary_weight = min(canary_weight + step, weights.TOTAL_WEIGHT)
            self.set_routes(primary_weight, canary_weight, mirrored)
            self.editor.set_weight(canary_weight)
            self.act(decision.RecordWeight(primary_weight, canary_weight))
            self.event(messages.advance_canary_weight(self.name, canary_weight))
            if self.by_replicas:
                parts = replica_weights.split(self.obs.replicas, canary_weight)
                self.event(
                    messages.replica_split(
                        self.name, parts.canary, parts.primary, parts.share, canary_weight
                    )
                )
            return
        if not (yield from self.confirm_promotion_hooks()):
            return
        self.promote()

    # --- promotion, success, rollback --------------------------------------------------------

    def promotion_traffic_shift(self, primary_weight: int, canary_weight: int) -> None:
        if self.provider == KUBERNETES:
            self.editor.set_phase(Phase.FINALISING)
            return
        step = self.spec.step_weight_promotion or 0
        if step == 0:
            self.event(messages.ALL_TO_PRIMARY)
            self.set_routes(weights.TOTAL_WEIGHT, 0)
            self.act(decision.RecordWeight(weights.TOTAL_WEIGHT, 0))
            self.editor.set_phase(Phase.FINALISING)
            return
        if canary_weight > 0:
            primary_weight = min(primary_weight + step, weights.TOTAL_WEIGHT)
            canary_weight = max(canary_weight - step, 0)
            self.set_routes(primary_weight, canary_weight)
            self.act(decision.RecordWeight(primary_weight, canary_weight))
            self.event(messages.advance_primary_weight(self.name, primary_weight))
            if primary_weight == weights.TOTAL_WEIGHT:
                self.editor.set_phase(Phase.FINALISING)
            else:
                self.editor.set_weight(canary_weight)

    def finalise(self) -> None:
        if self.has_scaler:
            self.act(decision.PauseTargetScaler())
        self.act(decision.ScaleToZero())
        self.editor.set_phase(Phase.SUCCEEDED)
        self.editor.remember_promoted(self.window)
        self.act(decision.RecordPhase(Phase.SUCCEEDED))
        self.act(decision.RunPostRolloutHooks(Phase.SUCCEEDED))
        self.event(messages.promotion_completed(self.target))
        self.alert(messages.ALERT_SUCCEEDED, "info")
        self.act(decision.RecordOutcome(True, canary_api.strategy_for(self.canary.spec)))

    def skip_analysis(self) -> None:
        self.promote_at_once()
        self.event(messages.promotion_skipped(self.target))
        self.alert(messages.ALERT_SKIPPED, "info")
        self.act(decision.RecordOutcome(True, canary_api.strategy_for(self.canary.spec)))

    def promote_at_once(self) -> None:
        """All traffic to the primary, the target copied onto it, the canary scaled to zero,
        Succeeded (skipAnalysis, and the rollback window's fast rollback)."""
        self.set_routes(weights.TOTAL_WEIGHT, 0)
        self.act(decision.RecordWeight(weights.TOTAL_WEIGHT, 0))
        self.event(messages.copying(self.target, self.primary))
        self.act(decision.Promote())
        if self.has_scaler:
            self.act(decision.ReconcilePrimaryScaler())
            self.act(decision.PauseTargetScaler())
        self.act(decision.ScaleToZero())
        self.editor.set_phase(Phase.SUCCEEDED)
        self.editor.remember_promoted(self.window)
        self.act(decision.RecordPhase(Phase.SUCCEEDED))
        self.act(decision.RunPostRolloutHooks(Phase.SUCCEEDED))

    def rollback(self) -> None:
        """Route everything to the primary, scale the canary to zero, mark Failed."""
        failed_checks = self.editor.failed_checks
        if failed_checks >= self.spec.effective_threshold:
            self.warn(messages.threshold_reached(self.name, failed_checks))
            self.alert(messages.alert_threshold(failed_checks), "error")
        self.set_routes(weights.TOTAL_WEIGHT, 0)
        self.warn(messages.canary_failed(self.name), phase=Phase.FAILED)
        self.act(decision.RecordWeight(weights.TOTAL_WEIGHT, 0))
        if self.has_scaler:
            self.act(decision.PauseTargetScaler())
        self.act(decision.ScaleToZero())
        self.editor.sync(Phase.FAILED)
        self.act(decision.RecordPhase(Phase.FAILED))
        self.act(decision.RunPostRolloutHooks(Phase.FAILED))
        self.act(decision.RecordOutcome(False, canary_api.strategy_for(self.canary.spec)))

    def fail_promotion(self, error: str) -> None:
        """The promoted primary cannot become ready: keep the healthy canary serving.

        Rolling back here would send all traffic to the broken primary and scale the only
        working copy of the new revision to zero (fluxcd/flagger#1931), so the canary gets all
        the traffic and keeps its replicas; the run is marked Failed.
        """
        self.warn(messages.promotion_failed(self.target, error))
        self.alert(messages.alert_promotion_failed(error), "error")
        self.set_routes(0, weights.TOTAL_WEIGHT)
        self.act(decision.RecordWeight(0, weights.TOTAL_WEIGHT))
        # Flagger's SyncStatus(Failed) with the weight that matches the routing
        self.editor.sync(Phase.FAILED, weight=weights.TOTAL_WEIGHT)
        self.act(decision.RecordPhase(Phase.FAILED))
        self.act(decision.RunPostRolloutHooks(Phase.FAILED))
        self.act(decision.RecordOutcome(False, canary_api.strategy_for(self.canary.spec)))


def _rollback_window(canary: canary_api.Canary) -> int:
    """The rollback window K (0: off); a bad annotation is reported by validation, not here."""
    try:
        return rollback_window.revisions(canary.metadata)
    except ValueError:
        return 0


def _limits(metric: analysis_api.CanaryMetric) -> tuple[float | None, float | None]:
    """``thresholdRange``'s ``min`` and ``max`` (None when unset)."""
    limits = metric.threshold_range
    return (limits.min, limits.max) if limits is not None else (None, None)


def _threshold(metric: analysis_api.CanaryMetric) -> float:
    """``threshold``, 0 when unset."""
    return metric.threshold if metric.threshold is not None else 0
