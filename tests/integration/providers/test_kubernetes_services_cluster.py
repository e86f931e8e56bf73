"""The Kubernetes Service router against the local control plane.

Matrix: first reconcile creates the three owned Services; a second one writes nothing; a spec
change updates in place; an apex Service the user made is taken over and given back by
finalize. (The owner references are asserted; garbage collection itself is the control
plane's, proven in test_control_plane_realism.py.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger import services
from flagger.api import canary as canary_api
from flagger.api import service as service_api
from flagger.kube import client as kube_client

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]

pytestmark = pytest.mark.cluster

TARGET = services.TargetSelector("app", "podinfo", {"metrics": 9797})


async def _services(client: kube_client.Kube, namespace: str) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in await client.list("v1", "Service", namespace)}


async def test_creates_the_three_services_once(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(
        {"port": 9898, "portDiscovery": True, "apex": {"labels": {"tier": "web"}}}
    )
    router = services.ServiceRouter(client, TARGET)
    await router.initialize(canary)
    await router.reconcile(canary)

    found = await _services(client, namespace)
    assert {n: s["spec"]["selector"] for n, s in found.items()} == {
        "podinfo": {"app": "podinfo-primary"},
        "podinfo-primary": {"app": "podinfo-primary"},
        "podinfo-canary": {"app": "podinfo"},
    }
    apex = found["podinfo"]
    assert apex["metadata"]["labels"] == {"tier": "web", "app": "podinfo"}
    assert apex["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "name": "podinfo",
            "uid": canary.metadata["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert apex["spec"]["type"] == "ClusterIP"
    assert apex["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 9898, "targetPort": 9898},
        {"name": "metrics", "protocol": "TCP", "port": 9797, "targetPort": 9797},
    ]

    versions = {n: s["metadata"]["resourceVersion"] for n, s in found.items()}
    await router.initialize(canary)
    await router.reconcile(canary)
    again = await _services(client, namespace)
    assert {n: s["metadata"]["resourceVersion"] for n, s in again.items()} == versions


async def test_spec_change_updates_in_place(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary({"port": 9898})
    router = services.ServiceRouter(client, services.TargetSelector("app", "podinfo"))
    await router.initialize(canary)
    before = await client.get("v1", "Service", "podinfo-canary", namespace)
    assert before is not None

    canary.spec.service.port = 8080  # type: ignore[union-attr]
    canary.spec.service.canary = service_api.CustomMetadata(  # type: ignore[union-attr]
        annotations={"team": "a"}
    )
    await router.initialize(canary)
    after = await client.get("v1", "Service", "podinfo-canary", namespace)
    assert after is not None
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["spec"]["clusterIP"] == before["spec"]["clusterIP"]
    assert after["spec"]["ports"][0]["port"] == 8080
    assert after["metadata"]["annotations"]["team"] == "a"


async def test_takes_over_the_apex_and_gives_it_back(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "podinfo", "namespace": namespace, "labels": {"owner": "me"}},
            "spec": {
                "selector": {"app": "podinfo"},
                "ports": [{"name": "http", "port": 9898, "targetPort": 9898}],
            },
        }
    )
    canary = await make_canary({"port": 9898})
    router = services.ServiceRouter(client, services.TargetSelector("app", "podinfo"))
    await router.reconcile(canary)
    taken = await client.get("v1", "Service", "podinfo", namespace)
    assert taken is not None
    assert taken["spec"]["selector"] == {"app": "podinfo-primary"}
    assert taken["metadata"]["labels"] == {"owner": "me"}
    assert "ownerReferences" not in taken["metadata"]

    await router.finalize(canary)
    given_back = await client.get("v1", "Service", "podinfo", namespace)
    assert given_back is not None
    assert given_back["spec"]["selector"] == {"app": "podinfo"}
