"""The APISIX router against the local control plane (APISIX test CRDs).

Matrix: reconcile clones the user's ApisixRoute into ``<route>-<svc>-canary`` and a second
reconcile writes nothing; weights round-trip and survive a change of the user's route; finalize
deletes the canary route and leaves the user's alone; a taken-over canary route is restored;
a missing routeRef object and A/B testing are clear errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import apisix
from tests.support import routers

pytestmark = pytest.mark.cluster

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]
ROUTE_REF = {"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "podinfo"}
USERS_SPEC = {
    "http": [
        {
            "name": "method",
            "match": {"hosts": ["app.example.com"], "paths": ["/*"]},
            "backends": [{"serviceName": "podinfo", "servicePort": 80}],
        }
    ]
}


async def _route(client: kube_client.Kube, ns: str, name: str) -> dict[str, Any]:
    found = await client.get(apisix.API_VERSION, "ApisixRoute", name, ns)
    assert found is not None, f"ApisixRoute {name} missing"
    return found


async def _canary(
    make_canary: MakeCanary, client: kube_client.Kube, namespace: str, **analysis: Any
) -> canary_api.Canary:
    await client.create(
        {
            "apiVersion": apisix.API_VERSION,
            "kind": "ApisixRoute",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": USERS_SPEC,
        }
    )
    canary = await make_canary({"port": 80}, analysis or None)
    canary.spec.route_ref = canary_api.RouteReference.model_validate(ROUTE_REF)
    return canary


async def test_reconcile_shift_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await _canary(make_canary, client, namespace)
    router = apisix.ApisixRouter(client)
    await router.reconcile(canary)
    made = await _route(client, namespace, "podinfo-podinfo-canary")
    assert made["spec"] == {
        "http": [
            {
                "name": "method",
                "match": {"hosts": ["app.example.com"], "paths": ["/*"]},
                "priority": 10000,
                "backends": [
                    {"serviceName": "podinfo-primary", "servicePort": 80, "weight": 100},
                    {"serviceName": "podinfo-canary", "servicePort": 80, "weight": 0},
                ],
            }
        ]
    }
    assert made["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    assert await router.get_routes(canary) == (100, 0, False)

    await router.set_routes(canary, 60, 40, False)
    assert await router.get_routes(canary) == (60, 40, False)
    shifted = await _route(client, namespace, "podinfo-podinfo-canary")
    await router.reconcile(canary)
    assert (await _route(client, namespace, "podinfo-podinfo-canary"))["metadata"][
        "resourceVersion"
    ] == shifted["metadata"]["resourceVersion"]

    users = await _route(client, namespace, "podinfo")
    users["spec"]["http"][0]["match"]["paths"] = ["/v2/*"]
    await client.replace(users)
    await router.reconcile(canary)
    updated = await _route(client, namespace, "podinfo-podinfo-canary")
    assert updated["spec"]["http"][0]["match"]["paths"] == ["/v2/*"]
    assert await router.get_routes(canary) == (60, 40, False)
    await router.set_routes(canary, 0, 100, False)
    assert await router.get_routes(canary) == (0, 100, False)

    await router.finalize(canary)
    assert (
        await client.get(apisix.API_VERSION, "ApisixRoute", "podinfo-podinfo-canary", namespace)
        is None
    )
    assert (await _route(client, namespace, "podinfo"))["spec"]["http"][0]["backends"] == [
        {"serviceName": "podinfo", "servicePort": 80}
    ]


async def test_takeover_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await _canary(make_canary, client, namespace)
    theirs = {"http": [{"name": "old", "backends": [{"serviceName": "legacy", "servicePort": 80}]}]}
    await client.create(
        {
            "apiVersion": apisix.API_VERSION,
            "kind": "ApisixRoute",
            "metadata": {"name": "podinfo-podinfo-canary", "namespace": namespace},
            "spec": theirs,
        }
    )
    router = apisix.ApisixRouter(client)
    await router.reconcile(canary)
    assert await router.get_routes(canary) == (100, 0, False)
    await router.finalize(canary)
    assert (await _route(client, namespace, "podinfo-podinfo-canary"))["spec"] == theirs


async def test_clear_errors(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary({"port": 80})
    canary.spec.route_ref = canary_api.RouteReference.model_validate(ROUTE_REF)
    with pytest.raises(router_helpers.RouterError, match=r"APISIX route podinfo\..* not found"):
        await apisix.ApisixRouter(client).reconcile(canary)
    ab = await make_canary(
        {"port": 80},
        routers.AB_ANALYSIS,
        name="ab",
    )
    ab.spec.route_ref = canary_api.RouteReference.model_validate(ROUTE_REF)
    with pytest.raises(apisix.UnsupportedFeature, match="does not support A/B testing"):
        await apisix.ApisixRouter(client).reconcile(ab)
