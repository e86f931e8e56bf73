"""The Contour router against the local control plane (Contour test CRDs).

Matrix: reconcile creates the HTTPProxy with the ingress class and a second reconcile writes
nothing; set_routes/get_routes round-trip canary and A/B weights; a spec change keeps the
weights; a user's HTTPProxy is taken over and finalize restores it; invalid weights and an
unsupported match are clear errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import contour
from tests.support import routers

pytestmark = pytest.mark.cluster

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]


async def _get(client: kube_client.Kube, ns: str) -> dict[str, Any]:
    found = await client.get(contour.API_VERSION, "HTTPProxy", "podinfo", ns)
    assert found is not None, "HTTPProxy podinfo missing"
    return found


async def test_reconcile_then_shift_weights(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary({"port": 9898, "timeout": "15s"})
    router = contour.ContourRouter(client, ingress_class="contour")
    await router.reconcile(canary)
    proxy = await _get(client, namespace)
    assert proxy["spec"] == contour.http_proxy_spec(canary)
    assert proxy["metadata"]["annotations"]["projectcontour.io/ingress.class"] == "contour"
    assert proxy["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    assert await router.get_routes(canary) == (100, 0, False)

    await router.set_routes(canary, 90, 10, False)
    assert await router.get_routes(canary) == (90, 10, False)
    shifted = await _get(client, namespace)
    await router.reconcile(canary)
    assert (await _get(client, namespace))["metadata"]["resourceVersion"] == shifted["metadata"][
        "resourceVersion"
    ]

    canary.spec.service.timeout = "30s"  # type: ignore[union-attr]
    await router.reconcile(canary)
    updated = await _get(client, namespace)
    assert updated["spec"]["routes"][0]["timeoutPolicy"] == {"response": "30s", "idle": "5m"}
    assert await router.get_routes(canary) == (90, 10, False)

    with pytest.raises(router_helpers.RouterError, match="no valid weights"):
        await router.set_routes(canary, 0, 0, False)


async def test_ab_routes(client: kube_client.Kube, namespace: str, make_canary: MakeCanary) -> None:
    canary = await make_canary(
        {"port": 9898},
        routers.AB_ANALYSIS,
    )
    router = contour.ContourRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 0, 100, False)
    proxy = await _get(client, namespace)
    assert proxy["spec"] == contour.http_proxy_spec(canary, 0, 100)
    assert proxy["spec"]["routes"][0]["conditions"] == [
        {"prefix": "/", "header": {"name": "x-canary", "exact": "insider"}}
    ]
    assert await router.get_routes(canary) == (0, 100, False)


async def test_takeover_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    users_spec = {
        "routes": [
            {"conditions": [{"prefix": "/"}], "services": [{"name": "podinfo", "port": 9898}]}
        ]
    }
    users = routers.users_object(contour.API_VERSION, "HTTPProxy", namespace, users_spec)
    canary = await make_canary({"port": 9898})
    router = contour.ContourRouter(client)
    back = await routers.take_over_and_give_back(client, router, canary, users)
    assert back is not None and back["spec"] == users_spec


async def test_unsupported_match_is_refused(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(
        {"port": 9898},
        routers.ab_analysis(regex="^in.*"),
    )
    with pytest.raises(contour.UnsupportedFeature, match="regex header matches"):
        await contour.ContourRouter(client).reconcile(canary)
    assert await client.get(contour.API_VERSION, "HTTPProxy", "podinfo", namespace) is None
