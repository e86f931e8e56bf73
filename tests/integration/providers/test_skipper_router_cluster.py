"""The Skipper router against the local control plane (networking.k8s.io/v1 Ingresses).

Matrix: reconcile creates the canary Ingress (primary + canary paths, weights 100/0) and a second
reconcile writes nothing; weights round-trip with the predicate switched at 0; a change of the
original rebuilds the canary Ingress; finalize deletes it (twice is fine); unsupported A/B.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import nginx, skipper
from tests.support import routers

pytestmark = pytest.mark.cluster

NET = "networking.k8s.io/v1"
W = "zalando.org/backend-weights"
PRED = "zalando.org/skipper-predicate"


def backend(name: str) -> dict[str, Any]:
    return {"service": {"name": name, "port": {"number": 80}}}


def ingress(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": NET,
        "kind": "Ingress",
        "metadata": {
            "name": "podinfo",
            "namespace": namespace,
            "annotations": {"kubernetes.io/ingress.class": "skipper"},
        },
        "spec": {
            "rules": [
                {
                    "host": "app.example.com",
                    "http": {
                        "paths": [
                            {"path": "/", "pathType": "Prefix", "backend": backend("podinfo")}
                        ]
                    },
                }
            ]
        },
    }


async def make(
    client: kube_client.Kube, namespace: str, analysis: dict[str, Any] | None = None
) -> canary_api.Canary:
    doc: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "provider": "skipper",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "ingressRef": {"apiVersion": NET, "kind": "Ingress", "name": "podinfo"},
            "service": {"port": 80},
            "analysis": analysis or {"interval": "1m", "threshold": 5, "stepWeight": 10},
        },
    }
    return await routers.create_canary(client, doc)


async def canary_ingress(client: kube_client.Kube, namespace: str) -> dict[str, Any]:
    return await routers.must_get(client, NET, "Ingress", "podinfo-canary", namespace)


async def test_reconcile_weights_finalize(client: kube_client.Kube, namespace: str) -> None:
    await client.create(ingress(namespace))
    canary = await make(client, namespace)
    router = skipper.SkipperRouter(client)
    await router.reconcile(canary)
    made = await canary_ingress(client, namespace)
    assert made["metadata"]["annotations"] == {
        "kubernetes.io/ingress.class": "skipper",
        W: '{"podinfo-canary":0,"podinfo-primary":100}',
        PRED: "Weight(100)",
    }
    assert made["spec"]["rules"][0]["http"]["paths"] == [
        {"path": "/", "pathType": "Prefix", "backend": backend("podinfo-primary")},
        {"path": "/", "pathType": "Prefix", "backend": backend("podinfo-canary")},
    ]
    assert made["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    assert await router.get_routes(canary) == (100, 0, False)
    version = made["metadata"]["resourceVersion"]
    await router.reconcile(canary)
    assert (await canary_ingress(client, namespace))["metadata"]["resourceVersion"] == version

    for primary, weight in ((90, 10), (30, 70), (0, 100)):
        await router.set_routes(canary, primary, weight, False)
        assert await router.get_routes(canary) == (primary, weight, False)
        assert (await canary_ingress(client, namespace))["metadata"]["annotations"][
            PRED
        ] == "Weight(100)"
    await router.set_routes(canary, 100, 0, False)
    assert (await canary_ingress(client, namespace))["metadata"]["annotations"][PRED] == "False()"

    original = await client.get(NET, "Ingress", "podinfo", namespace)
    assert original is not None
    original["spec"]["rules"][0]["host"] = "new.example.com"
    await client.replace(original)
    await router.set_routes(canary, 50, 50, False)
    await router.reconcile(canary)
    rebuilt = await canary_ingress(client, namespace)
    assert rebuilt["spec"]["rules"][0]["host"] == "new.example.com"
    assert await router.get_routes(canary) == (100, 0, False)

    await router.finalize(canary)
    assert await client.get(NET, "Ingress", "podinfo-canary", namespace) is None
    assert await client.get(NET, "Ingress", "podinfo", namespace) is not None
    await router.finalize(canary)


async def test_ab_testing_is_unsupported(client: kube_client.Kube, namespace: str) -> None:
    await client.create(ingress(namespace))
    canary = await make(
        client,
        namespace,
        {
            "interval": "1m",
            "threshold": 2,
            "iterations": 3,
            "match": [{"headers": {"x-canary": {"exact": "1"}}}],
        },
    )
    with pytest.raises(
        nginx.UnsupportedRequest,
        match=f"canary podinfo.{namespace}: provider skipper does not support A/B testing",
    ):
        await skipper.SkipperRouter(client).reconcile(canary)
