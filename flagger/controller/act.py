"""Carrying out a tick: the routers (wrapped so their failures reach the Canary), the
Services router, answering the engine's checks, and executing its actions in order: routes,
workloads, post-rollout hooks, Events, logs, alerts and metrics."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable
from typing import Any, TypeVar

from flagger import plugins
from flagger import services as services_api
from flagger.analysis import checks, decision, engine, manual, messages
from flagger.api import canary as canary_api
from flagger.api import metric_template as template_api
from flagger.api import status as status_api
from flagger.controller import answers as answers_api
from flagger.controller import observe, status_writer
from flagger.controller import shell as shell_api
from flagger.hooks import calls
from flagger.kube import cache, read_trace
from flagger.kube import errors as kube_errors
from flagger.observability import metrics as metrics_api
from flagger.workloads import contract

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


async def service_router(
    shell: shell_api.Shell, canary: canary_api.Canary, workload: contract.WorkloadController
) -> Any:
    """The apex/primary/canary Services' router for the target's selector label."""
    ref = canary.spec.target_ref
    target = await cache.peek(shell.kube, ref.api_version, ref.kind, ref.name, canary.namespace)
    if target is None:
        raise shell_api.UserError(
            "TargetNotFound",
            f"{ref.kind} {ref.name}.{canary.namespace} not found; create it or fix spec.targetRef",
        )
    meta = await workload.get_metadata(canary)
    apex_selector = observe.replica_apex_selector(canary, target, meta.label)
    return services_api.service_router(
        shell.kube,
        canary,
        services_api.TargetSelector(meta.label, meta.label_value, meta.ports, apex_selector),
    )


async def refuse_while_suspended(
    shell: shell_api.Shell, canary: canary_api.Canary, raw: dict[str, Any]
) -> None:
    """A request made by hand on a suspended canary is refused, not kept for later."""
    pending = observe.pending_action(canary, raw)
    if pending is None:
        return
    now = datetime.datetime.now(datetime.UTC)
    name = messages.ref(canary.name, canary.namespace)
    message, record = manual.refused_while_suspended(name, pending, now)
    shell.recorder.record_warning(canary, message)
    status = (canary.status or status_api.CanaryStatus()).model_copy(update={"last_action": record})
    await status_writer.write(shell.kube, canary.name, canary.namespace, status.to_dict())


async def drive(
    shell: shell_api.Shell, canary: canary_api.Canary, ticking: engine.Ticking
) -> tuple[decision.Decision, int]:
    """Answer the engine's requests (hooks, metric queries); its decision, and how many it made."""
    asked = 0
    try:
        request = next(ticking)
        while True:
            asked += 1
            answer: checks.Response = await shell.answers.answer(canary, request)
            request = ticking.send(answer)
    except StopIteration as finished:
        result: decision.Decision = finished.value
        if asked:
            read_trace.opaque("hooks or metrics asked")  # outside the watch caches
        return result, asked


async def execute(
    shell: shell_api.Shell,
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
                shell_api.log.failure(
                    f"{type(action).__name__} failed",
                    exc,
                    canary=canary,
                    expected=kube_errors.is_outage(exc),
                )
                continue
            shell.recorder.record_error(canary, f"{type(action).__name__} failed: {exc}")
            return False
    return True


async def _act(
    shell: shell_api.Shell,
    canary: canary_api.Canary,
    action: decision.Action,
    router: plugins.Router,
    workload: contract.WorkloadController,
) -> None:
    """One action, by its stage: cluster changes (routes, workload), hooks, or what the
    operator sees (events, logs, alerts, metrics)."""
    if isinstance(action, decision.SetRoutes):
        await router.set_routes(canary, action.primary, action.canary, action.mirrored)
    elif isinstance(action, decision.RunPostRolloutHooks):
        await _post_rollout(shell, canary, action.phase)
    elif not await _change_workload(canary, action, workload):
        _report(shell, canary, action)


async def _change_workload(
    canary: canary_api.Canary, action: decision.Action, workload: contract.WorkloadController
) -> bool:
    """Carry out a workload action (promote, scale, scalers); False for any other action."""
    match action:
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
        case _:
            return False
    return True


def _report(shell: shell_api.Shell, canary: canary_api.Canary, action: decision.Action) -> None:
    """Events, logs, alerts and the Prometheus metrics an action asks for."""
    match action:
        case decision.Event(message=message, severity=severity, phase=phase):
            record = {
                "info": shell.recorder.record_info,
                "warning": shell.recorder.record_warning,
                "error": shell.recorder.record_error,
            }[severity]
            record(_at_phase(canary, phase), message)
        case decision.Log(message=message, level=level):
            getattr(shell_api.log, level)(message, canary=canary)
        case decision.Alert(message=message, severity=severity, with_details=details):
            shell.notifications.notify(canary, message, severity, with_details=details)
        case decision.RecordWeight(primary=p, canary=c):
            shell.metrics.set_weight(canary, p, c)
        case decision.RecordPhase(phase=phase):
            shell.metrics.set_status(canary, phase.value)
        case decision.RecordMetricValue(metric=metric, value=value):
            shell.metrics.observe_analysis(canary, metric, value)
        case decision.RecordOutcome():
            _record_outcome(shell, canary, action)


def _record_outcome(
    shell: shell_api.Shell, canary: canary_api.Canary, outcome: decision.RecordOutcome
) -> None:
    """Count the finished run with the engine's strategy label (``skipped`` when
    ``skipAnalysis`` or no analysis promoted it)."""
    skipped = bool(canary.spec.skip_analysis) or canary.spec.effective_analysis is None
    analysis_status: metrics_api.AnalysisStatus = (
        metrics_api.ANALYSIS_SKIPPED if skipped else metrics_api.ANALYSIS_COMPLETED
    )
    count = shell.metrics.count_success if outcome.succeeded else shell.metrics.count_failure
    count(canary, analysis_status, outcome.deployment_strategy)


def _at_phase(canary: canary_api.Canary, phase: status_api.CanaryPhase) -> canary_api.Canary:
    """The canary as Flagger passes it to its event recorder: with the phase the event belongs
    to (``Initialized``, ``Progressing``, ``Succeeded``, ``Failed``...), which event webhooks
    receive as ``phase``."""
    current = canary.status or status_api.CanaryStatus()
    if current.phase is phase:
        return canary
    return canary.model_copy(update={"status": current.model_copy(update={"phase": phase})})


async def _post_rollout(
    shell: shell_api.Shell, canary: canary_api.Canary, phase: status_api.CanaryPhase
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


async def check_metric_providers(shell: shell_api.Shell, canary: canary_api.Canary) -> None:
    """Flagger's ``checkMetricProviderAvailability`` during initialisation: the metrics server
    of the built-in metrics, then each MetricTemplate's provider, in the order of the metrics.
    The first problem is one error Event; when every provider answers, a Normal Event says so."""
    problem = await _metric_provider_problem(shell, canary)
    if problem:
        shell.recorder.record_error(canary, f"Error checking metric providers: {problem}")
    else:
        shell.recorder.record_info(canary, "all the metrics providers are available!")


async def _metric_provider_problem(shell: shell_api.Shell, canary: canary_api.Canary) -> str:
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
