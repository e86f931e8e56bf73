"""The App Mesh routers against the local control plane (App Mesh test CRDs).

Matrix: v1beta2 reconcile creates the nodes (pods selected by the target's selector label),
routers and services, a second reconcile writes nothing, weights round-trip and survive a spec
change; v1beta2 A/B routes; v1beta1 objects (apex node, dotted VirtualService names) and
weights; a user's VirtualRouter taken over and reverted; a missing meshName and an unsupported
feature are clear errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import appmesh
from tests.support import routers

pytestmark = pytest.mark.cluster

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]
V1B2 = appmesh.API_V1BETA2
V1B1 = appmesh.API_V1BETA1


async def _get(client: kube_client.Kube, api: str, kind: str, name: str, ns: str) -> dict[str, Any]:
    found = await client.get(api, kind, name, ns)
    assert found is not None, f"{kind} {name} missing"
    return found


async def _target(client: kube_client.Kube, namespace: str) -> None:
    await client.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"name": "podinfo"}},
                "template": {
                    "metadata": {"labels": {"name": "podinfo"}},
                    "spec": {"containers": [{"name": "app", "image": "podinfo"}]},
                },
            },
        }
    )


async def test_v1beta2_reconcile_and_weights(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    await _target(client, namespace)
    canary = await make_canary({"port": 9898, "timeout": "10s"})
    router = appmesh.AppMeshV1beta2Router(client, selector_labels=("app", "name"))
    await router.reconcile(canary)

    node = await _get(client, V1B2, "VirtualNode", "podinfo-canary", namespace)
    assert node["spec"]["podSelector"] == {"matchLabels": {"name": "podinfo"}}
    assert node["spec"]["serviceDiscovery"] == {
        "dns": {"hostname": f"podinfo-canary.{namespace}.svc.cluster.local."}
    }
    assert node["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    primary = await _get(client, V1B2, "VirtualNode", "podinfo-primary", namespace)
    assert primary["spec"]["podSelector"] == {"matchLabels": {"name": "podinfo-primary"}}
    for name in ("podinfo", "podinfo-canary"):
        vr = await _get(client, V1B2, "VirtualRouter", name, namespace)
        assert vr["spec"] == appmesh.v1beta2_virtual_router_spec(
            canary, 0 if name == "podinfo" else 100
        )
        vs = await _get(client, V1B2, "VirtualService", name, namespace)
        assert vs["spec"] == {"provider": {"virtualRouter": {"virtualRouterRef": {"name": name}}}}
    assert await router.get_routes(canary) == (100, 0, False)

    await router.set_routes(canary, 80, 20, False)
    assert await router.get_routes(canary) == (80, 20, False)
    before = await _get(client, V1B2, "VirtualRouter", "podinfo", namespace)
    await router.reconcile(canary)  # nothing changed: nothing written
    after = await _get(client, V1B2, "VirtualRouter", "podinfo", namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    # the controller fills in awsName and meshRef; Flagger keeps them
    after["spec"]["awsName"] = f"podinfo_{namespace}"
    after["spec"]["meshRef"] = {"name": "global", "uid": "1"}
    await client.replace(after)
    canary.spec.service.timeout = "20s"  # type: ignore[union-attr]
    await router.reconcile(canary)
    updated = await _get(client, V1B2, "VirtualRouter", "podinfo", namespace)
    assert updated["spec"]["routes"][0]["httpRoute"]["timeout"] == {
        "perRequest": {"unit": "ms", "value": 20000}
    }
    assert updated["spec"]["awsName"] == f"podinfo_{namespace}"
    assert await router.get_routes(canary) == (80, 20, False)


async def test_v1beta2_ab_testing(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(
        {"port": 9898},
        routers.AB_ANALYSIS,
    )
    router = appmesh.AppMeshV1beta2Router(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 0, 100, False)
    vr = await _get(client, V1B2, "VirtualRouter", "podinfo", namespace)
    assert [r["name"] for r in vr["spec"]["routes"]] == ["podinfo-a", "podinfo-b"]
    assert vr["spec"]["routes"][0]["httpRoute"]["match"]["headers"] == [
        {"name": "x-canary", "match": {"exact": "insider"}}
    ]
    assert await router.get_routes(canary) == (0, 100, False)


async def test_v1beta1_objects_and_weights(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary({"port": 9898, "meshName": "global"})
    router = appmesh.AppMeshRouter(client)
    await router.reconcile(canary)
    apex_node = await _get(client, V1B1, "VirtualNode", "podinfo", namespace)
    assert apex_node["spec"]["serviceDiscovery"] == {
        "dns": {"hostName": f"podinfo-primary.{namespace}"}
    }
    for name, weight in ((f"podinfo.{namespace}", 0), (f"podinfo-canary.{namespace}", 100)):
        vs = await _get(client, V1B1, "VirtualService", name, namespace)
        assert vs["spec"] == appmesh.v1beta1_virtual_service_spec(canary, weight)
    await router.set_routes(canary, 40, 60, False)
    assert await router.get_routes(canary) == (40, 60, False)


async def test_takeover_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    users_spec = {"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}], "routes": []}
    await client.create(
        {
            "apiVersion": V1B2,
            "kind": "VirtualRouter",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": users_spec,
        }
    )
    canary = await make_canary({"port": 9898})
    router = appmesh.AppMeshV1beta2Router(client)
    await router.reconcile(canary)
    vr = await _get(client, V1B2, "VirtualRouter", "podinfo", namespace)
    assert vr["spec"]["routes"][0]["name"] == "podinfo"
    assert router_helpers.CONFIG_ANNOTATION in vr["metadata"]["annotations"]
    await router.set_routes(canary, 90, 10, False)

    await router.finalize(canary)
    restored = await _get(client, V1B2, "VirtualRouter", "podinfo", namespace)
    assert restored["spec"] == users_spec


async def test_clear_errors(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary({"port": 9898})
    with pytest.raises(router_helpers.RouterError, match="mesh name cannot be empty"):
        await appmesh.AppMeshRouter(client).reconcile(canary)
    mirrored = await make_canary(
        {"port": 9898},
        {"interval": "1m", "threshold": 5, "iterations": 5, "mirror": True},
        name="mirrored",
    )
    with pytest.raises(appmesh.UnsupportedFeature, match="does not support traffic mirroring"):
        await appmesh.AppMeshV1beta2Router(client).reconcile(mirrored)
    assert await client.get(V1B2, "VirtualRouter", "podinfo", namespace) is None
