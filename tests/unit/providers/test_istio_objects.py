"""The DestinationRules and VirtualServices the Istio router builds, written out in full.

Matrix: a plain canary; every spec.service routing option (hosts, gateways, match, rewrite,
retries, timeout, headers, corsPolicy, trafficPolicy, port discovery); weights; A/B testing;
mirroring; session affinity (canary cookie set, sticky route, cookie expired at weight zero,
primary cookie); delegation; TCP; reading the routes back; and the update plan (no write when
only weights differ, original configuration kept on takeover, finalize's stored spec).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.providers import istio
from tests.support.canaries import FLUX_OPT_OUT, OWNER, routed_canary


def make_canary(
    service: dict[str, Any], analysis: dict[str, Any] | None = None, **status: Any
) -> canary_api.Canary:
    return routed_canary(None, service, analysis, status=status)


def dest(host: str, weight: int, **extra: Any) -> dict[str, Any]:
    return {"destination": {"host": host}, "weight": weight, **extra}


def test_plain_canary() -> None:
    canary = make_canary({"port": 9898})
    assert istio.destination_rule(canary, "podinfo-canary") == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "DestinationRule",
        "metadata": {"name": "podinfo-canary", "namespace": "test", "ownerReferences": [OWNER]},
        "spec": {"host": "podinfo-canary"},
    }
    assert istio.virtual_service(canary) == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": FLUX_OPT_OUT,
            "ownerReferences": [OWNER],
        },
        "spec": {
            "hosts": ["podinfo"],
            "gateways": ["mesh"],
            "http": [{"route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)]}],
        },
    }
    assert istio.routed_spec(canary, istio.virtual_service_spec(canary), 90, 10, False) == {
        "hosts": ["podinfo"],
        "gateways": ["mesh"],
        "http": [{"route": [dest("podinfo-primary", 90), dest("podinfo-canary", 10)]}],
    }


FULL_SERVICE: dict[str, Any] = {
    "name": "frontend",
    "port": 9898,
    "portDiscovery": True,
    "gateways": ["public-gateway.istio-system.svc.cluster.local"],
    "hosts": ["app.example.com"],
    "match": [{"uri": {"prefix": "/"}}],
    "rewrite": {"uri": "/"},
    "timeout": "30s",
    "retries": {"attempts": 3, "perTryTimeout": "1s", "retryOn": "gateway-error"},
    "headers": {
        "request": {"add": {"x-some-header": "value"}},
        "response": {"remove": ["x-envoy-upstream-service-time"]},
    },
    "corsPolicy": {
        "allowOrigins": [{"exact": "example.com"}],
        "allowMethods": ["GET"],
        "allowCredentials": False,
        "maxAge": "24h",
    },
    "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
    "apex": {"labels": {"team": "web"}, "annotations": {"note": "apex"}},
}
FULL_ROUTE: dict[str, Any] = {
    "match": [{"uri": {"prefix": "/"}}],
    "rewrite": {"uri": "/"},
    "timeout": "30s",
    "retries": {"attempts": 3, "perTryTimeout": "1s", "retryOn": "gateway-error"},
    "corsPolicy": {
        "allowOrigins": [{"exact": "example.com"}],
        "allowMethods": ["GET"],
        "maxAge": "24h",
    },
    "headers": {
        "request": {"add": {"x-some-header": "value"}},
        "response": {"remove": ["x-envoy-upstream-service-time"]},
    },
}
PORT = {"number": 9898}


def test_every_routing_option() -> None:
    canary = make_canary(FULL_SERVICE)
    assert istio.destination_rule(canary, "frontend-primary", owner_refs=False) == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "DestinationRule",
        "metadata": {"name": "frontend-primary", "namespace": "test"},
        "spec": {"host": "frontend-primary", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
    }
    assert istio.virtual_service(canary) == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {
            "name": "frontend",
            "namespace": "test",
            "labels": {"team": "web"},
            "annotations": {"note": "apex", **FLUX_OPT_OUT},
            "ownerReferences": [OWNER],
        },
        "spec": {
            "hosts": ["app.example.com", "frontend"],
            "gateways": ["public-gateway.istio-system.svc.cluster.local"],
            "http": [
                {
                    **FULL_ROUTE,
                    "route": [
                        {"destination": {"host": "frontend-primary", "port": PORT}, "weight": 100},
                        {"destination": {"host": "frontend-canary", "port": PORT}, "weight": 0},
                    ],
                }
            ],
        },
    }


def test_ab_testing() -> None:
    canary = make_canary(
        {"port": 9898, "match": [{"uri": {"prefix": "/api"}}]},
        {
            "interval": "1m",
            "threshold": 5,
            "iterations": 10,
            "match": [
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
            ],
        },
    )
    ab_match = [
        {"uri": {"prefix": "/api"}, "headers": {"x-canary": {"exact": "insider"}}},
        {
            "uri": {"prefix": "/api"},
            "headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}},
        },
    ]
    spec = istio.virtual_service_spec(canary)
    assert spec == {
        "hosts": ["podinfo"],
        "gateways": ["mesh"],
        "http": [
            {"match": ab_match, "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)]},
            {"match": [{"uri": {"prefix": "/api"}}], "route": [dest("podinfo-primary", 100)]},
        ],
    }
    assert istio.routed_spec(canary, spec, 0, 100, False) == {
        "hosts": ["podinfo"],
        "gateways": ["mesh"],
        "http": [
            {"match": ab_match, "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)]},
            {"match": [{"uri": {"prefix": "/api"}}], "route": [dest("podinfo-primary", 0)]},
        ],
    }
    assert istio.read_routes(canary, istio.routed_spec(canary, spec, 0, 100, False)) == (
        0,
        100,
        False,
    )


def test_mirroring() -> None:
    canary = make_canary(
        {"port": 9898},
        {"interval": "1m", "threshold": 5, "iterations": 10, "mirror": True, "mirrorWeight": 50},
    )
    routed = istio.routed_spec(canary, istio.virtual_service_spec(canary), 100, 0, True)
    assert routed == {
        "hosts": ["podinfo"],
        "gateways": ["mesh"],
        "http": [
            {
                "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)],
                "mirror": {"host": "podinfo-canary"},
                "mirrorPercentage": {"value": 50},
            }
        ],
    }
    assert istio.read_routes(canary, routed) == (100, 0, True)


AFFINITY = {
    "interval": "1m",
    "threshold": 5,
    "stepWeight": 10,
    "sessionAffinity": {"cookieName": "flagger-cookie", "maxAge": 21600},
}


def test_session_affinity_while_the_canary_gets_traffic() -> None:
    canary = make_canary({"port": 9898}, AFFINITY)
    routed = istio.routed_spec(
        canary, istio.virtual_service_spec(canary), 90, 10, False, cookie_value=lambda: "abcdefghij"
    )
    assert canary.status is not None
    assert canary.status.session_affinity_cookie == "flagger-cookie=abcdefghij"
    assert routed == {
        "hosts": ["podinfo"],
        "gateways": ["mesh"],
        "http": [
            {
                "name": "sticky-route",
                "match": [{"headers": {"Cookie": {"regex": ".*flagger-cookie.*abcdefghij.*"}}}],
                "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)],
            },
            {
                "route": [
                    dest("podinfo-primary", 90),
                    dest(
                        "podinfo-canary",
                        10,
                        headers={
                            "response": {
                                "add": {"Set-Cookie": "flagger-cookie=abcdefghij; Max-Age=21600"}
                            }
                        },
                    ),
                ]
            },
        ],
    }
    assert istio.read_routes(canary, routed) == (90, 10, False)
    # the cookie is kept for the rest of the run
    again = istio.routed_spec(canary, routed, 80, 20, False, cookie_value=lambda: "zzzzzzzzzz")
    assert again["http"][0]["match"] == routed["http"][0]["match"]


def test_session_affinity_expires_the_cookie_at_weight_zero() -> None:
    canary = make_canary(
        {"port": 9898}, AFFINITY, sessionAffinityCookie="flagger-cookie=abcdefghij"
    )
    routed = istio.routed_spec(canary, istio.virtual_service_spec(canary), 100, 0, False)
    assert canary.status is not None
    assert canary.status.session_affinity_cookie is None
    assert canary.status.previous_session_affinity_cookie == "flagger-cookie=abcdefghij"
    assert routed == {
        "hosts": ["podinfo"],
        "gateways": ["mesh"],
        "http": [
            {
                "name": "sticky-route",
                "match": [{"headers": {"Cookie": {"regex": ".*flagger-cookie.*abcdefghij.*"}}}],
                "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)],
                "headers": {
                    "response": {"add": {"Set-Cookie": "flagger-cookie=abcdefghij; Max-Age=-1"}}
                },
            },
            {"route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)]},
        ],
    }


def test_session_affinity_cookie_attributes_and_primary_cookie() -> None:
    analysis = {
        **AFFINITY,
        "sessionAffinity": {
            "cookieName": "canary",
            "primaryCookieName": "primary",
            "domain": "example.com",
            "httpOnly": True,
            "path": "/",
            "sameSite": "Strict",
            "secure": True,
        },
    }
    canary = make_canary({"port": 9898}, analysis)
    values = iter(["cccccccccc", "pppppppppp"])
    routed = istio.routed_spec(
        canary, istio.virtual_service_spec(canary), 70, 30, False, cookie_value=lambda: next(values)
    )
    attributes = "Max-Age=86400; Domain=example.com; HttpOnly; Path=/; SameSite=Strict; Secure"
    assert routed["http"] == [
        {
            "name": "sticky-route",
            "match": [{"headers": {"Cookie": {"regex": ".*canary.*cccccccccc.*"}}}],
            "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)],
        },
        {
            "name": "sticky-route-primary",
            "match": [{"headers": {"Cookie": {"regex": ".*primary.*pppppppppp.*"}}}],
            "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)],
        },
        {
            "route": [
                dest(
                    "podinfo-primary",
                    70,
                    headers={
                        "response": {"add": {"Set-Cookie": f"primary=pppppppppp; {attributes}"}}
                    },
                ),
                dest(
                    "podinfo-canary",
                    30,
                    headers={
                        "response": {"add": {"Set-Cookie": f"canary=cccccccccc; {attributes}"}}
                    },
                ),
            ]
        },
    ]
    assert istio.read_routes(canary, routed) == (70, 30, False)


def test_delegation() -> None:
    canary = make_canary({"port": 9898, "delegation": True, "portDiscovery": True})
    assert istio.virtual_service(canary) == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": FLUX_OPT_OUT,
            "ownerReferences": [OWNER],
        },
        "spec": {
            "hosts": [],
            "http": [
                {
                    "route": [
                        {"destination": {"host": "podinfo-primary", "port": PORT}, "weight": 100},
                        {"destination": {"host": "podinfo-canary", "port": PORT}, "weight": 0},
                    ]
                }
            ],
        },
    }
    with pytest.raises(router_helpers.RouterError, match="cannot have hosts and gateways"):
        istio.virtual_service(
            make_canary({"port": 9898, "delegation": True, "hosts": ["a.example.com"]})
        )


def test_tcp() -> None:
    canary = make_canary({"port": 6379, "appProtocol": "TCP", "match": [{"port": 6379}]})
    spec = istio.virtual_service_spec(canary)
    assert spec == {
        "hosts": ["podinfo"],
        "gateways": ["mesh"],
        "tcp": [
            {
                "match": [{"port": 6379}],
                "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)],
            }
        ],
    }
    routed = istio.routed_spec(canary, spec, 60, 40, True)
    assert routed["tcp"] == [
        {
            "match": [{"port": 6379}],
            "route": [dest("podinfo-primary", 60), dest("podinfo-canary", 40)],
        }
    ]
    assert istio.read_routes(canary, routed) == (60, 40, False)


def test_routes_missing_is_an_error() -> None:
    canary = make_canary({"port": 9898})
    with pytest.raises(
        router_helpers.RouterError, match="does not contain routes for podinfo-primary"
    ):
        istio.read_routes(canary, {"hosts": ["podinfo"], "http": [{"route": [dest("x", 100)]}]})


def _live(obj: dict[str, Any]) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "11"}}


def test_update_plan_ignores_weights_and_mirror() -> None:
    canary = make_canary({"port": 9898}, AFFINITY)
    live = _live(istio.virtual_service(canary))
    live["spec"] = istio.routed_spec(canary, live["spec"], 50, 50, True)
    assert istio.plan_virtual_service_update(canary, live) is None


def test_update_plan_takes_over_and_keeps_the_original_spec() -> None:
    canary = make_canary({"port": 9898, "timeout": "5s"})
    users: dict[str, Any] = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "4"},
        "spec": {"hosts": ["podinfo"], "http": [{"route": [dest("podinfo", 100)]}]},
    }
    original = (
        '{"hosts":["podinfo"],"http":[{"route":[{"destination":{"host":"podinfo"},"weight":100}]}]}'
    )
    updated = istio.plan_virtual_service_update(canary, users)
    assert updated == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "resourceVersion": "4",
            "labels": {},
            "annotations": {
                **FLUX_OPT_OUT,
                "flagger.kubernetes.io/original-configuration": original,
            },
        },
        "spec": {
            "hosts": ["podinfo"],
            "gateways": ["mesh"],
            "http": [
                {
                    "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)],
                    "timeout": "5s",
                }
            ],
        },
    }
    assert istio.original_spec(updated) == users["spec"]
    # a later spec change keeps the first original configuration
    later = istio.plan_virtual_service_update(make_canary({"port": 9898}), updated)
    assert later is not None
    assert istio.original_spec(later) == users["spec"]


def test_original_spec_prefers_kubectl_last_applied() -> None:
    applied = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo"},
        "spec": {"hosts": ["podinfo"]},
    }
    obj = {
        "metadata": {
            "name": "podinfo",
            "annotations": {
                router_helpers.KUBECTL_ANNOTATION: json.dumps(applied),
                router_helpers.CONFIG_ANNOTATION: '{"hosts":["other"]}',
            },
        }
    }
    assert istio.original_spec(obj) == {"hosts": ["podinfo"]}
    assert istio.original_spec({"metadata": {"name": "podinfo"}}) is None
    with pytest.raises(router_helpers.RouterError, match="failed to unMarshal"):
        istio.original_spec(
            {
                "metadata": {
                    "name": "p",
                    "annotations": {router_helpers.CONFIG_ANNOTATION: "not json"},
                }
            }
        )
