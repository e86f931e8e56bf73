"""`flagger.kube.client.Kube` against the local control plane.

Matrix: create/get/list, replace (fresh and stale resourceVersion), strategic merge patch,
status subresource of a custom resource, delete (present and missing), discovery of built-in
and custom kinds (namespaced and cluster-scoped), error classes, and the QPS limit.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from flagger.kube import client as kube_client
from flagger.kube import errors
from tests.support import objects

pytestmark = pytest.mark.cluster


def deployment(
    name: str, namespace: str, image: str = "ghcr.io/stefanprodan/podinfo:6.0.0"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "podinfod", "image": image, "ports": [{"containerPort": 9898}]},
                        {"name": "sidecar", "image": "busybox:1"},
                    ]
                },
            },
        },
    }


def canary(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898},
            "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
        },
    }


async def test_create_get_list(client: kube_client.Kube, namespace: str) -> None:
    created = await client.create(deployment("podinfo", namespace))
    assert created["metadata"]["uid"]
    got = await client.get("apps/v1", "Deployment", "podinfo", namespace)
    assert got is not None
    assert got["spec"]["template"]["spec"]["containers"][0]["image"].endswith("6.0.0")
    await client.create(deployment("other", namespace))
    listed = await client.list("apps/v1", "Deployment", namespace)
    assert sorted(d["metadata"]["name"] for d in listed) == ["other", "podinfo"]
    assert all(d["kind"] == "Deployment" and d["apiVersion"] == "apps/v1" for d in listed)
    selected = await client.list("apps/v1", "Deployment", namespace, label_selector="app=other")
    assert [d["metadata"]["name"] for d in selected] == ["other"]


async def test_get_missing_is_none(client: kube_client.Kube, namespace: str) -> None:
    assert await client.get("v1", "ConfigMap", "nope", namespace) is None


async def test_create_existing_is_conflict(client: kube_client.Kube, namespace: str) -> None:
    await client.create(deployment("podinfo", namespace))
    with pytest.raises(errors.Conflict) as caught:
        await client.create(deployment("podinfo", namespace))
    assert caught.value.status == 409
    assert caught.value.reason == "AlreadyExists"


async def test_replace_with_stale_resource_version_is_conflict(
    client: kube_client.Kube, namespace: str
) -> None:
    # a ConfigMap: no controller writes to it behind the test's back
    first = await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": namespace},
            "data": {"v": "1"},
        }
    )
    first["data"]["v"] = "2"
    second = await client.replace(first)
    assert second["data"] == {"v": "2"}
    assert second["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
    first["data"]["v"] = "3"  # still carries the old resourceVersion
    with pytest.raises(errors.Conflict) as caught:
        await client.replace(first)
    assert caught.value.status == 409
    assert "modified" in caught.value.message
    current = await client.get("v1", "ConfigMap", "cfg", namespace)
    assert current is not None and current["data"] == {"v": "2"}


async def test_strategic_merge_patch_of_a_container(
    client: kube_client.Kube, namespace: str
) -> None:
    await client.create(deployment("podinfo", namespace))
    patched = await client.patch(
        "apps/v1",
        "Deployment",
        "podinfo",
        namespace,
        objects.image_patch("ghcr.io/stefanprodan/podinfo:6.0.1"),
        patch_type="strategic",
    )
    containers = patched["spec"]["template"]["spec"]["containers"]
    # strategic merge keys containers by name: the sidecar survives, only the image changed
    assert [(c["name"], c["image"]) for c in containers] == [
        ("podinfod", "ghcr.io/stefanprodan/podinfo:6.0.1"),
        ("sidecar", "busybox:1"),
    ]


async def test_merge_and_json_patch(client: kube_client.Kube, namespace: str) -> None:
    await client.create(deployment("podinfo", namespace))
    merged = await client.patch(
        "apps/v1", "Deployment", "podinfo", namespace, {"metadata": {"annotations": {"a": "1"}}}
    )
    assert merged["metadata"]["annotations"]["a"] == "1"
    jsoned = await client.patch(
        "apps/v1",
        "Deployment",
        "podinfo",
        namespace,
        [{"op": "replace", "path": "/spec/replicas", "value": 0}],
        patch_type="json",
    )
    assert jsoned["spec"]["replicas"] == 0


async def test_replace_status_of_a_canary(client: kube_client.Kube, namespace: str) -> None:
    created = await client.create(canary("podinfo", namespace))
    created["status"] = {
        "phase": "Initialized",
        "canaryWeight": 0,
        "failedChecks": 0,
        "lastAppliedSpec": "5d7f8c9b",
    }
    updated = await client.replace_status(created)
    assert updated["status"]["phase"] == "Initialized"
    fetched = await client.get("flagger.app/v1beta1", "Canary", "podinfo", namespace)
    assert fetched is not None and fetched["status"]["lastAppliedSpec"] == "5d7f8c9b"
    # a status write does not touch the spec, and a stale status write conflicts too
    created["status"]["phase"] = "Progressing"
    with pytest.raises(errors.Conflict):
        await client.replace_status(created)


async def test_status_patch_through_subresource(client: kube_client.Kube, namespace: str) -> None:
    await client.create(deployment("podinfo", namespace))
    patched = await client.patch(
        "apps/v1",
        "Deployment",
        "podinfo",
        namespace,
        {"status": {"observedGeneration": 7}},
        subresource="status",
    )
    assert patched["status"]["observedGeneration"] == 7


async def test_delete_present_and_missing(client: kube_client.Kube, namespace: str) -> None:
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": namespace},
            "data": {"a": "b"},
        }
    )
    await client.delete("v1", "ConfigMap", "cfg", namespace)
    assert await client.get("v1", "ConfigMap", "cfg", namespace) is None
    await client.delete("v1", "ConfigMap", "cfg", namespace)  # already gone: fine


async def test_discovery_of_custom_and_cluster_scoped_kinds(client: kube_client.Kube) -> None:
    canaries = await client.resource("flagger.app/v1beta1", "Canary")
    assert (canaries.plural, canaries.namespaced) == ("canaries", True)
    virtual_services = await client.resource("networking.istio.io/v1beta1", "VirtualService")
    assert (virtual_services.plural, virtual_services.namespaced) == ("virtualservices", True)
    namespaces = await client.resource("v1", "Namespace")
    assert (namespaces.plural, namespaces.namespaced) == ("namespaces", False)
    assert namespaces.path("ignored", "default") == "/api/v1/namespaces/default"
    with pytest.raises(errors.UnknownKind):
        await client.resource("flagger.app/v1beta1", "NoSuchKind")
    with pytest.raises(errors.UnknownKind):
        await client.get("nothing.example.com/v1", "Thing", "x", "default")


async def test_virtual_service_round_trip(client: kube_client.Kube, namespace: str) -> None:
    vs = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "hosts": ["podinfo"],
            "http": [
                {
                    "route": [
                        {"destination": {"host": "podinfo-primary"}, "weight": 100},
                        {"destination": {"host": "podinfo-canary"}, "weight": 0},
                    ]
                }
            ],
        },
    }
    await client.create(vs)
    got = await client.get("networking.istio.io/v1beta1", "VirtualService", "podinfo", namespace)
    assert got is not None
    assert [r["weight"] for r in got["spec"]["http"][0]["route"]] == [100, 0]


async def test_invalid_object(client: kube_client.Kube, namespace: str) -> None:
    bad = deployment("podinfo", namespace)
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}  # does not match the template
    with pytest.raises(errors.Invalid) as caught:
        await client.create(bad)
    assert caught.value.status == 422


async def test_qps_limit_spaces_requests(cluster: Any, namespace: str) -> None:
    limited = await kube_client.Kube.connect(str(cluster.kubeconfig), qps=20.0, burst=2)
    try:
        await limited.resource("v1", "ConfigMap")  # discovery outside the measurement
        began = time.monotonic()
        for _ in range(12):
            await limited.get("v1", "ConfigMap", "nope", namespace)
        elapsed = time.monotonic() - began
    finally:
        await limited.close()
    print(f"12 requests at qps=20 burst=2 took {elapsed:.2f}s")
    # after the burst tokens are spent, 10 more requests need about 10/20 s
    assert elapsed >= 0.4
