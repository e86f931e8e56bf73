"""Is a rollout finished? Flagger's readiness rules for Deployments and DaemonSets.

A workload is ready when the controller has observed its latest generation and enough updated
replicas are available. While it is not, the answer is *retriable* (halt this tick, look again
next tick) with one of Flagger's reasons:

    waiting for rollout to finish: 1 out of 2 new replicas have been updated
    waiting for rollout to finish: 1 old replicas are pending termination
    waiting for rollout to finish: 0 of 2 (readyThreshold 100%) updated replicas are available

The workload controllers prefix the reason as Flagger 1.44 does (`canary deployment
podinfo.test not ready: ...`, `podinfo-primary.test not ready: ...`, see `not_ready`).

It becomes *not retriable* — the caller rolls back — when the Deployment reports
`ProgressDeadlineExceeded`, or when `Available=False/MinimumReplicasUnavailable` has lasted
longer than `progressDeadlineSeconds`.
DaemonSets have no progress condition, so their deadline counts from the Canary's
`status.lastTransitionTime`.

`readyThreshold` is the percentage of updated replicas that must be available
(`primaryReadyThreshold` / `canaryReadyThreshold`, default 100), truncated like Go's int32().

The functions are pure (status in, verdict out; `now` is a parameter) so the controller can
also apply them to cached objects.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

__all__ = [
    "Readiness",
    "daemonset_readiness",
    "deployment_readiness",
    "not_ready",
    "parse_time",
]


@dataclasses.dataclass(frozen=True)
class Readiness:
    """The verdict: ready, or not with a message, retriable (wait) or not (roll back)."""

    ready: bool
    retriable: bool = True
    message: str = ""

    @classmethod
    def ok(cls) -> Readiness:
        return cls(True, True, "")

    @classmethod
    def waiting(cls, message: str) -> Readiness:
        return cls(False, True, message)

    @classmethod
    def failed(cls, message: str) -> Readiness:
        return cls(False, False, message)


def parse_time(value: str | None) -> datetime.datetime | None:
    """An RFC 3339 timestamp from the API (`2024-05-01T10:00:00Z`), timezone-aware."""
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def _threshold(count: int, ready_threshold: int) -> int:
    return int(count * (ready_threshold / 100.0))


def _halt(obj: Mapping[str, Any], reason: str) -> str:
    return f"waiting for rollout to finish: {reason}"


def not_ready(verdict: Readiness, prefix: str) -> Readiness:
    """``verdict`` with its message behind ``prefix`` (``canary deployment podinfo.test not
    ready``), as Flagger 1.44's ``IsCanaryReady``/``IsPrimaryReady`` wrap the reason."""
    if verdict.ready:
        return verdict
    return dataclasses.replace(verdict, message=f"{prefix}: {verdict.message}")


def deployment_readiness(
    deployment: Mapping[str, Any],
    *,
    deadline_seconds: int,
    ready_threshold: int = 100,
    now: datetime.datetime | None = None,
) -> Readiness:
    """Flagger's `isDeploymentReady` on a raw Deployment."""
    now = now or datetime.datetime.now(datetime.UTC)
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return Readiness.waiting(
            _halt(deployment, "observed deployment generation less than desired generation")
        )

    retriable = True
    progress = _condition(status, "Progressing")
    if progress is not None:
        available = _condition(status, "Available")
        if (
            available is not None
            and available.get("status") == "False"
            and available.get("reason") == "MinimumReplicasUnavailable"
        ):
            since = parse_time(available.get("lastUpdateTime"))
            if since is not None:
                retriable = since + datetime.timedelta(seconds=deadline_seconds) >= now

    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available_replicas = int(status.get("availableReplicas") or 0)
    wanted = spec.get("replicas")
    needed = _threshold(updated, ready_threshold)

    if progress is not None and progress.get("reason") == "ProgressDeadlineExceeded":
        return Readiness.failed(f'deployment "{meta.get("name")}" exceeded its progress deadline')
    if wanted is not None and updated < int(wanted):
        return Readiness(
            False,
            retriable,
            _halt(deployment, f"{updated} out of {wanted} new replicas have been updated"),
        )
    if replicas > updated:
        return Readiness(
            False,
            retriable,
            _halt(deployment, f"{replicas - updated} old replicas are pending termination"),
        )
    if available_replicas < needed:
        return Readiness(
            False,
            retriable,
            _halt(
                deployment,
                f"{available_replicas} of {needed} (readyThreshold {ready_threshold}%) "
                "updated replicas are available",
            ),
        )
    return Readiness.ok()


def daemonset_readiness(
    daemonset: Mapping[str, Any],
    *,
    deadline_seconds: int,
    ready_threshold: int = 100,
    last_transition_time: str | None = None,
    now: datetime.datetime | None = None,
) -> Readiness:
    """Flagger's `isDaemonSetReady` on a raw DaemonSet; the deadline counts from the Canary's
    `status.lastTransitionTime`."""
    now = now or datetime.datetime.now(datetime.UTC)
    meta = daemonset.get("metadata") or {}
    status = daemonset.get("status") or {}
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return Readiness.waiting(
            _halt(daemonset, "observed daemonset generation less than desired generation")
        )
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    needed = _threshold(desired, ready_threshold)
    not_updated = updated < desired
    not_available = available < needed
    if not not_updated and not not_available:
        return Readiness.ok()
    since = parse_time(last_transition_time)
    if since is not None and since + datetime.timedelta(seconds=deadline_seconds) < now:
        return Readiness.failed(f"exceeded its progressDeadlineSeconds: {deadline_seconds}")
    if not_updated:
        return Readiness.waiting(
            _halt(daemonset, f"{updated} out of {desired} new pods have been updated")
        )
    return Readiness.waiting(
        _halt(
            daemonset,
            f"{available} of {needed} (readyThreshold {ready_threshold}%) "
            "updated pods are available",
        )
    )
