"""Readiness messages worded as Flagger 1.44's ``IsCanaryReady``/``IsPrimaryReady`` (the
pre-1.36 "Halt advancement ... waiting for rollout to finish" form is gone)."""

from __future__ import annotations

from typing import Any

from flagger.api import canary as canary_api
from flagger.workloads import daemonset, deployment


def _canary(kind: str) -> canary_api.Canary:
    return canary_api.Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": kind, "name": "podinfo"},
                "service": {"port": 9898},
            },
        }
    )


class _Kube:
    """Answers every get with a workload of ``kind`` halfway through a rollout."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def get(self, api_version: str, kind: str, name: str, namespace: str) -> Any:
        status: dict[str, Any] = (
            {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 2}
            if kind == "Deployment"
            else {"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 1}
        )
        return {
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "generation": 1},
            "spec": {"replicas": 2},
            "status": status,
        }


async def test_deployment_messages() -> None:
    workload = deployment.DeploymentController(_Kube("Deployment"))  # type: ignore[arg-type]
    canary = _canary("Deployment")
    assert (await workload.is_canary_ready(canary)).message == (
        "canary deployment podinfo.test not ready: waiting for rollout to finish: "
        "1 out of 2 new replicas have been updated"
    )
    assert (await workload.is_primary_ready(canary)).message == (
        "podinfo-primary.test not ready: waiting for rollout to finish: "
        "1 out of 2 new replicas have been updated"
    )


async def test_daemonset_messages() -> None:
    workload = daemonset.DaemonSetController(_Kube("DaemonSet"))  # type: ignore[arg-type]
    canary = _canary("DaemonSet")
    assert (await workload.is_canary_ready(canary)).message == (
        "canary damonset podinfo.test not ready with retryable true: waiting for rollout to "
        "finish: 1 out of 2 new pods have been updated"
    )
    assert (await workload.is_primary_ready(canary)).message == (
        "primary daemonset podinfo-primary.test not ready: waiting for rollout to finish: "
        "1 out of 2 new pods have been updated"
    )
