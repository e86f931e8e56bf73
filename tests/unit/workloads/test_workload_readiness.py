"""Readiness verdicts and Flagger's messages, branch by branch."""

from __future__ import annotations

import datetime
from typing import Any

from flagger.workloads import readiness

NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)


def deployment(
    replicas: int = 2,
    *,
    generation: int = 2,
    observed: int = 2,
    updated: int = 2,
    total: int = 2,
    available: int = 2,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "podinfo", "namespace": "test", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "replicas": total,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


def check(obj: dict[str, Any], threshold: int = 100) -> readiness.Readiness:
    return readiness.deployment_readiness(
        obj, deadline_seconds=600, ready_threshold=threshold, now=NOW
    )


PREFIX = "waiting for rollout to finish: "


def test_ready() -> None:
    assert check(deployment()) == readiness.Readiness.ok()
    assert check(deployment(0, updated=0, total=0, available=0)).ready  # scaled to zero


def test_generation_not_observed() -> None:
    verdict = check(deployment(generation=3, observed=2))
    assert verdict == readiness.Readiness.waiting(
        PREFIX + "observed deployment generation less than desired generation"
    )


def test_rollout_messages() -> None:
    assert check(deployment(updated=1)).message == (
        PREFIX + "1 out of 2 new replicas have been updated"
    )
    assert check(deployment(total=3)).message == PREFIX + "1 old replicas are pending termination"
    verdict = check(deployment(available=0))
    assert verdict == readiness.Readiness.waiting(
        PREFIX + "0 of 2 (readyThreshold 100%) updated replicas are available"
    )


def test_ready_threshold_truncates() -> None:
    # 3 updated * 50% = 1.5 -> 1 available is enough
    assert check(deployment(3, updated=3, total=3, available=1), threshold=50).ready
    verdict = check(deployment(3, updated=3, total=3, available=0), threshold=50)
    assert verdict.message == PREFIX + "0 of 1 (readyThreshold 50%) updated replicas are available"


def test_progress_deadline_exceeded_is_not_retriable() -> None:
    verdict = check(
        deployment(
            available=0,
            conditions=[
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
            ],
        )
    )
    assert verdict == readiness.Readiness.failed(
        'deployment "podinfo" exceeded its progress deadline'
    )


def test_unavailable_beyond_deadline_is_not_retriable() -> None:
    def unavailable_since(minutes: int) -> dict[str, Any]:
        stamp = (NOW - datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return deployment(
            available=0,
            conditions=[
                {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
                {
                    "type": "Available",
                    "status": "False",
                    "reason": "MinimumReplicasUnavailable",
                    "lastUpdateTime": stamp,
                },
            ],
        )

    recent = check(unavailable_since(5))
    assert not recent.ready and recent.retriable
    stale = check(unavailable_since(11))
    assert not stale.ready and not stale.retriable
    assert stale.message == PREFIX + "0 of 2 (readyThreshold 100%) updated replicas are available"


def test_daemonset() -> None:
    def ds(desired: int, updated: int, available: int) -> dict[str, Any]:
        return {
            "metadata": {"name": "podinfo", "namespace": "test", "generation": 1},
            "status": {
                "observedGeneration": 1,
                "desiredNumberScheduled": desired,
                "updatedNumberScheduled": updated,
                "numberAvailable": available,
            },
        }

    def run(obj: dict[str, Any], since: str | None = None) -> readiness.Readiness:
        return readiness.daemonset_readiness(
            obj, deadline_seconds=60, ready_threshold=100, last_transition_time=since, now=NOW
        )

    assert run(ds(2, 2, 2)).ready
    assert run(ds(2, 1, 1)).message == PREFIX + "1 out of 2 new pods have been updated"
    assert run(ds(2, 2, 1)).message == (
        PREFIX + "1 of 2 (readyThreshold 100%) updated pods are available"
    )
    stale = run(ds(2, 1, 1), since="2024-05-01T11:00:00Z")
    assert stale == readiness.Readiness.failed("exceeded its progressDeadlineSeconds: 60")
