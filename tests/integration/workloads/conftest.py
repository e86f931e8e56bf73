"""Fixtures for the workload controller tests: a `Kube` with the Canary kind available."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client

CANARY_CRD = {
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


@pytest.fixture
async def client(cluster: devcluster.LocalCluster) -> AsyncIterator[kube_client.Kube]:
    """A `Kube` for the local control plane, with the Canary kind available."""
    kube = await kube_client.Kube.connect(str(cluster.kubeconfig))
    try:
        name = "canaries.flagger.app"
        if await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) is None:
            await kube.create(CANARY_CRD)
            cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
        yield kube
    finally:
        await kube.close()
