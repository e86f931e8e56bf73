"""The Gloo router against the local control plane (Gloo test CRDs).

Matrix: reconcile creates the Upstreams from the generated Services (configured from an
``upstreamRef`` template) and the RouteTable, and a second reconcile writes nothing; weights
round-trip and survive a spec change; A/B matchers; a user's RouteTable is taken over and
finalize restores it; missing Services and a missing template are clear errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import gloo
from tests.support import routers

pytestmark = pytest.mark.cluster

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]


async def _services(client: kube_client.Kube, namespace: str) -> None:
    for name in ("podinfo-primary", "podinfo-canary"):
        app = name if name.endswith("primary") else "podinfo"
        await client.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 9898}]},
            }
        )


async def _table(client: kube_client.Kube, ns: str) -> dict[str, Any]:
    found = await client.get(gloo.GATEWAY_API_VERSION, "RouteTable", "podinfo", ns)
    assert found is not None, "RouteTable podinfo missing"
    return found


async def test_reconcile_then_shift_weights(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    await _services(client, namespace)
    await client.create(
        {
            "apiVersion": gloo.GLOO_API_VERSION,
            "kind": "Upstream",
            "metadata": {"name": "config", "namespace": namespace},
            "spec": {"connectionConfig": {"maxRequestsPerConnection": 10}},
        }
    )
    canary = await make_canary({"port": 9898})
    canary.spec.upstream_ref = canary_api.UpstreamReference.model_validate(
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "config"}
    )
    router = gloo.GlooRouter(client)
    await router.reconcile(canary)

    primary_name, canary_name = gloo.upstream_names(canary)
    assert primary_name == f"{namespace}-podinfo-primaryupstream-9898"
    made = await client.get(gloo.GLOO_API_VERSION, "Upstream", canary_name, namespace)
    assert made is not None
    assert made["spec"] == {
        "connectionConfig": {"maxRequestsPerConnection": 10},
        "kube": {
            "serviceName": "podinfo-canary",
            "serviceNamespace": namespace,
            "servicePort": 9898,
            "selector": {"app": "podinfo"},
        },
    }
    assert made["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    assert (await _table(client, namespace))["spec"] == gloo.route_table_spec(canary)
    assert await router.get_routes(canary) == (100, 0, False)

    await router.set_routes(canary, 70, 30, False)
    assert await router.get_routes(canary) == (70, 30, False)
    shifted = await _table(client, namespace)
    await router.reconcile(canary)
    assert (await _table(client, namespace))["metadata"]["resourceVersion"] == shifted["metadata"][
        "resourceVersion"
    ]

    canary.spec.analysis = analysis_api.CanaryAnalysis.model_validate(routers.AB_ANALYSIS)
    await router.reconcile(canary)
    table = await _table(client, namespace)
    assert table["spec"]["routes"][0]["matchers"] == [
        {"headers": [{"name": "x-canary", "value": "insider"}]}
    ]
    assert await router.get_routes(canary) == (70, 30, False)
    await router.set_routes(canary, 0, 100, False)
    assert await router.get_routes(canary) == (0, 100, False)


async def test_takeover_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    await _services(client, namespace)
    users_spec = {
        "routes": [
            {"routeAction": {"single": {"upstream": {"name": "podinfo", "namespace": namespace}}}}
        ]
    }
    users = routers.users_object(gloo.GATEWAY_API_VERSION, "RouteTable", namespace, users_spec)
    canary = await make_canary({"port": 9898})
    router = gloo.GlooRouter(client)
    back = await routers.take_over_and_give_back(client, router, canary, users)
    assert back is not None and back["spec"] == users_spec


async def test_clear_errors(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary({"port": 9898})
    with pytest.raises(
        router_helpers.RouterError,
        match=r"error creating flagger primary upstream: service podinfo-primary",
    ):
        await gloo.GlooRouter(client).reconcile(canary)
    await _services(client, namespace)
    canary.spec.upstream_ref = canary_api.UpstreamReference.model_validate(
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "missing"}
    )
    with pytest.raises(router_helpers.RouterError, match=r"config upstream missing\..* not found"):
        await gloo.GlooRouter(client).reconcile(canary)
