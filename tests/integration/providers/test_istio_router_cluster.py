"""The Istio router against the local control plane (Istio CRDs from the test fixtures).

Matrix: reconcile creates both DestinationRules and the VirtualService and a second reconcile
writes nothing; set_routes/get_routes round-trip weights and mirroring; A/B routes; session
affinity keeps its weights readable; a user's VirtualService is taken over and finalize
restores it; a spec change updates the VirtualService without losing the original.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import istio
from tests.support import routers

pytestmark = pytest.mark.cluster

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]
V1BETA1 = "networking.istio.io/v1beta1"


def dest(host: str, weight: int) -> dict[str, Any]:
    return {"destination": {"host": host}, "weight": weight}


async def _get(client: kube_client.Kube, kind: str, name: str, ns: str) -> dict[str, Any]:
    found = await client.get(V1BETA1, kind, name, ns)
    assert found is not None, f"{kind} {name} missing"
    return found


async def test_reconcile_then_shift_weights(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(
        {"port": 9898, "timeout": "15s", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}
    )
    router = istio.IstioRouter(client)
    await router.reconcile(canary)

    for name in ("podinfo-primary", "podinfo-canary"):
        rule = await _get(client, "DestinationRule", name, namespace)
        assert rule["spec"] == {"host": name, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}
        assert rule["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    vs = await _get(client, "VirtualService", "podinfo", namespace)
    assert vs["spec"] == {
        "hosts": ["podinfo"],
        "gateways": ["mesh"],
        "http": [
            {"route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)], "timeout": "15s"}
        ],
    }
    assert await router.get_routes(canary) == (100, 0, False)

    await router.set_routes(canary, 90, 10, False)
    assert await router.get_routes(canary) == (90, 10, False)
    shifted = await _get(client, "VirtualService", "podinfo", namespace)

    # nothing changed in the canary: reconcile leaves objects (and weights) alone
    await router.reconcile(canary)
    after = await _get(client, "VirtualService", "podinfo", namespace)
    assert after["metadata"]["resourceVersion"] == shifted["metadata"]["resourceVersion"]
    assert await router.get_routes(canary) == (90, 10, False)

    await router.set_routes(canary, 100, 0, True)
    assert await router.get_routes(canary) == (100, 0, True)


async def test_ab_routes(client: kube_client.Kube, namespace: str, make_canary: MakeCanary) -> None:
    canary = await make_canary(
        {"port": 9898},
        routers.AB_ANALYSIS,
    )
    router = istio.IstioRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 0, 100, False)
    vs = await _get(client, "VirtualService", "podinfo", namespace)
    assert vs["spec"]["http"] == [
        {
            "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
            "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)],
        },
        {"route": [dest("podinfo-primary", 0)]},
    ]
    assert await router.get_routes(canary) == (0, 100, False)
    await router.set_routes(canary, 100, 0, False)
    assert await router.get_routes(canary) == (100, 0, False)


async def test_session_affinity_weights_read_back(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    canary = await make_canary(
        {"port": 9898},
        {
            "interval": "1m",
            "threshold": 5,
            "stepWeight": 10,
            "sessionAffinity": {"cookieName": "flagger-cookie"},
        },
    )
    router = istio.IstioRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 80, 20, False)
    assert canary.status is not None and canary.status.session_affinity_cookie
    assert await router.get_routes(canary) == (80, 20, False)
    vs = await _get(client, "VirtualService", "podinfo", namespace)
    assert [r.get("name") for r in vs["spec"]["http"]] == ["sticky-route", None]
    version = vs["metadata"]["resourceVersion"]
    await router.reconcile(canary)
    vs = await _get(client, "VirtualService", "podinfo", namespace)
    assert vs["metadata"]["resourceVersion"] == version


async def test_takeover_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    users_spec = {"hosts": ["podinfo"], "http": [{"route": [dest("podinfo", 100)]}]}
    await client.create(
        {
            "apiVersion": V1BETA1,
            "kind": "VirtualService",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": users_spec,
        }
    )
    canary = await make_canary({"port": 9898})
    router = istio.IstioRouter(client)
    await router.reconcile(canary)
    await router.set_routes(canary, 50, 50, False)
    assert await router.get_routes(canary) == (50, 50, False)

    canary.spec.service.timeout = "3s"  # type: ignore[union-attr]
    await router.reconcile(canary)
    vs = await _get(client, "VirtualService", "podinfo", namespace)
    assert vs["spec"]["http"][0]["timeout"] == "3s"

    await router.finalize(canary)
    restored = await _get(client, "VirtualService", "podinfo", namespace)
    assert restored["spec"] == users_spec
