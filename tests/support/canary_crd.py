"""A permissive Canary CRD for control-plane tests, and the admin `client` fixture that serves it.

Conftests that need a `Kube` logged in as the cluster admin import `client` from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

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


async def ensure_canary_crd(client: kube_client.Kube, cluster: devcluster.LocalCluster) -> None:
    """Install the permissive Canary CRD when the project's own CRD is not installed yet."""
    crd = CANARY_CRD["metadata"]["name"]
    if await client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd) is None:
        await client.create(CANARY_CRD)
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd}")


@pytest.fixture
async def client(cluster: devcluster.LocalCluster) -> AsyncIterator[kube_client.Kube]:
    """A `Kube` logged in as the cluster admin, with the Canary kind available."""
    kube = await kube_client.Kube.connect(str(cluster.kubeconfig))
    try:
        await ensure_canary_crd(kube, cluster)
        yield kube
    finally:
        await kube.close()
