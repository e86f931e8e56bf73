"""The canary ApisixRoute the APISIX router clones, written out in full.

Matrix: the clone of a user's route (metadata, priority, the one HTTP route with the apex
backend, primary and canary backends keeping port, granularity and subset); canary weights and
the blue/green switch; reading the weights back; the update plan (no write when only weights
differ, weights kept, original kept on takeover); routes Flagger cannot clone; A/B testing and
mirroring refused; the plugin hooks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api
from flagger.providers import apisix
from tests.support.canaries import OWNER, routed_canary
from tests.support.registered import registered

USERS_ROUTE = {
    "apiVersion": "apisix.apache.org/v2",
    "kind": "ApisixRoute",
    "metadata": {
        "name": "podinfo",
        "namespace": "test",
        "labels": {"team": "a"},
        "annotations": {"note": "x"},
        "resourceVersion": "7",
    },
    "spec": {
        "ingressClassName": "apisix",
        "http": [
            {
                "name": "other",
                "match": {"paths": ["/other"]},
                "backends": [{"serviceName": "other", "servicePort": 80}],
            },
            {
                "name": "method",
                "match": {"hosts": ["app.example.com"], "paths": ["/*"]},
                "backends": [
                    {
                        "serviceName": "podinfo",
                        "servicePort": 80,
                        "resolveGranularity": "service",
                        "subset": "v1",
                    }
                ],
                "plugins": [{"name": "limit-count", "enable": True}],
            },
        ],
    },
}


def make_canary(
    analysis: dict[str, Any] | None = None, route: str | None = "podinfo"
) -> canary_api.Canary:
    ref = {"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": route}
    return routed_canary("apisix", None, analysis, **({"routeRef": ref} if route else {}))


def backend(name: str, weight: int) -> dict[str, Any]:
    return {
        "serviceName": name,
        "servicePort": 80,
        "resolveGranularity": "service",
        "subset": "v1",
        "weight": weight,
    }


def test_canary_route_is_a_weighted_clone() -> None:
    canary = make_canary()
    assert apisix.canary_route_name(canary) == "podinfo-podinfo-canary"
    assert apisix.canary_route(canary, USERS_ROUTE) == {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "metadata": {
            "name": "podinfo-podinfo-canary",
            "namespace": "test",
            "annotations": {"note": "x"},
            "labels": {"team": "a"},
            "ownerReferences": [OWNER],
        },
        "spec": {
            "ingressClassName": "apisix",
            "http": [
                {
                    "name": "method",
                    "match": {"hosts": ["app.example.com"], "paths": ["/*"]},
                    "backends": [backend("podinfo-primary", 100), backend("podinfo-canary", 0)],
                    "plugins": [{"name": "limit-count", "enable": True}],
                    "priority": 10000,
                }
            ],
        },
    }
    # the user's route is left as it was
    assert USERS_ROUTE["spec"]["http"][1]["backends"][0]["serviceName"] == "podinfo"  # type: ignore[index]


def test_weights_and_blue_green() -> None:
    canary = make_canary()
    spec = apisix.canary_route(canary, USERS_ROUTE)["spec"]
    assert apisix.read_routes(canary, spec) == (100, 0, False)
    shifted = apisix.routed_spec(canary, spec, 90, 10)
    assert shifted["http"][0]["backends"] == [
        backend("podinfo-primary", 90),
        backend("podinfo-canary", 10),
    ]
    assert apisix.read_routes(canary, shifted) == (90, 10, False)
    assert apisix.read_routes(canary, apisix.routed_spec(canary, spec, 0, 100)) == (0, 100, False)


def test_update_plan_and_takeover() -> None:
    canary = make_canary()
    desired = apisix.canary_route(canary, USERS_ROUTE)
    live = {**desired, "spec": apisix.routed_spec(canary, desired["spec"], 80, 20)}
    assert apisix.plan_canary_route_update(canary, live, desired) is None

    moved = json.loads(json.dumps(USERS_ROUTE))
    moved["spec"]["http"][1]["match"]["paths"] = ["/v2/*"]
    updated = apisix.plan_canary_route_update(canary, live, apisix.canary_route(canary, moved))
    assert updated is not None
    assert updated["spec"]["http"][0]["match"]["paths"] == ["/v2/*"]
    assert apisix.read_routes(canary, updated["spec"]) == (80, 20, False)
    assert router_helpers.CONFIG_ANNOTATION not in (updated["metadata"].get("annotations") or {})

    foreign = {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "metadata": {"name": "podinfo-podinfo-canary", "namespace": "test"},
        "spec": {"http": [{"name": "x", "backends": [{"serviceName": "y"}]}]},
    }
    taken = apisix.plan_canary_route_update(canary, foreign, desired)
    assert taken is not None and taken["spec"] == desired["spec"]
    assert apisix.original_spec(taken) == foreign["spec"]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"spec": {}}, r"APISIX route podinfo\.test's spec\.http is empty"),
        (
            {"spec": {"http": [{"name": "a", "backends": [{"serviceName": "other"}]}]}},
            r"Can not find podinfo backend on apisix route podinfo\.test",
        ),
        (
            {
                "spec": {
                    "http": [
                        {
                            "name": "a",
                            "backends": [{"serviceName": "podinfo"}, {"serviceName": "extra"}],
                        }
                    ]
                }
            },
            r"http route a only one http backend is supported",
        ),
    ],
)
def test_routes_that_cannot_be_cloned(route: dict[str, Any], message: str) -> None:
    with pytest.raises(router_helpers.RouterError, match=message):
        apisix.canary_route(make_canary(), route)


def test_missing_route_ref() -> None:
    with pytest.raises(router_helpers.RouterError, match="apisix route selector is empty"):
        apisix.canary_route_name(make_canary(route=None))


def test_hooks() -> None:
    context = plugins.PluginContext(kube=object(), options={})
    router = apisix.flagger_router("apisix", context)
    assert isinstance(router, apisix.ApisixRouter) and isinstance(router, plugins.Router)
    assert apisix.flagger_router("traefik", context) is None
    assert registered(apisix) == {(plugins.Kind.ROUTER, "apisix")}
