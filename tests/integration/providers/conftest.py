"""Fixtures for the router tests: a `Kube` client and Canaries that exist on the API server.

The Canaries are created for real so that the owner references routers write point at a live
object (otherwise the garbage collector would delete what the routers create).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client

CANARY_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "canaries.flagger.app"},
    "spec": {
        "group": "flagger.app",
        "scope": "Namespaced",
        "names": {
            "kind": "Canary",
            "plural": "canaries",
            "singular": "canary",
            "listKind": "CanaryList",
        },
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]


@pytest.fixture
async def client(cluster: devcluster.LocalCluster) -> AsyncIterator[kube_client.Kube]:
    """A `Kube` logged in as the cluster admin, with the Canary CRD served."""
    kube = await kube_client.Kube.connect(str(cluster.kubeconfig))
    try:
        name = CANARY_CRD["metadata"]["name"]
        if await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) is None:
            await kube.create(CANARY_CRD)
            cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
        yield kube
    finally:
        await kube.close()


@pytest.fixture
def make_canary(client: kube_client.Kube, namespace: str) -> MakeCanary:
    """Create a Canary ``podinfo`` targeting Deployment ``podinfo`` and return its model."""

    async def make(
        service: dict[str, Any], analysis: dict[str, Any] | None = None, name: str = "podinfo"
    ) -> canary_api.Canary:
        doc: dict[str, Any] = {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": service,
                "analysis": analysis or {"interval": "1m", "threshold": 5, "stepWeight": 10},
            },
        }
        created = await client.create(doc)
        return canary_api.Canary.model_validate(
            {**doc, "metadata": {**doc["metadata"], "uid": created["metadata"]["uid"]}}
        )

    return make
