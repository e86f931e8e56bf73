"""StatefulSet targets: what the primary copies, and when a rollout counts as finished.

The matrix: at creation the primary gets its own serviceName and the target's claim templates;
on promotion only the fields Kubernetes lets change are copied; readiness waits for the
observed generation, the updated replicas (above a partition when there is one), the revisions
to converge and the ready replicas, and fails past the progress deadline.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.workloads import statefulset
from tests.support import canaries

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


def _canary() -> canary_api.Canary:
    spec = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"},
        "service": {"port": 5432},
        "analysis": {"interval": "1m", "threshold": 5, "iterations": 2},
    }
    return canaries.canary(spec, name="db", namespace="test")


TARGET: dict[str, Any] = {
    "spec": {
        "replicas": 3,
        "serviceName": "db",
        "podManagementPolicy": "Parallel",
        "updateStrategy": {"type": "RollingUpdate"},
        "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Retain", "whenDeleted": "Delete"},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}],
    }
}


def test_primary_gets_its_own_service_and_claims() -> None:
    controller = statefulset.StatefulSetController(kube=None)  # type: ignore[arg-type]
    created = controller.copied_spec_fields(_canary(), TARGET, creating=True)
    assert created["serviceName"] == "db-primary"
    assert created["volumeClaimTemplates"] == TARGET["spec"]["volumeClaimTemplates"]
    assert created["replicas"] == 3
    promoted = controller.copied_spec_fields(_canary(), TARGET, creating=False)
    assert set(promoted) == {
        "replicas",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
    }  # serviceName, volumeClaimTemplates, podManagementPolicy are immutable


def _sts(replicas: int = 3, partition: int | None = None, **status: Any) -> dict[str, Any]:
    strategy: dict[str, Any] = {"type": "RollingUpdate"}
    if partition is not None:
        strategy["rollingUpdate"] = {"partition": partition}
    base = {"observedGeneration": 2, "currentRevision": "r2", "updateRevision": "r2"}
    return {
        "metadata": {"name": "db", "generation": 2},
        "spec": {"replicas": replicas, "updateStrategy": strategy},
        "status": {**base, **status},
    }


@pytest.mark.parametrize(
    ("obj", "ready", "text"),
    [
        (_sts(updatedReplicas=3, readyReplicas=3), True, ""),
        (_sts(observedGeneration=1), False, "observed statefulset generation"),
        (_sts(updatedReplicas=1, readyReplicas=3, currentRevision="r1"), False, "1 of 3 replicas"),
        (_sts(updatedReplicas=3, readyReplicas=3, currentRevision="r1"), False, "3 of 3 replicas"),
        (_sts(updatedReplicas=3, readyReplicas=2), False, "2 of 3 (readyThreshold 100%)"),
        # a partitioned update is done when the replicas at or above the partition are updated
        (_sts(partition=2, updatedReplicas=1, readyReplicas=3, currentRevision="r1"), True, ""),
        (
            _sts(partition=1, updatedReplicas=1, readyReplicas=3, currentRevision="r1"),
            False,
            "1 of 2 replicas at or above partition 1 updated",
        ),
        (_sts(replicas=0, currentRevision="r1"), True, ""),
    ],
)
def test_readiness(obj: dict[str, Any], ready: bool, text: str) -> None:
    verdict = statefulset.statefulset_readiness(obj, deadline_seconds=600, now=NOW)
    assert verdict.ready is ready
    assert text in verdict.message
    assert verdict.retriable


def test_deadline_exceeded() -> None:
    verdict = statefulset.statefulset_readiness(
        _sts(updatedReplicas=0, readyReplicas=0),
        deadline_seconds=60,
        last_transition_time="2026-01-01T11:50:00Z",
        now=NOW,
    )
    assert not verdict.ready and not verdict.retriable
    assert "progressDeadlineSeconds: 60" in verdict.message
