"""KEDA ScaledObjects on the local control plane (the test CRD for keda.sh, no KEDA operator).

Matrix: `<so>-primary` created for a Deployment target (scale target, rewritten queries, owner
reference, copied labels/annotations without the paused annotation), left alone on init,
updated on promotion only when it differs, `primaryScalerReplicas`; pause/resume of the
target's ScaledObject (idempotent, other annotations kept), for a DaemonSet target too; a
missing ScaledObject; HPA pause/resume as no-ops; scale from zero using `minReplicaCount`.
"""

from __future__ import annotations

from typing import Any

import pytest
from workload_fixtures import create_canary  # type: ignore[import-not-found]

from flagger.kube import client as kube_client
from flagger.workloads import (
    contract,
    daemonset,
    deployment,
    keda,
    workload_errors,
    workload_options,
)

pytestmark = pytest.mark.cluster

IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.0"
SO = ("keda.sh/v1alpha1", "ScaledObject")
QUERY = 'sum(rate(http_requests_total{app="podinfo-canary"}[1m]))'
PRIMARY_QUERY = 'sum(rate(http_requests_total{app="podinfo-primary"}[1m]))'


def podinfo(namespace: str, kind: str = "Deployment", replicas: int = 1) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "podinfo"}},
        "template": {
            "metadata": {"labels": {"app": "podinfo"}},
            "spec": {"containers": [{"name": "podinfod", "image": IMAGE}]},
        },
    }
    if kind == "Deployment":
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": spec,
    }


def scaled_object(namespace: str, kind: str = "Deployment") -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "podinfo-so",
            "namespace": namespace,
            "labels": {"app": "podinfo", "kustomize.toolkit.fluxcd.io/name": "apps"},
            "annotations": {"scaledobject.keda.sh/transfer-hpa-ownership": "true"},
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": "podinfo"},
            "pollingInterval": 10,
            "minReplicaCount": 3,
            "maxReplicaCount": 6,
            "advanced": {"horizontalPodAutoscalerConfig": {"name": "podinfo"}},
            "triggers": [
                {
                    "name": "requests",
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": "http://prometheus:9090",
                        "query": QUERY,
                        "threshold": "100",
                    },
                },
                {
                    "name": "latency",
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": "http://prometheus:9090",
                        "query": QUERY,
                        "threshold": "5",
                    },
                },
            ],
        },
    }


KEDA_REF = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "podinfo-so"}


async def setup(
    kube: kube_client.Kube, namespace: str, kind: str = "Deployment", **autoscaler: Any
) -> Any:
    await kube.create(podinfo(namespace, kind))
    await kube.create(scaled_object(namespace, kind))
    canary = await create_canary(
        kube, namespace, target_kind=kind, autoscalerRef={**KEDA_REF, **autoscaler}
    )
    workload: contract.WorkloadController = (
        deployment.DeploymentController(kube, workload_options.Options())
        if kind == "Deployment"
        else daemonset.DaemonSetController(kube, workload_options.Options())
    )
    return canary, workload


async def get_so(kube: kube_client.Kube, name: str, namespace: str) -> dict[str, Any]:
    obj = await kube.get(*SO, name, namespace)
    assert obj is not None
    return obj


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["metadata"].get("annotations") or {})


async def test_primary_scaled_object(client: kube_client.Kube, namespace: str) -> None:
    canary, workload = await setup(
        client, namespace, primaryScalerQueries={"requests": "sum(rate(primary_requests[1m]))"}
    )
    await workload.initialize(canary)
    line = await workload.reconcile_primary_scaler(canary, init=True)
    assert line == f"Keda ScaledObject podinfo-so-primary.{namespace} created"

    primary = await get_so(client, "podinfo-so-primary", namespace)
    spec = primary["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "podinfo-primary",
    }
    assert (spec["pollingInterval"], spec["minReplicaCount"], spec["maxReplicaCount"]) == (10, 3, 6)
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["name"] == "podinfo-primary"
    by_name = {t["name"]: t["metadata"] for t in spec["triggers"]}
    assert by_name["requests"]["query"] == "sum(rate(primary_requests[1m]))"
    assert by_name["requests"]["threshold"] == "100"
    assert by_name["latency"]["query"] == QUERY  # no entry: left as the target has it
    owner = primary["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Canary",
        "podinfo",
        canary.metadata["uid"],
        True,
    )
    assert primary["metadata"]["labels"] == {"app": "podinfo"}
    assert annotations(primary) == {"scaledobject.keda.sh/transfer-hpa-ownership": "true"}
    # the target's ScaledObject itself is untouched
    target = await get_so(client, "podinfo-so", namespace)
    assert target["spec"]["triggers"][0]["metadata"]["query"] == QUERY

    assert await workload.reconcile_primary_scaler(canary, init=False) is None  # in sync
    await client.patch(*SO, "podinfo-so", namespace, {"spec": {"pollingInterval": 20}})
    assert await workload.reconcile_primary_scaler(canary, init=True) is None  # init: untouched
    assert (await get_so(client, "podinfo-so-primary", namespace))["spec"]["pollingInterval"] == 10
    line = await workload.reconcile_primary_scaler(canary, init=False)
    assert line == f"Keda ScaledObject podinfo-so-primary.{namespace} updated"
    primary = await get_so(client, "podinfo-so-primary", namespace)
    assert primary["spec"]["pollingInterval"] == 20
    assert primary["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    assert await workload.reconcile_primary_scaler(canary, init=False) is None


async def test_queries_rewritten_and_replicas_overridden(
    client: kube_client.Kube, namespace: str
) -> None:
    canary, workload = await setup(
        client, namespace, primaryScalerReplicas={"minReplicas": 2, "maxReplicas": 15}
    )
    assert await workload.reconcile_primary_scaler(canary, init=True)
    spec = (await get_so(client, "podinfo-so-primary", namespace))["spec"]
    assert [t["metadata"]["query"] for t in spec["triggers"]] == [PRIMARY_QUERY] * 2
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 15)


async def test_pause_and_resume(client: kube_client.Kube, namespace: str) -> None:
    canary, workload = await setup(client, namespace)
    await workload.reconcile_primary_scaler(canary, init=True)
    await workload.pause_target_scaler(canary)
    target = await get_so(client, "podinfo-so", namespace)
    assert annotations(target) == {
        keda.PAUSED_REPLICAS_ANNOTATION: "0",
        "scaledobject.keda.sh/transfer-hpa-ownership": "true",
    }
    version = target["metadata"]["resourceVersion"]
    await workload.pause_target_scaler(canary)  # already paused: no write
    assert (await get_so(client, "podinfo-so", namespace))["metadata"]["resourceVersion"] == version
    # only the target is paused, never the primary
    primary = await get_so(client, "podinfo-so-primary", namespace)
    assert keda.PAUSED_REPLICAS_ANNOTATION not in annotations(primary)

    await workload.resume_target_scaler(canary)
    target = await get_so(client, "podinfo-so", namespace)
    assert annotations(target) == {"scaledobject.keda.sh/transfer-hpa-ownership": "true"}
    await workload.resume_target_scaler(canary)  # nothing to remove: fine


async def test_primary_created_while_target_paused_is_not_paused(
    client: kube_client.Kube, namespace: str
) -> None:
    canary, workload = await setup(client, namespace)
    await workload.pause_target_scaler(canary)
    await workload.reconcile_primary_scaler(canary, init=True)
    primary = await get_so(client, "podinfo-so-primary", namespace)
    assert keda.PAUSED_REPLICAS_ANNOTATION not in annotations(primary)


async def test_daemonset_pause_and_resume(client: kube_client.Kube, namespace: str) -> None:
    canary, workload = await setup(client, namespace, kind="DaemonSet")
    await workload.pause_target_scaler(canary)
    target = await get_so(client, "podinfo-so", namespace)
    assert annotations(target)[keda.PAUSED_REPLICAS_ANNOTATION] == "0"
    await workload.resume_target_scaler(canary)
    target = await get_so(client, "podinfo-so", namespace)
    assert keda.PAUSED_REPLICAS_ANNOTATION not in annotations(target)


async def test_missing_scaled_object(client: kube_client.Kube, namespace: str) -> None:
    await client.create(podinfo(namespace))
    canary = await create_canary(client, namespace, autoscalerRef=KEDA_REF)
    workload = deployment.DeploymentController(client)
    message = (
        f"Keda ScaledObject podinfo-so.{namespace} get query error: "
        'scaledobjects.keda.sh "podinfo-so" not found; create it or fix spec.autoscalerRef'
    )
    with pytest.raises(workload_errors.WorkloadError) as caught:
        await workload.reconcile_primary_scaler(canary, init=True)
    assert caught.value.message == message
    with pytest.raises(workload_errors.WorkloadError) as caught:
        await workload.pause_target_scaler(canary)
    assert caught.value.message == message


async def test_hpa_pause_and_resume_are_no_ops(client: kube_client.Kube, namespace: str) -> None:
    await client.create(podinfo(namespace))
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 2,
            "maxReplicas": 4,
        },
    }
    created = await client.create(hpa)
    canary = await create_canary(
        client,
        namespace,
        autoscalerRef={
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
        },
    )
    for workload in (
        deployment.DeploymentController(client),
        daemonset.DaemonSetController(client),
    ):
        await workload.pause_target_scaler(canary)
        await workload.resume_target_scaler(canary)
    after = await client.get("autoscaling/v2", "HorizontalPodAutoscaler", "podinfo", namespace)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    # and without any autoscaler too
    plain = canary.model_copy(
        update={"spec": canary.spec.model_copy(update={"autoscaler_ref": None})}
    )
    await deployment.DeploymentController(client).pause_target_scaler(plain)


async def test_scale_from_zero_uses_min_replica_count(
    client: kube_client.Kube, namespace: str
) -> None:
    canary, workload = await setup(client, namespace)
    await workload.initialize(canary)
    for name in ("podinfo", "podinfo-primary"):
        await client.patch("apps/v1", "Deployment", name, namespace, {"spec": {"replicas": 0}})
    await workload.scale_from_zero(canary)
    target = await client.get("apps/v1", "Deployment", "podinfo", namespace)
    assert target is not None and target["spec"]["replicas"] == 3
