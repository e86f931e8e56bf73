"""The Gateway API routers against the local control plane (Gateway API CRDs from the fixtures).

Matrix: flavour (v1, v1beta1) x reconcile (create, then no write) and weights round trip;
filters and timeouts stored as written; A/B rules; blue/green mirroring read back; session
affinity (cookie in status, weights readable, reconcile writes nothing); a user's HTTPRoute
taken over and restored by finalize; a v1beta1 Canary asking for a v1-only setting fails
clearly without writing anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import gatewayapi
from tests.support import routers

pytestmark = pytest.mark.cluster

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]
GATEWAY = {
    "group": "gateway.networking.k8s.io",
    "kind": "Gateway",
    "name": "gateway",
    "namespace": "istio-ingress",
}
ROOT = {"path": {"type": "PathPrefix", "value": "/"}}


def svc(**extra: Any) -> dict[str, Any]:
    return {
        "port": 9898,
        "gatewayRefs": [{"name": "gateway", "namespace": "istio-ingress"}],
        **extra,
    }


def backend(name: str, weight: int) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": name, "port": 9898, "weight": weight}


async def _route(client: kube_client.Kube, flavor: gatewayapi.Flavor, ns: str) -> dict[str, Any]:
    found = await client.get(flavor.api_version, "HTTPRoute", "podinfo", ns)
    assert found is not None, "HTTPRoute podinfo missing"
    return found


@pytest.mark.parametrize("flavor", [gatewayapi.V1, gatewayapi.V1BETA1], ids=["v1", "v1beta1"])
async def test_reconcile_then_shift_weights(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary, flavor: gatewayapi.Flavor
) -> None:
    canary = await make_canary(svc(hosts=["app.example.com"]))
    router = gatewayapi.GatewayAPIRouter(client, flavor)
    await router.reconcile(canary)
    route = await _route(client, flavor, namespace)
    assert route["spec"] == {
        "parentRefs": [GATEWAY],
        "hostnames": ["app.example.com"],
        "rules": [
            {
                "matches": [ROOT],
                "backendRefs": [backend("podinfo-primary", 100), backend("podinfo-canary", 0)],
            }
        ],
    }
    assert route["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    assert await router.get_routes(canary) == (100, 0, False)

    await router.set_routes(canary, 90, 10, False)
    assert await router.get_routes(canary) == (90, 10, False)
    shifted = await _route(client, flavor, namespace)
    await router.reconcile(canary)
    after = await _route(client, flavor, namespace)
    assert after["metadata"]["resourceVersion"] == shifted["metadata"]["resourceVersion"]
    # no change, no write
    await router.set_routes(canary, 90, 10, False)
    again = await _route(client, flavor, namespace)
    assert again["metadata"]["resourceVersion"] == shifted["metadata"]["resourceVersion"]


async def test_filters_and_timeouts_are_stored(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(
        svc(
            headers={"response": {"set": {"x-served-by": "podinfo"}}},
            rewrite={"uri": "/"},
            timeout="30s",
            backendTimeout="10s",
            corsPolicy={"allowOrigin": ["https://a.example.com"], "maxAge": "1m"},
        )
    )
    router = gatewayapi.GatewayAPIRouter(client)
    await router.reconcile(canary)
    rule = (await _route(client, gatewayapi.V1, namespace))["spec"]["rules"][0]
    assert rule["filters"] == [
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {"set": [{"name": "x-served-by", "value": "podinfo"}]},
        },
        {
            "type": "URLRewrite",
            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
        },
        {"type": "CORS", "cors": {"allowOrigins": ["https://a.example.com"], "maxAge": 60}},
    ]
    assert rule["timeouts"] == {"request": "30s", "backendRequest": "10s"}
    await router.set_routes(canary, 50, 50, False)
    assert await router.get_routes(canary) == (50, 50, False)


async def test_ab_rules(client: kube_client.Kube, namespace: str, make_canary: MakeCanary) -> None:
    canary = await make_canary(
        svc(),
        routers.AB_ANALYSIS,
    )
    router = gatewayapi.GatewayAPIRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 0, 100, False)
    rules = (await _route(client, gatewayapi.V1, namespace))["spec"]["rules"]
    assert rules == [
        {
            "matches": [
                {**ROOT, "headers": [{"type": "Exact", "name": "x-canary", "value": "insider"}]}
            ],
            "backendRefs": [backend("podinfo-primary", 0), backend("podinfo-canary", 100)],
        },
        {"matches": [ROOT], "backendRefs": [backend("podinfo-primary", 100)]},
    ]
    assert await router.get_routes(canary) == (0, 100, False)


async def test_blue_green_mirroring(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(
        svc(), {"interval": "1m", "threshold": 5, "iterations": 10, "mirror": True}
    )
    router = gatewayapi.GatewayAPIRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 100, 0, True)
    assert await router.get_routes(canary) == (100, 0, True)
    await router.set_routes(canary, 0, 100, False)
    assert await router.get_routes(canary) == (0, 100, False)


async def test_session_affinity(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(
        svc(),
        {
            "interval": "1m",
            "threshold": 5,
            "stepWeight": 10,
            "sessionAffinity": {"cookieName": "flagger-cookie"},
        },
    )
    router = gatewayapi.GatewayAPIRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 80, 20, False)
    assert canary.status is not None and canary.status.session_affinity_cookie
    assert await router.get_routes(canary) == (80, 20, False)
    version = (await _route(client, gatewayapi.V1, namespace))["metadata"]["resourceVersion"]
    await router.reconcile(canary)
    after = await _route(client, gatewayapi.V1, namespace)
    assert after["metadata"]["resourceVersion"] == version
    await router.set_routes(canary, 100, 0, False)
    assert canary.status.session_affinity_cookie is None
    assert canary.status.previous_session_affinity_cookie


async def test_takeover_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    users_spec = {
        "parentRefs": [{"name": "gateway"}],
        "rules": [{"backendRefs": [{"name": "podinfo", "port": 9898}]}],
    }
    await client.create(
        {
            "apiVersion": gatewayapi.V1.api_version,
            "kind": "HTTPRoute",
            "metadata": {
                "name": "podinfo",
                "namespace": namespace,
                "annotations": {"example.com/owner": "platform"},
            },
            "spec": users_spec,
        }
    )
    canary = await make_canary(svc())
    router = gatewayapi.GatewayAPIRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 60, 40, False)
    assert await router.get_routes(canary) == (60, 40, False)
    route = await _route(client, gatewayapi.V1, namespace)
    assert route["metadata"]["annotations"]["example.com/owner"] == "platform"

    canary.spec.service.timeout = "3s"  # type: ignore[union-attr]
    await router.reconcile(canary)
    route = await _route(client, gatewayapi.V1, namespace)
    assert route["spec"]["rules"][0]["timeouts"] == {"request": "3s"}

    await router.finalize(canary)
    restored = await _route(client, gatewayapi.V1, namespace)
    assert restored["spec"] == users_spec


async def test_v1beta1_refuses_v1_only_settings(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(svc(timeout="5s"))
    router = gatewayapi.GatewayAPIRouter(client, gatewayapi.V1BETA1)
    with pytest.raises(
        gatewayapi.UnsupportedByProvider, match="provider gatewayapi:v1beta1 does not support"
    ):
        await router.reconcile(canary)
    assert (
        await client.get(gatewayapi.V1BETA1.api_version, "HTTPRoute", "podinfo", namespace) is None
    )
