"""The Kuma router against the local control plane (the cluster-scoped TrafficRoute CRD from the
fixtures).

Matrix: reconcile (create with the top-level mesh, then no write) and weights round trip; a
user's TrafficRoute taken over and restored by finalize; a mirroring Canary fails clearly.
TrafficRoutes are cluster-scoped, so each test names its canary service after its namespace and
deletes what it created.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import kuma

pytestmark = pytest.mark.cluster

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]


@pytest.fixture
async def route_name(client: kube_client.Kube, namespace: str) -> AsyncIterator[str]:
    """A TrafficRoute name unique to the test, deleted afterwards (no namespace cleans it)."""
    name = f"web-{namespace}"
    yield name
    await client.delete(kuma.API_VERSION, kuma.KIND, name)


async def _route(client: kube_client.Kube, name: str) -> dict[str, Any]:
    found = await client.get(kuma.API_VERSION, kuma.KIND, name)
    assert found is not None, f"TrafficRoute {name} missing"
    return found


async def test_reconcile_then_shift_weights(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary, route_name: str
) -> None:
    canary = await make_canary({"port": 9898, "name": route_name})
    router = kuma.KumaRouter(client)
    await router.reconcile(canary)
    route = await _route(client, route_name)
    assert route["mesh"] == "default"
    assert route["spec"] == kuma.traffic_route_spec(canary)
    assert route["spec"]["destinations"] == [
        {"match": {"kuma.io/service": f"{route_name}_{namespace}_svc_9898"}}
    ]
    assert await router.get_routes(canary) == (100, 0, False)

    await router.set_routes(canary, 80, 20, False)
    assert await router.get_routes(canary) == (80, 20, False)
    shifted = await _route(client, route_name)
    await router.reconcile(canary)
    after = await _route(client, route_name)
    assert after["metadata"]["resourceVersion"] == shifted["metadata"]["resourceVersion"]


async def test_takeover_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary, route_name: str
) -> None:
    users_spec = {
        "sources": [{"match": {"kuma.io/service": "*"}}],
        "destinations": [{"match": {"kuma.io/service": "x"}}],
        "conf": {"destination": {"kuma.io/service": "x"}},
    }
    await client.create(
        {
            "apiVersion": kuma.API_VERSION,
            "kind": kuma.KIND,
            "mesh": "default",
            "metadata": {"name": route_name},
            "spec": users_spec,
        }
    )
    canary = await make_canary({"port": 9898, "name": route_name})
    router = kuma.KumaRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 50, 50, False)
    assert await router.get_routes(canary) == (50, 50, False)
    await router.finalize(canary)
    assert (await _route(client, route_name))["spec"] == users_spec


async def test_mirroring_is_refused(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary, route_name: str
) -> None:
    canary = await make_canary(
        {"port": 9898, "name": route_name},
        {"interval": "1m", "threshold": 5, "iterations": 5, "mirror": True},
    )
    with pytest.raises(kuma.UnsupportedByProvider, match="provider kuma does not support"):
        await kuma.KumaRouter(client).reconcile(canary)
    assert await client.get(kuma.API_VERSION, kuma.KIND, route_name) is None
