"""One tick of one canary: observe the world, let the state machine decide, act, write status.

The order follows Flagger's ``advanceCanary`` (``reference/flagger.md`` §3): read the Canary from
the API server (never from a cache, so a status written by the last tick is seen), validate it,
create the ``-canary``/``-primary`` Services, initialise the primary workload and its
autoscaler, point the apex Service at the primary, reconcile the mesh router, then observe the
revision, the routes and the readiness of both workloads and hand everything to
:func:`flagger.analysis.engine.tick`. The checks it asks for are answered by
:class:`~flagger.controller.answers.Answers`; its actions are carried out here in order; the
status is written once at the end.

A problem that is the user's to fix (an invalid spec, a missing target, an unknown provider)
becomes a Warning event, a log line and the ``Configured=False`` condition on the Canary's
status, naming the problem; the canary is looked at again on its next interval and nothing else
is affected.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp

from flagger import options as options_api
from flagger import plugins
from flagger import services as services_api
from flagger.alerting import notifications
from flagger.analysis import checks, decision, engine, manual, messages, observation
from flagger.analysis import status_editor as status_edit
from flagger.api import actions, documents, durations, replica_weights, validation
from flagger.api import canary as canary_api
from flagger.api import metric_template as template_api
from flagger.api import status as status_api
from flagger.controller import answers as answers_api
from flagger.controller import references, status_writer, switchover
from flagger.hooks import calls
from flagger.kube import client as kube_client
from flagger.kube import errors as kube_errors
from flagger.observability import events, logs
from flagger.observability import metrics as metrics_api
from flagger.workloads import contract, workload_errors, workload_options
from flagger.workloads import controller as workloads
from flagger.workloads import readiness as workload_readiness

API_VERSION = "flagger.app/v1beta1"
CONFIGURED = "Configured"
FINALIZER = "finalizer.flagger.app"
log = logs.get_logger("flagger.controller")


class UserError(Exception):
    """A problem with the Canary or what it points at, reported on its status."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass
class Shell:
    """What a tick needs from the daemon: clients, plugins, recorders and options."""

    kube: kube_client.Kube
    installed: plugins.Plugins
    context: plugins.PluginContext
    answers: answers_api.Answers
    recorder: events.EventRecorder
    metrics: metrics_api.Metrics
    options: options_api.Options
    session: aiohttp.ClientSession
    known: validation.KnownNames
    notifications: notifications.Notifications

    @property
    def workload_settings(self) -> workload_options.Options:
        prefixes = self.options.include_label_prefix or ("",)
        return workload_options.Options(
            selector_labels=self.options.selector_labels,
            include_label_prefixes=prefixes,
            config_tracking=self.options.enable_config_tracking,
        )


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the scheduler needs to know after a tick."""

    exists: bool
    interval: float
    target: str = ""
    tracked: frozenset[str] = frozenset()


async def tick(shell: Shell, name: str, namespace: str) -> Outcome:
    """Run one tick of Canary ``namespace/name``."""
    raw = await shell.kube.get(API_VERSION, "Canary", name, namespace)
    if raw is None:
        return Outcome(exists=False, interval=0.0)
    problems = [p for p in validation.validate(raw, shell.known) if p.is_error]
    if problems:
        text = "; ".join(p.message for p in problems)
        await _report(shell, raw, "InvalidSpec", f"Canary {name}.{namespace} is invalid: {text}")
        return Outcome(exists=True, interval=_interval_of(raw))
    parsed = documents.parse_object(raw)
    assert isinstance(parsed, canary_api.Canary)
    canary = parsed
    outcome = Outcome(
        exists=True,
        interval=canary.spec.effective_analysis.interval_seconds
        if canary.spec.effective_analysis
        else 60.0,
        target=canary.spec.target_ref.name,
        tracked=frozenset((canary.status.tracked_configs or {}) if canary.status else {}),
    )
    try:
        if await _handle_finalizer(shell, canary, raw):
            return outcome
        blocked = _cross_namespace_ref(canary) if shell.options.no_cross_namespace_refs else ""
        if blocked:
            await _report(shell, raw, "InvalidSpec", f"invalid canary spec: {blocked}")
            return outcome
        missing = await references.missing_reference(shell.kube, canary)
        if missing:
            await _report(shell, raw, "MissingReference", missing)
            return outcome
        if canary.spec.suspend:
            log.debug(messages.suspended(), canary=canary)
            # Flagger records it (an Event whose count grows each tick, and the event webhook)
            shell.recorder.record_info(canary, messages.suspended())
            await _refuse_while_suspended(shell, canary, raw)
            return outcome
        wait = await _advance(shell, canary, raw)
        if wait is not None:
            return dataclasses.replace(outcome, interval=wait)
    except UserError as exc:
        await _report(shell, raw, exc.reason, str(exc))
    except (workload_errors.WorkloadError, plugins.UnknownPlugin, plugins.RouterError) as exc:
        await _report(shell, raw, "ReconcileError", str(exc))
    return outcome


#: Phases whose ticks run the analysis checks; their time is kept in ``status.lastCheckTime``.
CHECKING = frozenset(
    {
        status_api.CanaryPhase.PROGRESSING,
        status_api.CanaryPhase.WAITING_PROMOTION,
        status_api.CanaryPhase.PROMOTING,
        status_api.CanaryPhase.FINALISING,
    }
)


def seconds_until_due(
    canary: canary_api.Canary, revision: str, now: datetime.datetime, manual: bool
) -> float | None:
    """Seconds before the next check may run, when a check ran less than ``analysis.interval``
    ago (by ``status.lastCheckTime``, so it holds across restarts); None when it may run now.

    A new revision or a request made by hand is never held back."""
    status = canary.status
    settings = canary.spec.effective_analysis
    if status is None or settings is None or manual or not status.last_check_time:
        return None
    if status.phase not in CHECKING or status.last_applied_spec != revision:
        return None
    try:
        last = datetime.datetime.fromisoformat(status.last_check_time.replace("Z", "+00:00"))
    except ValueError:
        return None
    if last.tzinfo is None:
        last = last.replace(tzinfo=datetime.UTC)
    left = (last - now).total_seconds() + settings.interval_seconds
    return left if left > 0 else None


def check_stamp(now: datetime.datetime) -> str:
    """``status.lastCheckTime`` for a check at ``now``: rounded up to the second, so the next
    check is never due early."""
    whole = now.replace(microsecond=0)
    return status_edit.timestamp(whole if whole == now else whole + datetime.timedelta(seconds=1))


_T = TypeVar("_T")


class ReportedRouter:
    """A router whose failures reach the Canary: any exception it raises, other than the API
    server's own (an outage is retried, not reported), becomes a :class:`plugins.RouterError`,
    which the tick reports as a Warning event and ``Configured=False``. A third-party router's
    ``KeyError`` is thus reported like a built-in router's ``RouterError``."""

    def __init__(self, provider: str, router: plugins.Router) -> None:
        self.provider = provider
        self.router = router

    async def _guard(self, call: Awaitable[_T]) -> _T:
        try:
            return await call
        except plugins.PluginError:
            raise
        except Exception as exc:
            if kube_errors.is_outage(exc):
                raise
            raise plugins.RouterError(
                f"{self.provider} router failed: {type(exc).__name__}: {exc}"
            ) from exc

    async def reconcile(self, canary: canary_api.Canary) -> None:
        await self._guard(self.router.reconcile(canary))

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        await self._guard(self.router.set_routes(canary, primary_weight, canary_weight, mirrored))

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        return await self._guard(self.router.get_routes(canary))

    async def finalize(self, canary: canary_api.Canary) -> None:
        await self._guard(self.router.finalize(canary))


async def _advance(shell: Shell, canary: canary_api.Canary, raw: dict[str, Any]) -> float | None:
    """One step of the analysis; the seconds to wait instead of the interval, if any."""
    now = datetime.datetime.now(datetime.UTC)
    current = canary.status or status_api.CanaryStatus()
    if current.phase in (None, status_api.CanaryPhase.NEW):
        # said once, when the Canary is first seen: what the daemon adjusts (an interval below
        # 10s is run every 10s, as Flagger does) and other warnings of `flagger validate`
        for problem in validation.validate(raw, shell.known):
            if not problem.is_error:
                log.warning(problem.message, canary=canary)
        initializing = status_edit.initializing(canary, now)
        written = await status_writer.write(
            shell.kube, canary.name, canary.namespace, initializing.to_dict()
        )
        if written is None:
            return None
        canary = canary.model_copy(update={"status": initializing})
        raw = written
    phase = (canary.status.phase if canary.status else None) or status_api.CanaryPhase.NEW
    first_run = phase in (status_api.CanaryPhase.NEW, status_api.CanaryPhase.INITIALIZING)

    provider = engine.effective_provider(canary, shell.options.mesh_provider)
    router = ReportedRouter(provider, shell.installed.router(provider, shell.context))
    workload = workloads.for_canary(shell.kube, canary, shell.workload_settings)
    services = await _service_router(shell, canary, workload)
    await services.initialize(canary)
    if first_run and not canary.spec.effective_skip_analysis:
        await _check_metric_providers(shell, canary)
    init = await workload.initialize(canary)
    for line in init.log_lines:
        log.info(line, canary=canary)
    if canary.spec.autoscaler_ref is not None:
        # Flagger creates the primary's autoscaler here and updates it only at promotion
        # (fluxcd/flagger#591): a target HPA edit waits for the next promotion.
        scaler_line = await workload.reconcile_primary_scaler(canary, init=True)
        if scaler_line:
            log.info(scaler_line, canary=canary)
    await services.reconcile(canary)
    await router.reconcile(canary)

    revision = await workload.revision(canary)
    observed = observation.Revision(
        revision.spec_hash,
        revision.tracked_configs if shell.options.enable_config_tracking else None,
    )
    adopted = await switchover.adopt_foreign_revision(shell.kube, canary, workload, observed)
    if adopted is not canary and adopted.status is not None:
        canary, raw = adopted, {**raw, "status": adopted.status.to_dict()}
    primary, canary_weight, mirrored = await router.get_routes(canary)
    primary_ready = init.readiness if first_run else await workload.is_primary_ready(canary)
    canary_ready = (
        workload_readiness.Readiness.ok() if first_run else await workload.is_canary_ready(canary)
    )
    seen = observation.Observation(
        now=now,
        revision=observed,
        routes=observation.Routes(primary, canary_weight, mirrored),
        primary=_readiness(primary_ready),
        replicas=await _replica_total(shell, canary)
        if replica_weights.enabled(canary.metadata)
        else 0,
        canary=_readiness(canary_ready),
        action=_pending_action(canary, raw),
    )
    wait = seconds_until_due(canary, observed.spec_hash, now, seen.action is not None)
    if wait is not None:
        log.debug(f"Next check in {wait:.1f}s (analysis.interval since the last)", canary=canary)
        return wait
    began = time.monotonic()
    ticking = engine.tick(canary, seen, mesh_provider=shell.options.mesh_provider)
    decided = await _drive(shell, canary, ticking)
    done = await _execute(shell, canary, decided, router, workload)
    if decided.record_duration:
        shell.metrics.observe_duration(canary, time.monotonic() - began)
    if not done:
        return None
    # The decision's status, plus cookies a router recorded, minus a cleared problem condition.
    stored = dict(raw.get("status") or {})
    status = decided.status.to_dict() if decided.status is not None else stored
    status = {**status, **_cookies(canary, decided)}
    status = _without_configured(status) or status
    if phase in CHECKING or status.get("phase") in CHECKING:
        status = {**status, "lastCheckTime": check_stamp(now)}
    if status != stored:
        await status_writer.write(shell.kube, canary.name, canary.namespace, status)
    return None


async def _handle_finalizer(shell: Shell, canary: canary_api.Canary, raw: dict[str, Any]) -> bool:
    """``revertOnDeletion``: keep the finalizer on the Canary, and when it is deleted give the
    target back its traffic before letting it go. True when the tick is done."""
    meta = raw.get("metadata") or {}
    finalizers: list[str] = list(meta.get("finalizers") or [])
    ours = FINALIZER in finalizers
    wanted = bool(canary.spec.revert_on_deletion)
    if not meta.get("deletionTimestamp"):
        if wanted != ours:
            changed = (
                [*finalizers, FINALIZER] if wanted else [f for f in finalizers if f != FINALIZER]
            )
            await shell.kube.patch(
                API_VERSION,
                "Canary",
                canary.name,
                canary.namespace,
                {
                    "metadata": {
                        "finalizers": changed,
                        "resourceVersion": meta.get("resourceVersion"),
                    }
                },
            )
        return False
    if not ours:
        return True  # being deleted, nothing of ours to undo
    phase = canary.status.phase if canary.status else None
    if phase is not status_api.CanaryPhase.TERMINATING:
        status = (canary.status or status_api.CanaryStatus()).model_copy()
        status.phase = status_api.CanaryPhase.TERMINATING
        await status_writer.write(shell.kube, canary.name, canary.namespace, status.to_dict())
        shell.recorder.record_info(canary, f"Terminating canary {canary.name}.{canary.namespace}")
    ref = canary.spec.target_ref
    if await shell.kube.get(ref.api_version, ref.kind, ref.name, canary.namespace) is None:
        await _release(shell, canary, f"{ref.kind} {ref.name}.{canary.namespace} is gone")
        return True
    try:
        return await _revert(shell, canary)
    except kube_errors.ApiError as exc:
        if "being terminated" not in exc.message:  # Kubernetes' NamespaceTerminating refusal
            raise
        await _release(shell, canary, f"namespace {canary.namespace} is being deleted")
        return True


async def _release(shell: Shell, canary: canary_api.Canary, why: str) -> None:
    """Let the Canary go without a revert: nothing is left to revert to. A finalizer must never
    block the deletion of a Canary, or of its namespace, forever."""
    shell.recorder.record_warning(
        canary,
        f"Releasing finalizer of {canary.name}.{canary.namespace} without reverting: {why}",
    )
    await _drop_finalizer(shell, canary)


async def _drop_finalizer(shell: Shell, canary: canary_api.Canary) -> None:
    fresh = await shell.kube.get(API_VERSION, "Canary", canary.name, canary.namespace)
    if fresh is not None:
        fresh_meta = fresh.get("metadata") or {}
        await shell.kube.patch(
            API_VERSION,
            "Canary",
            canary.name,
            canary.namespace,
            {
                "metadata": {
                    "finalizers": [f for f in fresh_meta.get("finalizers") or [] if f != FINALIZER],
                    "resourceVersion": fresh_meta.get("resourceVersion"),
                }
            },
        )


async def _revert(shell: Shell, canary: canary_api.Canary) -> bool:
    """Give the target back its traffic, then drop the finalizer. True (the tick is done)."""
    workload = workloads.for_canary(shell.kube, canary, shell.workload_settings)
    # Flagger resumes a KEDA ScaledObject paused at zero, or the target would stay stopped
    await workload.resume_target_scaler(canary)
    await workload.finalize(canary)
    ready = await workload.is_canary_ready(canary)
    if not ready.ready:
        log.info(
            f"Waiting for {canary.spec.target_ref.name}.{canary.namespace} to be ready "
            f"before reverting: {ready.message}",
            canary=canary,
        )
        return True
    await (await _service_router(shell, canary, workload)).finalize(canary)
    provider = engine.effective_provider(canary, shell.options.mesh_provider)
    await ReportedRouter(provider, shell.installed.router(provider, shell.context)).finalize(canary)
    await _drop_finalizer(shell, canary)
    log.info(f"Finalization complete for {canary.name}.{canary.namespace}", canary=canary)
    shell.recorder.record_info(canary, f"Terminated canary {canary.name}.{canary.namespace}")
    return True


async def _service_router(
    shell: Shell, canary: canary_api.Canary, workload: contract.WorkloadController
) -> Any:
    """The apex/primary/canary Services' router for the target's selector label."""
    ref = canary.spec.target_ref
    target = await shell.kube.get(ref.api_version, ref.kind, ref.name, canary.namespace)
    if target is None:
        raise UserError(
            "TargetNotFound",
            f"{ref.kind} {ref.name}.{canary.namespace} not found; create it or fix spec.targetRef",
        )
    meta = await workload.get_metadata(canary)
    apex_selector = _replica_apex_selector(canary, target, meta.label)
    return services_api.service_router(
        shell.kube,
        canary,
        services_api.TargetSelector(meta.label, meta.label_value, meta.ports, apex_selector),
    )


def _pending_action(
    canary: canary_api.Canary, raw: dict[str, Any]
) -> actions.ActionRequest | actions.InvalidRequest | None:
    """The request made by hand that this canary's status has not recorded yet."""
    handled = canary.status.last_action if canary.status else None
    annotations = (raw.get("metadata") or {}).get("annotations")
    return actions.pending(annotations, handled.id if handled else None)


def _replica_apex_selector(
    canary: canary_api.Canary, target: dict[str, Any], selector_label: str
) -> dict[str, str] | None:
    """With replica-based weights, the apex selects both workloads' pods by the shared label."""
    try:
        key = replica_weights.split_label(canary.metadata)
    except ValueError as exc:
        raise UserError("InvalidSpec", str(exc)) from None
    if key is None:
        return None
    ref = canary.spec.target_ref
    if ref.kind != "Deployment":
        raise UserError(
            "InvalidSpec",
            f"{replica_weights.PATH}: replica-based weights need a Deployment target, not "
            f"{ref.kind}; remove the annotation",
        )
    template = ((target.get("spec") or {}).get("template") or {}).get("metadata") or {}
    value = (template.get("labels") or {}).get(key)
    if key == selector_label or value is None:
        raise UserError(
            "InvalidSpec",
            f"{replica_weights.PATH}: the pod template of {ref.kind} {ref.name}.{canary.namespace} "
            f"has no label {key!r} besides its selector label {selector_label!r}; add one "
            f"(e.g. {key}: {ref.name}) that the primary's pods will share",
        )
    return {key: str(value)}


async def _replica_total(shell: Shell, canary: canary_api.Canary) -> int:
    """The replicas of the target and its primary together (replica-based weights)."""
    ref = canary.spec.target_ref
    total = 0
    for name in (ref.name, f"{ref.name}-primary"):
        found = await shell.kube.get(ref.api_version, ref.kind, name, canary.namespace)
        replicas = ((found or {}).get("spec") or {}).get("replicas")
        total += 0 if found is None else (1 if replicas is None else int(replicas))
    return total


async def _refuse_while_suspended(
    shell: Shell, canary: canary_api.Canary, raw: dict[str, Any]
) -> None:
    """A request made by hand on a suspended canary is refused, not kept for later."""
    pending = _pending_action(canary, raw)
    if pending is None:
        return
    now = datetime.datetime.now(datetime.UTC)
    name = messages.ref(canary.name, canary.namespace)
    message, record = manual.refused_while_suspended(name, pending, now)
    shell.recorder.record_warning(canary, message)
    status = (canary.status or status_api.CanaryStatus()).model_copy(update={"last_action": record})
    await status_writer.write(shell.kube, canary.name, canary.namespace, status.to_dict())


def _readiness(verdict: workload_readiness.Readiness) -> observation.Readiness:
    return observation.Readiness(verdict.ready, verdict.message, verdict.retriable)


async def _drive(
    shell: Shell, canary: canary_api.Canary, ticking: engine.Ticking
) -> decision.Decision:
    try:
        request = next(ticking)
        while True:
            answer: checks.Response = await shell.answers.answer(canary, request)
            request = ticking.send(answer)
    except StopIteration as finished:
        result: decision.Decision = finished.value
        return result


async def _execute(
    shell: Shell,
    canary: canary_api.Canary,
    outcome: decision.Decision,
    router: plugins.Router,
    workload: contract.WorkloadController,
) -> bool:
    """Carry out the actions in order; False when a cluster-changing one failed."""
    for action in outcome.actions:
        try:
            await _act(shell, canary, action, router, workload)
        except Exception as exc:
            if not isinstance(action, decision.FALLIBLE):
                log.failure(
                    f"{type(action).__name__} failed",
                    exc,
                    canary=canary,
                    expected=kube_errors.is_outage(exc),
                )
                continue
            shell.recorder.record_error(canary, f"{type(action).__name__} failed: {exc}")
            return False
    return True


async def _act(  # noqa: C901
    shell: Shell,
    canary: canary_api.Canary,
    action: decision.Action,
    router: plugins.Router,
    workload: contract.WorkloadController,
) -> None:
    match action:
        case decision.SetRoutes(primary=p, canary=c, mirrored=m):
            await router.set_routes(canary, p, c, m)
        case decision.Promote():
            await workload.promote(canary)
        case decision.ScaleToZero():
            await workload.scale_to_zero(canary)
        case decision.ScaleFromZero():
            await workload.scale_from_zero(canary)
        case decision.ReconcilePrimaryScaler():
            await workload.reconcile_primary_scaler(canary, init=False)
        case decision.PauseTargetScaler():
            await workload.pause_target_scaler(canary)  # KEDA; nothing to do for an HPA
        case decision.ResumeTargetScaler():
            await workload.resume_target_scaler(canary)
        case decision.RunPostRolloutHooks(phase=phase):
            await _post_rollout(shell, canary, phase)
        case decision.Event(message=message, severity=severity, phase=phase):
            record = {
                "info": shell.recorder.record_info,
                "warning": shell.recorder.record_warning,
                "error": shell.recorder.record_error,
            }[severity]
            record(_at_phase(canary, phase), message)
        case decision.Log(message=message, level=level):
            getattr(log, level)(message, canary=canary)
        case decision.Alert(message=message, severity=severity, with_details=details):
            shell.notifications.notify(canary, message, severity, with_details=details)
        case decision.RecordWeight(primary=p, canary=c):
            shell.metrics.set_weight(canary, p, c)
        case decision.RecordPhase(phase=phase):
            shell.metrics.set_status(canary, phase.value)
        case decision.RecordMetricValue(metric=metric, value=value):
            shell.metrics.observe_analysis(canary, metric, value)
        case decision.RecordOutcome(succeeded=succeeded):
            skipped = bool(canary.spec.skip_analysis) or canary.spec.effective_analysis is None
            analysis_status: metrics_api.AnalysisStatus = (
                metrics_api.ANALYSIS_SKIPPED if skipped else metrics_api.ANALYSIS_COMPLETED
            )
            if succeeded:
                shell.metrics.count_success(canary, analysis_status)
            else:
                shell.metrics.count_failure(canary, analysis_status)


def _cross_namespace_ref(canary: canary_api.Canary) -> str:
    """Flagger's ``verifyNoCrossNamespaceRefs`` (``-no-cross-namespace-refs``): the first Gloo
    upstreamRef, MetricTemplate or AlertProvider reference into another namespace; ""."""
    namespace = canary.namespace
    upstream = canary.spec.upstream_ref
    if upstream is not None and (upstream.namespace or namespace) != namespace:
        return (
            f"can't access gloo upstream {upstream.name}.{upstream.namespace}, "
            "cross-namespace references are blocked"
        )
    analysis = canary.spec.analysis
    for metric in analysis.metrics or [] if analysis else []:
        ref = metric.template_ref
        if ref is not None and (ref.namespace or namespace) != namespace:
            return (
                f"can't access metric template {ref.name}.{ref.namespace}, "
                "cross-namespace references are blocked"
            )
    for alert in analysis.alerts or [] if analysis else []:
        provider = alert.provider_ref
        if (provider.namespace or namespace) != namespace:
            return (
                f"can't access alert provider {provider.name}.{provider.namespace}, "
                "cross-namespace references are blocked"
            )
    return ""


def _at_phase(canary: canary_api.Canary, phase: status_api.CanaryPhase) -> canary_api.Canary:
    """The canary as Flagger passes it to its event recorder: with the phase the event belongs
    to (``Initialized``, ``Progressing``, ``Succeeded``, ``Failed``...), which event webhooks
    receive as ``phase``."""
    current = canary.status or status_api.CanaryStatus()
    if current.phase is phase:
        return canary
    return canary.model_copy(update={"status": current.model_copy(update={"phase": phase})})


async def _post_rollout(
    shell: Shell, canary: canary_api.Canary, phase: status_api.CanaryPhase
) -> None:
    """Flagger's ``runPostRolloutHooks``: an Event per hook that passed, and the first failure
    stops the remaining hooks. After a promotion the events carry phase Succeeded."""
    analysis = canary.spec.effective_analysis
    if phase is status_api.CanaryPhase.SUCCEEDED:
        canary = _at_phase(canary, phase)
    for hook in analysis.effective_webhooks if analysis else []:
        if hook.effective_type != "post-rollout":
            continue
        result = await calls.call(hook, canary, phase.value, session=shell.session)
        if not result.ok:
            shell.recorder.record_warning(
                canary, messages.post_rollout_failed(hook.name, result.message)
            )
            return
        shell.recorder.record_info(canary, messages.post_rollout_passed(hook.name))


async def _check_metric_providers(shell: Shell, canary: canary_api.Canary) -> None:
    """Flagger's ``checkMetricProviderAvailability`` during initialisation: the metrics server
    of the built-in metrics, then each MetricTemplate's provider, in the order of the metrics.
    The first problem is one error Event; when every provider answers, a Normal Event says so."""
    problem = await _metric_provider_problem(shell, canary)
    if problem:
        shell.recorder.record_error(canary, f"Error checking metric providers: {problem}")
    else:
        shell.recorder.record_info(canary, "all the metrics providers are available!")


async def _metric_provider_problem(shell: Shell, canary: canary_api.Canary) -> str:
    """The first unavailable metric provider, worded as Flagger 1.44 (typos included); ""."""
    analysis = canary.spec.effective_analysis
    for metric in analysis.effective_metrics if analysis else []:
        if metric.is_builtin:
            address = canary.spec.metrics_server or shell.options.metrics_server
            try:
                backend = shell.answers.metrics_server_backend(address)
                await backend.check_online()  # type: ignore[attr-defined]
            except Exception as exc:  # an unreachable provider is only worth an event
                return f"prometheus not avaiable: {exc}"
            continue
        ref = metric.template_ref
        if ref is None:
            continue
        namespace = ref.namespace or canary.namespace
        where = f"{ref.name}.{namespace}"
        raw = await shell.kube.get(
            answers_api.TEMPLATE_API_VERSION, "MetricTemplate", ref.name, namespace
        )
        if raw is None:
            found = f'metrictemplate.flagger.app "{ref.name}" not found'
            return f"metric template {where} error: {found}"
        try:
            template = template_api.MetricTemplate.model_validate(raw)
        except ValueError as exc:
            return f"metric template {where} error: {exc}"
        kind = template.spec.provider.type
        try:
            provider = await shell.answers.backend(template, namespace, metric.effective_interval)
        except LookupError:
            secret = template.spec.provider.secret_ref
            name = secret.name if secret else ""
            return f'metric template {where} secret {name} error: secrets "{name}" not found'
        except Exception as exc:
            return f"metric template {where} provider {kind} error: {exc}"
        try:
            check = getattr(provider, "check_online", None)
            if check is not None:
                await check()
            elif not await provider.is_online():
                raise RuntimeError("<nil>")
        except Exception as exc:
            return f"{kind} in metric template {where} not avaiable: {exc}"
    return ""


async def _report(shell: Shell, raw: dict[str, Any], reason: str, message: str) -> None:
    """A user-fixable problem: Warning event, error log, ``Configured=False`` condition."""
    # The object may not parse: a stand-in with its metadata is enough to record the event.
    stand_in = canary_api.Canary.model_construct(
        metadata=dict(raw.get("metadata") or {}),
        spec=canary_api.CanarySpec.model_construct(analysis=None, canary_analysis=None),
        status=None,
    )
    shell.recorder.record_error(stand_in, message)
    fresh = await shell.kube.get(API_VERSION, "Canary", stand_in.name, stand_in.namespace)
    if fresh is None:
        return
    status = dict(fresh.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != CONFIGURED]
    stamp = status_edit.timestamp(datetime.datetime.now(datetime.UTC))
    previous = next(
        (c for c in status.get("conditions") or [] if c.get("type") == CONFIGURED), None
    )
    if previous and previous.get("message") == message and previous.get("reason") == reason:
        return
    conditions.append(
        {
            "type": CONFIGURED,
            "status": "False",
            "reason": reason,
            "message": message,
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
        }
    )
    status["conditions"] = conditions
    await status_writer.write(shell.kube, stand_in.name, stand_in.namespace, status)


COOKIE_FIELDS = (
    "sessionAffinityCookie",
    "primarySessionAffinityCookie",
    "previousSessionAffinityCookie",
)


def _cookies(canary: canary_api.Canary, outcome: decision.Decision) -> dict[str, Any]:
    """Session-affinity cookies a router recorded on the canary's status while routing
    (the Istio router does), which the decision's status does not know about."""
    if canary.status is None:
        return {}
    routed = canary.status.to_dict()
    decided = outcome.status.to_dict() if outcome.status is not None else {}
    return {k: routed[k] for k in COOKIE_FIELDS if k in routed and routed[k] != decided.get(k)}


def _without_configured(status: dict[str, Any]) -> dict[str, Any] | None:
    """The status without a ``Configured`` condition, or None when it had none."""
    conditions = status.get("conditions") or []
    if not any(c.get("type") == CONFIGURED for c in conditions):
        return None
    return {**status, "conditions": [c for c in conditions if c.get("type") != CONFIGURED]}


def _interval_of(raw: dict[str, Any]) -> float:
    try:
        spec = raw.get("spec") or {}
        analysis = spec.get("analysis") or spec.get("canaryAnalysis") or {}
        return max(10.0, durations.parse_duration(str(analysis.get("interval") or "60s")))
    except (ValueError, AttributeError):
        return 60.0
