"""The NGINX router against the local control plane (networking.k8s.io/v1 Ingresses).

Matrix: reconcile creates the canary Ingress from the original and a second reconcile writes
nothing; weights round-trip; A/B by header, header pattern and cookie; blue/green at 100; a
change of the original's spec is carried over (annotations kept); a canary Ingress made by
someone else is taken over; a custom annotation prefix; errors for a missing original Ingress,
no ingressRef and mirroring; the plugin hook reads ``-ingress-annotations-prefix``.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import nginx
from tests.support import routers

pytestmark = pytest.mark.cluster

NET = "networking.k8s.io/v1"
P = "nginx.ingress.kubernetes.io"
FLUX = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}


def ingress(
    namespace: str, service: str = "podinfo", host: str = "app.example.com", name: str = "podinfo"
) -> dict[str, Any]:
    return {
        "apiVersion": NET,
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "podinfo"},
            "annotations": {"kubernetes.io/ingress.class": "nginx"},
        },
        "spec": {
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }


async def make(
    client: kube_client.Kube,
    namespace: str,
    analysis: dict[str, Any] | None = None,
    *,
    ingress_ref: bool = True,
) -> canary_api.Canary:
    spec: dict[str, Any] = {
        "provider": "nginx",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 80, "targetPort": 9898},
        "analysis": analysis or {"interval": "1m", "threshold": 5, "stepWeight": 20},
    }
    if ingress_ref:
        spec["ingressRef"] = {"apiVersion": NET, "kind": "Ingress", "name": "podinfo"}
    doc: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": spec,
    }
    return await routers.create_canary(client, doc)


async def canary_ingress(client: kube_client.Kube, namespace: str) -> dict[str, Any]:
    return await routers.must_get(client, NET, "Ingress", "podinfo-canary", namespace)


async def test_reconcile_and_weights(client: kube_client.Kube, namespace: str) -> None:
    await client.create(ingress(namespace))
    canary = await make(client, namespace)
    router = nginx.NginxRouter(client)
    await router.reconcile(canary)

    made = await canary_ingress(client, namespace)
    assert made["metadata"]["labels"] == {"app": "podinfo"}
    assert made["metadata"]["annotations"] == {
        "kubernetes.io/ingress.class": "nginx",
        **FLUX,
        f"{P}/canary": "true",
        f"{P}/canary-weight": "0",
    }
    assert made["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    assert made["spec"] == {
        "rules": [
            {
                "host": "app.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": "podinfo-canary", "port": {"number": 80}}
                            },
                        }
                    ]
                },
            }
        ]
    }
    assert await router.get_routes(canary) == (100, 0, False)

    version = made["metadata"]["resourceVersion"]
    await router.reconcile(canary)
    await router.set_routes(canary, 100, 0, False)
    assert (await canary_ingress(client, namespace))["metadata"]["resourceVersion"] == version

    for weight in (20, 40, 60):
        await router.set_routes(canary, 100 - weight, weight, False)
        assert await router.get_routes(canary) == (100 - weight, weight, False)
    await router.set_routes(canary, 100, 0, False)
    assert (await canary_ingress(client, namespace))["metadata"]["annotations"][
        f"{P}/canary-weight"
    ] == "0"
    await router.finalize(canary)
    assert await client.get(NET, "Ingress", "podinfo", namespace) is not None


@pytest.mark.parametrize(
    ("headers", "extra"),
    [
        (
            {"x-canary": {"exact": "insider"}},
            {f"{P}/canary-by-header": "x-canary", f"{P}/canary-by-header-value": "insider"},
        ),
        (
            {"x-canary": {"regex": "^in.*"}},
            {f"{P}/canary-by-header": "x-canary", f"{P}/canary-by-header-pattern": "^in.*"},
        ),
        ({"cookie": {"exact": "canary"}}, {f"{P}/canary-by-cookie": "canary"}),
    ],
)
async def test_ab_testing(
    client: kube_client.Kube, namespace: str, headers: dict[str, Any], extra: dict[str, str]
) -> None:
    await client.create(ingress(namespace))
    canary = await make(
        client,
        namespace,
        {"interval": "1m", "threshold": 2, "iterations": 5, "match": [{"headers": headers}]},
    )
    router = nginx.NginxRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 0, 100, False)
    annotations = (await canary_ingress(client, namespace))["metadata"]["annotations"]
    assert annotations == {
        "kubernetes.io/ingress.class": "nginx",
        **FLUX,
        f"{P}/canary": "true",
        f"{P}/canary-weight": "0",
        **extra,
    }
    assert await router.get_routes(canary) == (0, 100, False)
    await router.set_routes(canary, 100, 0, False)
    assert await router.get_routes(canary) == (100, 0, False)


async def test_blue_green(client: kube_client.Kube, namespace: str) -> None:
    await client.create(ingress(namespace))
    canary = await make(client, namespace, {"interval": "1m", "threshold": 2, "iterations": 3})
    router = nginx.NginxRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 0, 100, False)
    assert await router.get_routes(canary) == (0, 100, False)


async def test_original_changes_are_carried_over(client: kube_client.Kube, namespace: str) -> None:
    await client.create(ingress(namespace))
    canary = await make(client, namespace)
    router = nginx.NginxRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 60, 40, False)
    original = await client.get(NET, "Ingress", "podinfo", namespace)
    assert original is not None
    original["spec"]["rules"][0]["host"] = "new.example.com"
    await client.replace(original)
    await router.reconcile(canary)
    made = await canary_ingress(client, namespace)
    assert made["spec"]["rules"][0]["host"] == "new.example.com"
    assert made["metadata"]["annotations"][f"{P}/canary-weight"] == "40"


async def test_existing_canary_ingress_is_taken_over(
    client: kube_client.Kube, namespace: str
) -> None:
    await client.create(ingress(namespace))
    stale = ingress(namespace, service="old", name="podinfo-canary")
    stale["metadata"]["annotations"] = {"team": "web"}
    await client.create(stale)
    canary = await make(client, namespace)
    router = nginx.NginxRouter(client)
    await router.reconcile(canary)
    made = await canary_ingress(client, namespace)
    assert (
        made["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
        == "podinfo-canary"
    )
    assert made["metadata"]["annotations"] == {"team": "web"}
    await router.set_routes(canary, 80, 20, False)
    assert (await canary_ingress(client, namespace))["metadata"]["annotations"] == {
        "team": "web",
        f"{P}/canary-weight": "20",
        f"{P}/canary": "true",
    }


async def test_plugin_hook_uses_the_annotation_prefix(
    client: kube_client.Kube, namespace: str
) -> None:
    await client.create(ingress(namespace))
    canary = await make(client, namespace)
    context = plugins.PluginContext(
        kube=client, options={"ingress-annotations-prefix": "custom.io"}
    )
    router = nginx.flagger_router("nginx", context)
    assert router is not None and nginx.flagger_router("istio", context) is None
    await router.reconcile(canary)
    await router.set_routes(canary, 70, 30, False)
    annotations = (await canary_ingress(client, namespace))["metadata"]["annotations"]
    assert annotations["custom.io/canary-weight"] == "30"
    assert annotations["custom.io/canary"] == "true"
    assert await router.get_routes(canary) == (70, 30, False)


async def test_errors(client: kube_client.Kube, namespace: str) -> None:
    router = nginx.NginxRouter(client)
    canary = await make(client, namespace)
    with pytest.raises(
        router_helpers.RouterError, match=r"ingress podinfo\..* get query error: not found"
    ):
        await router.reconcile(canary)
    await client.create(ingress(namespace, service="other"))
    with pytest.raises(
        router_helpers.RouterError, match="backend podinfo not found in ingress podinfo"
    ):
        await router.reconcile(canary)
    mirror = canary.model_copy(deep=True)
    assert mirror.spec.analysis is not None
    mirror.spec.analysis.mirror = True
    with pytest.raises(nginx.UnsupportedRequest, match="does not support traffic mirroring"):
        await router.reconcile(mirror)
    bare = canary.model_copy(deep=True)
    bare.spec.ingress_ref = None
    with pytest.raises(nginx.UnsupportedRequest, match=r"without spec\.ingressRef"):
        await router.get_routes(bare)
