"""One tick of one canary: observe the world, let the state machine decide, act, write status.

The order follows Flagger's ``advanceCanary`` (``reference/flagger.md`` §3): read the Canary from
the watch cache (read-your-writes: a status written by the last tick is seen), validate it (once
per resourceVersion),
create the ``-canary``/``-primary`` Services, initialise the primary workload and its
autoscaler, point the apex Service at the primary, reconcile the mesh router, then observe the
revision, the routes and the readiness of both workloads and hand everything to
:func:`flagger.analysis.engine.tick`. The checks it asks for are answered by
:class:`~flagger.controller.answers.Answers`; its actions are carried out in order; the
status is written once at the end. This module keeps only that order; the jobs live by name:
:mod:`~flagger.controller.observe` (reading the world), :mod:`~flagger.controller.act`
(routers, workloads, hooks, alerts), :mod:`~flagger.controller.finalize` (``revertOnDeletion``)
and :mod:`~flagger.controller.report` (conditions, Events, the status write's extra fields).

A problem that is the user's to fix (an invalid spec, a missing target, an unknown provider)
becomes a Warning event, a log line and the ``Configured=False`` condition on the Canary's
status, naming the problem; the canary is looked at again on its next interval and nothing else
is affected.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Mapping
from typing import Any

from flagger import plugins
from flagger.analysis import engine, messages, observation
from flagger.analysis import status_editor as status_edit
from flagger.api import canary as canary_api
from flagger.api import documents, replica_weights
from flagger.api import status as status_api
from flagger.controller import act, finalize, observe, references, report, status_writer, switchover
from flagger.controller import shell as shell_api
from flagger.controller.act import ReportedRouter
from flagger.controller.observe import seconds_until_due
from flagger.controller.report import check_stamp
from flagger.controller.shell import Shell, UserError
from flagger.kube import cache, read_trace
from flagger.workloads import controller as workloads
from flagger.workloads import readiness as workload_readiness
from flagger.workloads import workload_errors

__all__ = [
    "Outcome",
    "ReportedRouter",
    "Shell",
    "UserError",
    "check_stamp",
    "seconds_until_due",
    "tick",
]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the scheduler needs to know after a tick."""

    exists: bool
    interval: float
    target: str = ""
    tracked: frozenset[str] = frozenset()


#: Phases in which a tick's decision depends only on what it reads, not on the clock.
AT_REST = frozenset(
    {
        status_api.CanaryPhase.INITIALIZED,
        status_api.CanaryPhase.SUCCEEDED,
        status_api.CanaryPhase.FAILED,
    }
)


async def tick(shell: Shell, name: str, namespace: str) -> Outcome:
    """Run one tick of Canary ``namespace/name``.

    A problem with the Canary or what it points at is reported on it (``Configured=False``, a
    Warning) and returned from; only a failure to reach the API server raises
    (:func:`flagger.kube.errors.is_outage`), which the scheduler logs and retries.
    ``tests/unit/controller/test_tick_properties.py`` holds it to that.

    A canary at rest (:data:`AT_REST`) whose last tick sent no request, recorded no Event and
    called no hook is not ticked again while every object that tick read from the watch caches
    is at the same resourceVersion (:mod:`flagger.kube.read_trace`): the same inputs give the
    same nothing. Any change — the Canary, its target, primary, Services, references — or a
    write of ours in flight runs the tick in full."""
    key = (namespace, name)
    resting = shell.resting.pop(key, None)
    if (
        resting is not None
        and isinstance(shell.kube, cache.CachedKube)
        and resting.trace.unchanged(shell.kube)
    ):
        shell.resting[key] = resting
        outcome: Outcome = resting.outcome
        return outcome
    with read_trace.tracing() as trace:
        outcome, phase = await _tick(shell, name, namespace)
    if outcome.exists and phase in AT_REST and not trace.opaque:
        shell.resting[key] = shell_api.Resting(trace, outcome)
    return outcome


async def _tick(shell: Shell, name: str, namespace: str) -> tuple[Outcome, str]:
    """One tick in full; its outcome, and the phase the Canary had when read."""
    found = await cache.peek(shell.kube, shell_api.API_VERSION, "Canary", name, namespace)
    if found is None:
        shell.spec_checks.forget(namespace, name)
        return Outcome(exists=False, interval=0.0), ""
    phase = str((found.get("status") or {}).get("phase") or "")
    return await _tick_found(shell, name, namespace, found), phase


async def _tick_found(shell: Shell, name: str, namespace: str, found: Mapping[str, Any]) -> Outcome:
    raw = dict(found)  # shallow: the tick replaces keys of its own copy, never edits within
    problems = [p for p in shell.spec_checks.problems(raw, shell.known) if p.is_error]
    if problems:
        text = "; ".join(p.message for p in problems)
        await report.problem(
            shell, raw, "InvalidSpec", f"Canary {name}.{namespace} is invalid: {text}"
        )
        return Outcome(exists=True, interval=observe.interval_of(raw))
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
        if await finalize.handle_finalizer(shell, canary, raw):
            return outcome
        blocked = (
            observe.cross_namespace_ref(canary) if shell.options.no_cross_namespace_refs else ""
        )
        if blocked:
            await report.problem(shell, raw, "InvalidSpec", f"invalid canary spec: {blocked}")
            return outcome
        missing = await references.missing_reference(shell.kube, canary)
        if missing:
            await report.problem(shell, raw, "MissingReference", missing)
            return outcome
        if canary.spec.suspend:
            shell_api.log.debug(messages.suspended(), canary=canary)
            # Flagger records it (an Event whose count grows each tick, and the event webhook)
            shell.recorder.record_info(canary, messages.suspended())
            await act.refuse_while_suspended(shell, canary, raw)
            return outcome
        wait = await _advance(shell, canary, raw)
        if wait is not None:
            return dataclasses.replace(outcome, interval=wait)
    except UserError as exc:
        await report.problem(shell, raw, exc.reason, str(exc))
    except (workload_errors.WorkloadError, plugins.UnknownPlugin, plugins.RouterError) as exc:
        await report.problem(shell, raw, "ReconcileError", str(exc))
    return outcome


async def _advance(shell: Shell, canary: canary_api.Canary, raw: dict[str, Any]) -> float | None:
    """One step of the analysis; the seconds to wait instead of the interval, if any."""
    now = datetime.datetime.now(datetime.UTC)
    current = canary.status or status_api.CanaryStatus()
    if current.phase in (None, status_api.CanaryPhase.NEW):
        # said once, when the Canary is first seen: what the daemon adjusts (an interval below
        # 10s is run every 10s, as Flagger does) and other warnings of `flagger validate`
        for problem in shell.spec_checks.problems(raw, shell.known):
            if not problem.is_error:
                shell_api.log.warning(problem.message, canary=canary)
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
    services = await act.service_router(shell, canary, workload)
    await services.initialize(canary)
    if first_run and not canary.spec.effective_skip_analysis:
        await act.check_metric_providers(shell, canary)
    init = await workload.initialize(canary)
    for line in init.log_lines:
        shell_api.log.info(line, canary=canary)
    if canary.spec.autoscaler_ref is not None:
        # Flagger creates the primary's autoscaler here and updates it only at promotion
        # (fluxcd/flagger#591): a target HPA edit waits for the next promotion.
        scaler_line = await workload.reconcile_primary_scaler(canary, init=True)
        if scaler_line:
            shell_api.log.info(scaler_line, canary=canary)
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
        primary=observe.readiness(primary_ready),
        replicas=await observe.replica_total(shell, canary)
        if replica_weights.enabled(canary.metadata)
        else 0,
        canary=observe.readiness(canary_ready),
        action=observe.pending_action(canary, raw),
    )
    wait = seconds_until_due(canary, observed.spec_hash, now, seen.action is not None)
    if wait is not None:
        read_trace.opaque("waiting for the interval")  # the clock decides, not the reads
        shell_api.log.debug(
            f"Next check in {wait:.1f}s (analysis.interval since the last)", canary=canary
        )
        return wait
    # The step's Events wait for its status to be written: when that fails, the next tick does
    # the step again (its hooks repeat their Idempotency-Key) and records them again.
    with shell.recorder.held():
        began = time.monotonic()
        ticking = engine.tick(canary, seen, mesh_provider=shell.options.mesh_provider)
        decided, asked = await act.drive(shell, canary, ticking)
        done = await act.execute(shell, canary, decided, router, workload)
        if decided.record_duration:
            shell.metrics.observe_duration(canary, time.monotonic() - began)
        if not done:
            return None
        # The decision's status, plus cookies a router recorded, minus a cleared problem condition.
        stored = dict(raw.get("status") or {})
        status = decided.status.to_dict() if decided.status is not None else stored
        status = {**status, **report.cookies(canary, decided)}
        status = report.without_configured(status) or status
        # lastCheckTime keeps checks an interval apart across restarts and makes a held step's
        # hook calls new ones (hooks.idempotency): written with a tick that asked a hook or a
        # metric, or changed the status; not by one that only waited (a canary not ready yet),
        # which would be a status write per canary per interval for nothing.
        checking = phase in observe.CHECKING or status.get("phase") in observe.CHECKING
        if checking and (asked or status != stored):
            status = {**status, "lastCheckTime": check_stamp(now)}
        if status != stored:
            await status_writer.write(shell.kube, canary.name, canary.namespace, status)
    return None
