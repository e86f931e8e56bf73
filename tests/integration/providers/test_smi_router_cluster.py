"""The SMI routers against the local control plane (SMI CRDs from the fixtures).

Matrix: provider (linkerd/v1alpha1 with Quantity weights, smi:v1alpha2, osm, smi:v1alpha3) x
reconcile (create, then no write) and weights round trip; a user's TrafficSplit taken over and
restored by finalize; an A/B Canary fails clearly without writing anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.providers import smi
from tests.support import routers

pytestmark = pytest.mark.cluster

MakeCanary = Callable[..., Awaitable[canary_api.Canary]]


async def _split(client: kube_client.Kube, flavor: smi.Flavor, ns: str) -> dict[str, Any]:
    found = await client.get(flavor.api_version, "TrafficSplit", "podinfo", ns)
    assert found is not None, "TrafficSplit podinfo missing"
    return found


@pytest.mark.parametrize("provider", ["linkerd", "smi:v1alpha2", "osm", "smi:v1alpha3"])
async def test_reconcile_then_shift_weights(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary, provider: str
) -> None:
    flavor = smi.flavor_for(provider)
    assert flavor is not None
    canary = await make_canary({"port": 9898})
    router = smi.SmiRouter(client, flavor)
    await router.reconcile(canary)
    split = await _split(client, flavor, namespace)
    assert split["apiVersion"] == flavor.api_version
    assert split["spec"] == {
        "service": "podinfo",
        "backends": [
            {"service": "podinfo-canary", "weight": flavor.weight(0)},
            {"service": "podinfo-primary", "weight": flavor.weight(100)},
        ],
    }
    assert split["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    assert await router.get_routes(canary) == (100, 0, False)

    await router.set_routes(canary, 70, 30, False)
    assert await router.get_routes(canary) == (70, 30, False)
    shifted = await _split(client, flavor, namespace)
    await router.reconcile(canary)
    await router.set_routes(canary, 70, 30, False)
    after = await _split(client, flavor, namespace)
    assert after["metadata"]["resourceVersion"] == shifted["metadata"]["resourceVersion"]


async def test_takeover_and_finalize(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    flavor = smi.flavor_for("smi:v1alpha2")
    assert flavor is not None
    users_spec = {"service": "podinfo", "backends": [{"service": "podinfo-v1", "weight": 100}]}
    users = routers.users_object(flavor.api_version, "TrafficSplit", namespace, users_spec)
    canary = await make_canary({"port": 9898})
    router = smi.SmiRouter(client, flavor)
    back = await routers.take_over_and_give_back(client, router, canary, users)
    assert back is not None and back["spec"] == users_spec


async def test_ab_testing_is_refused(
    client: kube_client.Kube, namespace: str, make_canary: MakeCanary
) -> None:
    flavor = smi.flavor_for("linkerd")
    assert flavor is not None
    canary = await make_canary(
        {"port": 9898},
        routers.AB_ANALYSIS,
    )
    with pytest.raises(smi.UnsupportedByProvider, match="provider linkerd does not support"):
        await smi.SmiRouter(client, flavor).reconcile(canary)
    assert await client.get(flavor.api_version, "TrafficSplit", "podinfo", namespace) is None
