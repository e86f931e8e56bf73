"""The local control plane behaves like a real cluster where an operator depends on it.

Matrix: Deployment rollout (controller-manager + scheduler + kwok), optimistic concurrency (409),
strategic merge patch, status subresource, garbage collection through owner references, RBAC for
a ServiceAccount kubeconfig.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
from typing import Any

import pytest

from flagger.devcluster import cluster as devcluster
from tests.support import objects

pytestmark = pytest.mark.cluster


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                            "ports": [{"containerPort": 9898, "name": "http"}],
                        }
                    ]
                },
            },
        },
    }


async def _eventually(check: Any, timeout: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.2)


async def test_deployment_becomes_available(kube: Any, namespace: str) -> None:
    from kubernetes_asyncio import client

    apps, core = client.AppsV1Api(kube), client.CoreV1Api(kube)
    await apps.create_namespaced_deployment(namespace, _deployment("podinfo", 2))

    async def available() -> Any:
        d = await apps.read_namespaced_deployment("podinfo", namespace)
        return d if (d.status.available_replicas or 0) == 2 else None

    deployment = await _eventually(available)
    assert deployment.status.ready_replicas == 2

    sets = await apps.list_namespaced_replica_set(namespace, label_selector="app=podinfo")
    assert len(sets.items) == 1
    assert sets.items[0].metadata.owner_references[0].name == "podinfo"

    pods = await core.list_namespaced_pod(namespace, label_selector="app=podinfo")
    assert len(pods.items) == 2
    for pod in pods.items:
        assert pod.spec.node_name == devcluster.NODE_NAME
        assert pod.status.phase == "Running"
        assert pod.status.pod_ip
        ready = {c.type: c.status for c in pod.status.conditions}
        assert ready["Ready"] == "True"


async def test_rollout_replaces_pods_with_new_template(kube: Any, namespace: str) -> None:
    from kubernetes_asyncio import client

    apps = client.AppsV1Api(kube)
    await apps.create_namespaced_deployment(namespace, _deployment("web", 1))
    patch = objects.image_patch("ghcr.io/stefanprodan/podinfo:6.0.1")
    await apps.patch_namespaced_deployment("web", namespace, patch)

    async def rolled_out() -> bool:
        d = await apps.read_namespaced_deployment("web", namespace)
        return bool(
            d.status.observed_generation == 2
            and d.status.updated_replicas == 1
            and d.status.available_replicas == 1
            and not d.status.unavailable_replicas
        )

    await _eventually(rolled_out)
    d = await apps.read_namespaced_deployment("web", namespace)
    # The strategic merge patch matched the container by name and kept its ports.
    container = d.spec.template.spec.containers[0]
    assert container.image.endswith(":6.0.1")
    assert container.ports[0].container_port == 9898
    sets = await apps.list_namespaced_replica_set(namespace)
    assert sorted(rs.spec.replicas for rs in sets.items) == [0, 1]


def test_stale_resource_version_is_a_conflict(
    cluster: devcluster.LocalCluster, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    created = cluster.api(
        "POST",
        path,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}},
    )
    first = dict(created, data={"a": "2"})
    cluster.api("PUT", f"{path}/cfg", first)
    stale = dict(created, data={"a": "3"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        cluster.api("PUT", f"{path}/cfg", stale)
    assert raised.value.code == 409
    assert cluster.api("GET", f"{path}/cfg")["data"] == {"a": "2"}


def test_owner_references_are_garbage_collected(
    cluster: devcluster.LocalCluster, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    owner = cluster.api(
        "POST", path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}
    )
    cluster.api(
        "POST",
        path,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "owned",
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "owner",
                        "uid": owner["metadata"]["uid"],
                    }
                ],
            },
        },
    )
    cluster.api("DELETE", f"{path}/owner")
    asyncio.run(_eventually(_gone(cluster, f"{path}/owned")))


def _gone(cluster: devcluster.LocalCluster, path: str) -> Any:
    async def check() -> bool:
        try:
            cluster.api("GET", path)
        except urllib.error.HTTPError as error:
            return error.code == 404
        return False

    return check


def test_service_account_is_subject_to_rbac(
    cluster: devcluster.LocalCluster, namespace: str
) -> None:
    cluster.api(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}},
    )
    kubeconfig = cluster.service_account_kubeconfig(namespace, "reader")

    denied = cluster.kubectl(
        "get", "configmaps", "-n", namespace, kubeconfig=kubeconfig, check=False
    )
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
    assert f"system:serviceaccount:{namespace}:reader" in denied.stderr

    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
    cluster.api(
        "POST",
        f"{rbac}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "read-configmaps"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        },
    )
    cluster.api(
        "POST",
        f"{rbac}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-configmaps",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
        },
    )
    allowed = cluster.kubectl(
        "get", "configmaps", "-n", namespace, "-o", "json", kubeconfig=kubeconfig
    )
    names = [i["metadata"]["name"] for i in json.loads(allowed.stdout)["items"]]
    assert "kube-root-ca.crt" in names
    still_denied = cluster.kubectl(
        "delete",
        "configmap",
        "kube-root-ca.crt",
        "-n",
        namespace,
        kubeconfig=kubeconfig,
        check=False,
    )
    assert still_denied.returncode != 0
