"""The HTTPRoutes the Gateway API routers build, written out in full.

Matrix: flavour (gatewayapi:v1, gatewayapi:v1beta1) x (plain canary; every spec.service option:
gatewayRefs defaults, hosts, match, headers, rewrite, CORS, static mirrors, timeout and
backendTimeout; weights; A/B testing; blue/green mirroring; session affinity with canary and
primary cookies and the cookie expired at weight zero); reading routes back (weights, mirroring,
session affinity, parent readiness); the update plan (no write when only weights differ,
original configuration kept on takeover, other controllers' annotations kept); and the clear
errors for what a provider cannot do.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.providers import gatewayapi
from tests.support.canaries import FLUX_OPT_OUT, OWNER, routed_canary

GATEWAY = {
    "group": "gateway.networking.k8s.io",
    "kind": "Gateway",
    "name": "gateway",
    "namespace": "istio-ingress",
}
ROOT = {"path": {"type": "PathPrefix", "value": "/"}}
V1, V1BETA1 = gatewayapi.V1, gatewayapi.V1BETA1


GATEWAY_SERVICE = {"port": 9898, "gatewayRefs": [{"name": "gateway", "namespace": "istio-ingress"}]}


def make_canary(
    service: dict[str, Any] | None = None, analysis: dict[str, Any] | None = None, **status: Any
) -> canary_api.Canary:
    return routed_canary("gatewayapi:v1", service or GATEWAY_SERVICE, analysis, status=status)


def svc(**extra: Any) -> dict[str, Any]:
    return {
        "port": 9898,
        "gatewayRefs": [{"name": "gateway", "namespace": "istio-ingress"}],
        **extra,
    }


def backend(name: str, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": name, "port": 9898}
    if weight is not None:
        ref["weight"] = weight
    return {**ref, **extra}


def set_cookie(value: str) -> dict[str, Any]:
    return {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"add": [{"name": "Set-Cookie", "value": value}]},
    }


def cookie_match(name: str, value: str) -> dict[str, Any]:
    # Flagger merges the cookie condition with service.match as given: no default "/" path.
    return {
        "headers": [
            {"type": "RegularExpression", "name": "Cookie", "value": f".*{name}.*{value}.*"}
        ]
    }


# --- objects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", [V1, V1BETA1])
def test_plain_canary(flavor: gatewayapi.Flavor) -> None:
    assert gatewayapi.http_route(make_canary(), flavor) == {
        "apiVersion": f"gateway.networking.k8s.io/{flavor.version}",
        "kind": "HTTPRoute",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": FLUX_OPT_OUT,
            "ownerReferences": [OWNER],
        },
        "spec": {
            "parentRefs": [GATEWAY],
            "rules": [
                {
                    "matches": [ROOT],
                    "backendRefs": [backend("podinfo-primary", 100), backend("podinfo-canary", 0)],
                }
            ],
        },
    }


def test_every_service_option_v1() -> None:
    canary = make_canary(
        svc(
            name="frontend",
            gatewayRefs=[
                {
                    "name": "public",
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "sectionName": "https",
                    "port": 443,
                },
                {"name": "internal", "namespace": "gw"},
            ],
            hosts=["app.example.com", "www.example.com"],
            match=[
                {
                    "uri": {"prefix": "/api"},
                    "method": {"exact": "GET"},
                    "headers": {"x-tenant": {"exact": "a"}, "x-id": {"regex": "[0-9]+"}},
                    "queryParams": {"debug": {"exact": "1"}},
                },
                {"uri": {"exact": "/health"}},
                {"uri": {"regex": "/v[0-9]/.*"}},
            ],
            headers={
                "request": {
                    "add": {"x-b": "2", "x-a": "1"},
                    "set": {"x-s": "s"},
                    "remove": ["x-r1", "x-r0"],
                },
                "response": {"set": {"x-served-by": "podinfo"}},
            },
            rewrite={"uri": "/", "authority": "backend.internal"},
            corsPolicy={
                "allowOrigin": ["https://a.example.com"],
                "allowOrigins": [{"exact": "https://*.example.org"}],
                "allowMethods": ["GET", "POST"],
                "allowHeaders": ["x-a"],
                "exposeHeaders": ["x-b"],
                "maxAge": "24h",
                "allowCredentials": True,
            },
            mirror=[
                {"backendRef": {"name": "shadow", "port": 8080}},
                {
                    "backendRef": {
                        "name": "audit",
                        "namespace": "audit",
                        "group": "example.com",
                        "kind": "Backend",
                    }
                },
            ],
            timeout="30s",
            backendTimeout="10s",
            apex={"labels": {"team": "web"}, "annotations": {"note": "x"}},
        )
    )
    route = gatewayapi.http_route(canary, V1, owner_refs=False)
    assert route["metadata"] == {
        "name": "frontend",
        "namespace": "test",
        "labels": {"team": "web"},
        "annotations": {"note": "x", **FLUX_OPT_OUT},
    }
    ref = {"group": "", "kind": "Service", "port": 9898}
    assert route["spec"] == {
        "parentRefs": [
            {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": "public",
                "sectionName": "https",
                "port": 443,
            },
            {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": "internal",
                "namespace": "gw",
            },
        ],
        "hostnames": ["app.example.com", "www.example.com"],
        "rules": [
            {
                "matches": [
                    {
                        "path": {"type": "PathPrefix", "value": "/api"},
                        "method": "GET",
                        "headers": [
                            {"type": "Exact", "name": "x-tenant", "value": "a"},
                            {"type": "RegularExpression", "name": "x-id", "value": "[0-9]+"},
                        ],
                        "queryParams": [{"type": "Exact", "name": "debug", "value": "1"}],
                    },
                    {"path": {"type": "Exact", "value": "/health"}},
                    {"path": {"type": "RegularExpression", "value": "/v[0-9]/.*"}},
                ],
                "filters": [
                    {
                        "type": "RequestHeaderModifier",
                        "requestHeaderModifier": {
                            "set": [{"name": "x-s", "value": "s"}],
                            "add": [{"name": "x-a", "value": "1"}, {"name": "x-b", "value": "2"}],
                            "remove": ["x-r1", "x-r0"],
                        },
                    },
                    {
                        "type": "ResponseHeaderModifier",
                        "responseHeaderModifier": {
                            "set": [{"name": "x-served-by", "value": "podinfo"}]
                        },
                    },
                    {
                        "type": "URLRewrite",
                        "urlRewrite": {
                            "hostname": "backend.internal",
                            "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"},
                        },
                    },
                    {
                        "type": "CORS",
                        "cors": {
                            "allowOrigins": ["https://a.example.com", "https://*.example.org"],
                            "allowCredentials": True,
                            "allowMethods": ["GET", "POST"],
                            "allowHeaders": ["x-a"],
                            "exposeHeaders": ["x-b"],
                            "maxAge": 86400,
                        },
                    },
                    {
                        "type": "RequestMirror",
                        "requestMirror": {
                            "backendRef": {
                                "group": "",
                                "kind": "Service",
                                "name": "shadow",
                                "port": 8080,
                            }
                        },
                    },
                    {
                        "type": "RequestMirror",
                        "requestMirror": {
                            "backendRef": {
                                "group": "example.com",
                                "kind": "Backend",
                                "name": "audit",
                                "namespace": "audit",
                            }
                        },
                    },
                ],
                "backendRefs": [
                    {**ref, "name": "frontend-primary", "weight": 100},
                    {**ref, "name": "frontend-canary", "weight": 0},
                ],
                "timeouts": {"request": "30s", "backendRequest": "10s"},
            }
        ],
    }


def test_full_path_rewrite_and_backend_timeout_alone() -> None:
    canary = make_canary(
        svc(rewrite={"uri": "/v2", "type": "ReplaceFullPath"}, backendTimeout="5s")
    )
    rule = gatewayapi.http_route_spec(canary, V1)["rules"][0]
    assert rule["filters"] == [
        {
            "type": "URLRewrite",
            "urlRewrite": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/v2"}},
        }
    ]
    assert rule["timeouts"] == {"backendRequest": "5s"}


def test_weights() -> None:
    canary = make_canary(svc(timeout="15s"))
    assert gatewayapi.routed_spec(canary, V1, 70, 30, False) == {
        "parentRefs": [GATEWAY],
        "rules": [
            {
                "matches": [ROOT],
                "backendRefs": [backend("podinfo-primary", 70), backend("podinfo-canary", 30)],
                "timeouts": {"request": "15s"},
            }
        ],
    }


AB = {
    "interval": "1m",
    "threshold": 5,
    "iterations": 10,
    "match": [
        {"headers": {"x-canary": {"exact": "insider"}}},
        {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
    ],
}


@pytest.mark.parametrize("flavor", [V1, V1BETA1])
def test_ab_testing(flavor: gatewayapi.Flavor) -> None:
    canary = make_canary(svc(match=[{"uri": {"prefix": "/api"}}]), AB)
    api = {"path": {"type": "PathPrefix", "value": "/api"}}
    insider = {**api, "headers": [{"type": "Exact", "name": "x-canary", "value": "insider"}]}
    cookie = {
        **api,
        "headers": [
            {
                "type": "RegularExpression",
                "name": "cookie",
                "value": "^(.*?;)?(canary=always)(;.*)?$",
            }
        ],
    }
    assert gatewayapi.http_route_spec(canary, flavor) == {
        "parentRefs": [GATEWAY],
        "rules": [
            {
                "matches": [insider, cookie],
                "backendRefs": [backend("podinfo-primary", 100), backend("podinfo-canary", 0)],
            },
            {"matches": [api], "backendRefs": [backend("podinfo-primary", 100)]},
        ],
    }
    assert gatewayapi.routed_spec(canary, flavor, 0, 100, False)["rules"] == [
        {
            "matches": [insider, cookie],
            "backendRefs": [backend("podinfo-primary", 0), backend("podinfo-canary", 100)],
        },
        {"matches": [api], "backendRefs": [backend("podinfo-primary", 100)]},
    ]


def test_ab_testing_keeps_filters_and_timeouts_on_both_rules() -> None:
    canary = make_canary(svc(timeout="5s", headers={"request": {"set": {"x-a": "1"}}}), AB)
    rules = gatewayapi.http_route_spec(canary, V1)["rules"]
    header = [
        {
            "type": "RequestHeaderModifier",
            "requestHeaderModifier": {"set": [{"name": "x-a", "value": "1"}]},
        }
    ]
    assert [r["filters"] for r in rules] == [header, header]
    assert [r["timeouts"] for r in rules] == [{"request": "5s"}, {"request": "5s"}]


BLUE_GREEN_MIRROR = {"interval": "1m", "threshold": 5, "iterations": 10, "mirror": True}


def test_blue_green_mirroring() -> None:
    canary = make_canary(svc(), BLUE_GREEN_MIRROR)
    assert gatewayapi.routed_spec(canary, V1, 100, 0, True) == {
        "parentRefs": [GATEWAY],
        "rules": [
            {
                "matches": [ROOT],
                "filters": [
                    {
                        "type": "RequestMirror",
                        "requestMirror": {
                            "backendRef": {
                                "group": "",
                                "kind": "Service",
                                "name": "podinfo-canary",
                                "port": 9898,
                            }
                        },
                    }
                ],
                "backendRefs": [backend("podinfo-primary", 100), backend("podinfo-canary", 0)],
            }
        ],
    }
    # Flagger mirrors only for blue/green (iterations), never for a weighted canary.
    weighted = make_canary(svc(), {"interval": "1m", "threshold": 5, "stepWeight": 10})
    assert "filters" not in gatewayapi.routed_spec(weighted, V1, 100, 0, True)["rules"][0]


AFFINITY = {
    "interval": "1m",
    "threshold": 5,
    "stepWeight": 10,
    "sessionAffinity": {"cookieName": "flagger-cookie", "maxAge": 3600},
}


def test_session_affinity_while_the_canary_has_weight() -> None:
    canary = make_canary(svc(), AFFINITY)
    spec = gatewayapi.routed_spec(canary, V1, 90, 10, False, cookie_value=lambda: "abcdefghij")
    assert canary.status is not None
    assert canary.status.session_affinity_cookie == "flagger-cookie=abcdefghij"
    assert spec["rules"] == [
        {
            "matches": [cookie_match("flagger-cookie", "abcdefghij")],
            "backendRefs": [backend("podinfo-primary", 0), backend("podinfo-canary", 100)],
        },
        {
            "matches": [ROOT],
            "backendRefs": [
                backend("podinfo-primary", 90),
                backend(
                    "podinfo-canary",
                    10,
                    filters=[set_cookie("flagger-cookie=abcdefghij; Max-Age=3600")],
                ),
            ],
        },
    ]
    assert gatewayapi.read_routes(canary, V1, {"spec": spec}) == (90, 10, False)
    # the cookie stays for the whole run
    again = gatewayapi.routed_spec(canary, V1, 80, 20, False, cookie_value=lambda: "zzzzzzzzzz")
    assert again["rules"][0]["matches"] == [cookie_match("flagger-cookie", "abcdefghij")]


def test_session_affinity_with_a_primary_cookie() -> None:
    analysis = {
        **AFFINITY,
        "interval": "30s",
        "sessionAffinity": {"cookieName": "canary-cookie", "primaryCookieName": "primary-cookie"},
    }
    canary = make_canary(svc(), analysis)
    values = iter(["canaryxxxx", "primaryxxx"])
    spec = gatewayapi.routed_spec(canary, V1, 60, 40, False, cookie_value=lambda: next(values))
    assert canary.status is not None
    assert canary.status.primary_session_affinity_cookie == "primary-cookie=primaryxxx"
    assert spec["rules"] == [
        {
            "matches": [cookie_match("canary-cookie", "canaryxxxx")],
            "backendRefs": [backend("podinfo-primary", 0), backend("podinfo-canary", 100)],
        },
        {
            "matches": [cookie_match("primary-cookie", "primaryxxx")],
            "backendRefs": [backend("podinfo-primary", 100), backend("podinfo-canary", 0)],
        },
        {
            "matches": [ROOT],
            "backendRefs": [
                backend(
                    "podinfo-primary",
                    60,
                    filters=[set_cookie("primary-cookie=primaryxxx; Max-Age=30")],
                ),
                backend(
                    "podinfo-canary",
                    40,
                    filters=[set_cookie("canary-cookie=canaryxxxx; Max-Age=86400")],
                ),
            ],
        },
    ]
    assert gatewayapi.read_routes(canary, V1, {"spec": spec}) == (60, 40, False)


def test_session_affinity_cookie_expires_at_weight_zero() -> None:
    canary = make_canary(svc(), AFFINITY, sessionAffinityCookie="flagger-cookie=abcdefghij")
    spec = gatewayapi.routed_spec(canary, V1, 100, 0, False)
    assert canary.status is not None
    assert canary.status.session_affinity_cookie is None
    assert canary.status.previous_session_affinity_cookie == "flagger-cookie=abcdefghij"
    assert spec["rules"] == [
        {
            "matches": [cookie_match("flagger-cookie", "abcdefghij")],
            "filters": [set_cookie("flagger-cookie=abcdefghij; Max-Age=-1")],
            "backendRefs": [backend("podinfo-primary", 100), backend("podinfo-canary", 0)],
        },
        {
            "matches": [ROOT],
            "backendRefs": [backend("podinfo-primary", 100), backend("podinfo-canary", 0)],
        },
    ]


# --- reading routes --------------------------------------------------------------------------


def test_read_routes_ab_and_mirror() -> None:
    canary = make_canary(svc(), AB)
    spec = gatewayapi.routed_spec(canary, V1, 0, 100, False)
    assert gatewayapi.read_routes(canary, V1, {"spec": spec}) == (0, 100, False)
    mirrored = make_canary(svc(), BLUE_GREEN_MIRROR)
    spec = gatewayapi.routed_spec(mirrored, V1, 100, 0, True)
    assert gatewayapi.read_routes(mirrored, V1, {"spec": spec}) == (100, 0, True)


def test_read_routes_waits_for_the_parent_to_accept_the_generation() -> None:
    canary = make_canary()
    route: dict[str, Any] = {
        "metadata": {"generation": 3},
        "spec": gatewayapi.routed_spec(canary, V1, 80, 20, False),
        "status": {
            "parents": [
                {
                    "parentRef": GATEWAY,
                    "conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 2}],
                }
            ]
        },
    }
    with pytest.raises(
        router_helpers.RouterError,
        match=(
            r"HTTPRoute podinfo.test parent gateway is not ready \(status: True, observed "
            r"generation: 2, current generation: 3\)"
        ),
    ):
        gatewayapi.read_routes(canary, V1, route)
    route["status"]["parents"][0]["conditions"][0]["observedGeneration"] = 3
    assert gatewayapi.read_routes(canary, V1, route) == (80, 20, False)
    # v1beta1 does not look at the status
    route["status"]["parents"][0]["conditions"][0]["status"] = "False"
    assert gatewayapi.read_routes(canary, V1BETA1, route) == (80, 20, False)


# --- the update plan -------------------------------------------------------------------------


def existing_route(canary: canary_api.Canary, flavor: gatewayapi.Flavor = V1) -> dict[str, Any]:
    route = gatewayapi.http_route(canary, flavor)
    route["metadata"]["resourceVersion"] = "7"
    return route


def test_no_update_when_only_weights_differ() -> None:
    canary = make_canary(svc(timeout="5s"))
    route = existing_route(canary)
    route["spec"] = gatewayapi.routed_spec(canary, V1, 40, 60, False)
    assert gatewayapi.plan_http_route_update(canary, V1, route) is None


def test_no_update_for_session_affinity_rules() -> None:
    canary = make_canary(svc(), AFFINITY)
    route = existing_route(canary)
    route["spec"] = gatewayapi.routed_spec(canary, V1, 50, 50, False)
    assert gatewayapi.plan_http_route_update(canary, V1, route) is None


def test_mirror_filter_is_ignored_only_while_a_run_is_in_progress() -> None:
    running = make_canary(svc(), BLUE_GREEN_MIRROR, phase="Progressing")
    route = existing_route(running)
    route["spec"] = gatewayapi.routed_spec(running, V1, 100, 0, True)
    assert gatewayapi.plan_http_route_update(running, V1, route) is None
    done = make_canary(svc(), BLUE_GREEN_MIRROR, phase="Succeeded")
    updated = gatewayapi.plan_http_route_update(done, V1, route)
    assert updated is not None
    assert "filters" not in updated["spec"]["rules"][0]


def test_spec_change_updates_and_keeps_other_annotations() -> None:
    canary = make_canary(svc(hosts=["a.example.com"]))
    route = existing_route(canary)
    route["metadata"]["annotations"]["application-networking.k8s.aws/arn"] = "arn:x"
    changed = make_canary(svc(hosts=["b.example.com"]))
    updated = gatewayapi.plan_http_route_update(changed, V1, route)
    assert updated is not None
    assert updated["spec"]["hostnames"] == ["b.example.com"]
    # Flagger created it (owned by the Canary): nothing to keep for a revert
    assert updated["metadata"]["annotations"] == {
        **FLUX_OPT_OUT,
        "application-networking.k8s.aws/arn": "arn:x",
    }
    assert updated["metadata"]["resourceVersion"] == "7"


def test_metadata_change_keeps_the_weights() -> None:
    canary = make_canary()
    route = existing_route(canary)
    route["spec"] = gatewayapi.routed_spec(canary, V1, 30, 70, False)
    labelled = make_canary(svc(apex={"labels": {"team": "web"}}))
    updated = gatewayapi.plan_http_route_update(labelled, V1, route)
    assert updated is not None
    assert updated["metadata"]["labels"] == {"team": "web"}
    assert updated["spec"] == route["spec"]


def test_takeover_keeps_the_original_spec() -> None:
    canary = make_canary()
    theirs = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "1"},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "rules": [{"backendRefs": [{"name": "podinfo", "port": 9898}]}],
        },
    }
    updated = gatewayapi.plan_http_route_update(canary, V1, theirs)
    assert updated is not None
    kept = updated["metadata"]["annotations"][router_helpers.CONFIG_ANNOTATION]
    assert json.loads(kept) == theirs["spec"]
    assert gatewayapi.original_spec(updated) == theirs["spec"]
    # once kept, later updates keep the same original
    again = gatewayapi.plan_http_route_update(
        make_canary(svc(hosts=["x.example.com"])), V1, updated
    )
    assert again is not None
    assert again["metadata"]["annotations"][router_helpers.CONFIG_ANNOTATION] == kept


def test_original_spec_from_kubectl() -> None:
    applied = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "spec": {"parentRefs": [{"name": "gw"}]},
    }
    obj = {"metadata": {"annotations": {router_helpers.KUBECTL_ANNOTATION: json.dumps(applied)}}}
    assert gatewayapi.original_spec(obj) == {"parentRefs": [{"name": "gw"}]}
    assert gatewayapi.original_spec({"metadata": {}}) is None
    broken = {
        "metadata": {
            "name": "p",
            "namespace": "t",
            "annotations": {router_helpers.CONFIG_ANNOTATION: "{"},
        }
    }
    with pytest.raises(router_helpers.RouterError, match="failed to unMarshal"):
        gatewayapi.original_spec(broken)


# --- what a provider cannot do ---------------------------------------------------------------


def test_gateway_refs_are_required() -> None:
    canary = make_canary({"port": 9898})
    with pytest.raises(
        router_helpers.RouterError, match=r"canary podinfo\.test: GatewayRefs must be specified"
    ):
        gatewayapi.http_route_spec(canary, V1)


@pytest.mark.parametrize(
    ("service", "analysis", "feature"),
    [
        (svc(headers={"request": {"set": {"a": "b"}}}), None, r"service.headers"),
        (svc(rewrite={"uri": "/"}), None, r"service.rewrite"),
        (svc(timeout="5s"), None, r"service.timeout"),
        (svc(backendTimeout="5s"), None, r"service.backendTimeout"),
        (svc(corsPolicy={"allowOrigin": ["*"]}), None, r"service.corsPolicy"),
        (svc(mirror=[{"backendRef": {"name": "s", "port": 80}}]), None, r"service.mirror"),
        (svc(), BLUE_GREEN_MIRROR, r"analysis.mirror"),
        (
            svc(),
            {**AFFINITY, "sessionAffinity": {"cookieName": "c", "primaryCookieName": "p"}},
            r"analysis.sessionAffinity.primaryCookieName",
        ),
    ],
)
def test_v1beta1_refuses_what_only_v1_writes(
    service: dict[str, Any], analysis: dict[str, Any] | None, feature: str
) -> None:
    canary = make_canary(service, analysis)
    with pytest.raises(
        gatewayapi.UnsupportedByProvider,
        match=rf"canary podinfo.test: provider gatewayapi:v1beta1 does not support "
        rf".*\({feature}\); providers that do: gatewayapi:v1",
    ):
        gatewayapi.routed_spec(canary, V1BETA1, 90, 10, False)
    gatewayapi.routed_spec(canary, V1, 90, 10, False)


@pytest.mark.parametrize(
    ("service", "analysis", "what"),
    [
        (svc(match=[{"headers": {"x": {"prefix": "a"}}}]), None, "header"),
        (svc(match=[{"method": {"prefix": "G"}}]), None, "method"),
        (svc(match=[{"uri": {}}]), None, "path"),
        (svc(), {**AB, "match": [{"headers": {"x-canary": {"suffix": "er"}}}]}, "header"),
    ],
)
def test_match_selectors_gateway_api_cannot_express(
    service: dict[str, Any], analysis: dict[str, Any] | None, what: str
) -> None:
    canary = make_canary(service, analysis)
    with pytest.raises(
        router_helpers.RouterError,
        match=rf"canary podinfo.test: Invalid request matching selectors: Gateway "
        rf"API doesn't support the specified {what} matching selector",
    ):
        gatewayapi.http_route_spec(canary, V1)


def test_cors_origin_patterns_are_refused() -> None:
    canary = make_canary(svc(corsPolicy={"allowOrigins": [{"prefix": "https://"}]}))
    with pytest.raises(gatewayapi.UnsupportedByProvider, match="CORS origins must be exact"):
        gatewayapi.http_route_spec(canary, V1)


def test_flavors_by_provider_name() -> None:
    assert gatewayapi.flavor_for("gatewayapi:v1") is V1
    assert gatewayapi.flavor_for("gatewayapi:v1beta1") is V1BETA1
    assert gatewayapi.flavor_for("gatewayapi") is None
    assert gatewayapi.flavor_for("istio") is None
