"""Reading the world for a tick: the parts of the engine's Observation the workload
controller and the router do not give (a pending request made by hand, replica totals,
readiness), when the next check is due, and the spec checks made before anything is touched."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from flagger.analysis import observation
from flagger.api import actions, durations, replica_weights
from flagger.api import canary as canary_api
from flagger.api import status as status_api
from flagger.controller import shell as shell_api
from flagger.workloads import readiness as workload_readiness

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


def pending_action(
    canary: canary_api.Canary, raw: dict[str, Any]
) -> actions.ActionRequest | actions.InvalidRequest | None:
    """The request made by hand that this canary's status has not recorded yet."""
    handled = canary.status.last_action if canary.status else None
    annotations = (raw.get("metadata") or {}).get("annotations")
    return actions.pending(annotations, handled.id if handled else None)


def replica_apex_selector(
    canary: canary_api.Canary, target: Mapping[str, Any], selector_label: str
) -> dict[str, str] | None:
    """With replica-based weights, the apex selects both workloads' pods by the shared label."""
    try:
        key = replica_weights.split_label(canary.metadata)
    except ValueError as exc:
        raise shell_api.UserError("InvalidSpec", str(exc)) from None
    if key is None:
        return None
    ref = canary.spec.target_ref
    if ref.kind != "Deployment":
        raise shell_api.UserError(
            "InvalidSpec",
            f"{replica_weights.PATH}: replica-based weights need a Deployment target, not "
            f"{ref.kind}; remove the annotation",
        )
    template = ((target.get("spec") or {}).get("template") or {}).get("metadata") or {}
    value = (template.get("labels") or {}).get(key)
    if key == selector_label or value is None:
        raise shell_api.UserError(
            "InvalidSpec",
            f"{replica_weights.PATH}: the pod template of {ref.kind} {ref.name}.{canary.namespace} "
            f"has no label {key!r} besides its selector label {selector_label!r}; add one "
            f"(e.g. {key}: {ref.name}) that the primary's pods will share",
        )
    return {key: str(value)}


async def replica_total(shell: shell_api.Shell, canary: canary_api.Canary) -> int:
    """The replicas of the target and its primary together (replica-based weights)."""
    ref = canary.spec.target_ref
    total = 0
    for name in (ref.name, f"{ref.name}-primary"):
        found = await shell.kube.get(ref.api_version, ref.kind, name, canary.namespace)
        replicas = ((found or {}).get("spec") or {}).get("replicas")
        total += 0 if found is None else (1 if replicas is None else int(replicas))
    return total


def readiness(verdict: workload_readiness.Readiness) -> observation.Readiness:
    return observation.Readiness(verdict.ready, verdict.message, verdict.retriable)


def cross_namespace_ref(canary: canary_api.Canary) -> str:
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


def interval_of(raw: dict[str, Any]) -> float:
    try:
        spec = raw.get("spec") or {}
        analysis = spec.get("analysis") or spec.get("canaryAnalysis") or {}
        return max(10.0, durations.parse_duration(str(analysis.get("interval") or "60s")))
    except (ValueError, AttributeError):
        return 60.0
