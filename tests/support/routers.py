"""What the router tests against the control plane share: the A/B analysis they route, the
user's object a router takes over, and the take-over/give-back round trip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger import plugins
from flagger.api import canary as canary_api
from flagger.kube import client as kube_client

#: The A/B analysis the router tests route: requests with ``x-canary: insider`` (exact).
AB_ANALYSIS: dict[str, Any] = {
    "interval": "1m",
    "threshold": 5,
    "iterations": 10,
    "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
}


def ab_analysis(**header: str) -> dict[str, Any]:
    """:data:`AB_ANALYSIS` matching the ``x-canary`` header with ``header`` instead."""
    return {**AB_ANALYSIS, "match": [{"headers": {"x-canary": header}}]}


def users_object(
    api_version: str, kind: str, namespace: str, spec: Mapping[str, Any], name: str = "podinfo"
) -> dict[str, Any]:
    """An object ``name.namespace`` the user made before Flagger (no owner reference)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": dict(spec),
    }


async def take_over_and_give_back(
    client: kube_client.Kube,
    router: plugins.Router,
    canary: canary_api.Canary,
    users: dict[str, Any],
    weights: tuple[int, int] = (50, 50),
) -> dict[str, Any] | None:
    """Create the user's object, let ``router`` take it over and route ``weights`` (checked
    read back), then finalize; the object as finalize left it."""
    await client.create(users)
    await router.reconcile(canary)
    await router.set_routes(canary, *weights, False)
    assert await router.get_routes(canary) == (*weights, False)
    await router.finalize(canary)
    meta = users["metadata"]
    return await client.get(users["apiVersion"], users["kind"], meta["name"], meta.get("namespace"))


async def create_canary(client: kube_client.Kube, document: dict[str, Any]) -> canary_api.Canary:
    """Create the Canary ``document`` on the API server (so that owner references point at a
    live object) and return its model, with the uid the server gave it."""
    created = await client.create(document)
    meta = {**document["metadata"], "uid": created["metadata"]["uid"]}
    return canary_api.Canary.model_validate({**document, "metadata": meta})


async def must_get(
    client: kube_client.Kube, api_version: str, kind: str, name: str, namespace: str
) -> dict[str, Any]:
    """The object, which must exist."""
    found = await client.get(api_version, kind, name, namespace)
    assert found is not None, f"{kind} {name}.{namespace} missing"
    return found
