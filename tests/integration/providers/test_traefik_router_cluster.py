"""The Traefik router against the local control plane (``traefik.io`` test CRDs).

Matrix: reconcile creates the TraefikService and a second reconcile writes nothing; weights
round-trip, including the blue/green switch; a spec change keeps the weights; a user's
TraefikService is taken over and finalize restores it; A/B testing is refused before anything
is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import traefik
from tests.support import routers

pytestmark = pytest.mark.cluster

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]


async def _get(client: kube_client.Kube, ns: str) -> dict[str, Any]:
    found = await client.get(traefik.API_VERSION, "TraefikService", "podinfo", ns)
    assert found is not None, "TraefikService podinfo missing"
    return found


async def test_reconcile_then_shift_weights(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary({"port": 9898})
    router = traefik.TraefikRouter(client)
    await router.reconcile(canary)
    created = await _get(client, namespace)
    assert created["spec"] == traefik.traefik_service_spec(canary)
    assert created["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    assert await router.get_routes(canary) == (100, 0, False)

    await router.set_routes(canary, 80, 20, False)
    assert await router.get_routes(canary) == (80, 20, False)
    shifted = await _get(client, namespace)
    await router.reconcile(canary)
    assert (await _get(client, namespace))["metadata"]["resourceVersion"] == shifted["metadata"][
        "resourceVersion"
    ]

    canary.spec.service.port = 8080  # type: ignore[union-attr]
    await router.reconcile(canary)
    assert (await _get(client, namespace))["spec"]["weighted"]["services"][0]["port"] == 8080
    assert await router.get_routes(canary) == (80, 20, False)

    await router.set_routes(canary, 0, 100, False)  # blue/green switch
    assert await router.get_routes(canary) == (0, 100, False)
    await router.set_routes(canary, 100, 0, False)
    assert (await _get(client, namespace))["spec"]["weighted"]["services"] == [
        {"name": "podinfo-primary", "namespace": namespace, "port": 8080, "weight": 100}
    ]
    with pytest.raises(router_helpers.RouterError, match="no valid weights"):
        await router.set_routes(canary, 0, 0, False)


async def test_takeover_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    users_spec = {"weighted": {"services": [{"name": "podinfo", "port": 9898}]}}
    users = routers.users_object(traefik.API_VERSION, "TraefikService", namespace, users_spec)
    canary = await make_canary({"port": 9898})
    router = traefik.TraefikRouter(client)
    back = await routers.take_over_and_give_back(client, router, canary, users)
    assert back is not None and back["spec"] == users_spec


async def test_ab_testing_is_refused(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(
        {"port": 9898},
        routers.AB_ANALYSIS,
    )
    with pytest.raises(
        traefik.UnsupportedFeature, match=r"provider traefik does not support A/B testing"
    ):
        await traefik.TraefikRouter(client).reconcile(canary)
    assert await client.get(traefik.API_VERSION, "TraefikService", "podinfo", namespace) is None
