"""The HTTPProxy the Contour router builds, written out in full.

Matrix: a plain canary (with apex metadata and ``-ingress-class``); prefix, timeout and retries;
canary weights; A/B testing (exact, prefix and suffix headers); blue/green switch; reading the
weights back; the update plan (no write when only weights differ, weights kept, metadata,
original kept on takeover); the features Contour refuses; the plugin hooks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api
from flagger.providers import contour
from tests.support.canaries import FLUX_OPT_OUT, OWNER, routed_canary
from tests.support.registered import registered

AB = {
    "interval": "1m",
    "threshold": 5,
    "iterations": 10,
    "match": [
        {"headers": {"x-canary": {"exact": "insider"}}},
        {"headers": {"user-agent": {"prefix": "Mozilla"}}},
        {"headers": {"cookie": {"suffix": "canary=always"}}},
    ],
}


def make_canary(
    service: dict[str, Any], analysis: dict[str, Any] | None = None
) -> canary_api.Canary:
    return routed_canary("contour", service, analysis)


def backend(name: str, weight: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "port": 9898}
    if weight:
        found["weight"] = weight
    found["requestHeadersPolicy"] = {
        "set": [{"name": "l5d-dst-override", "value": f"{name}.test.svc.cluster.local:9898"}]
    }
    return found


def test_plain_canary() -> None:
    canary = make_canary(
        {"port": 9898, "apex": {"labels": {"team": "a"}, "annotations": {"note": "x"}}}
    )
    assert contour.http_proxy(canary, ingress_class="contour-external") == {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "labels": {"team": "a"},
            "annotations": {
                "note": "x",
                **FLUX_OPT_OUT,
                "projectcontour.io/ingress.class": "contour-external",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "routes": [
                {
                    "conditions": [{"prefix": "/"}],
                    "services": [backend("podinfo-primary", 100), backend("podinfo-canary")],
                }
            ]
        },
        "status": {"currentStatus": "valid", "description": "valid HTTPProxy"},
    }


def test_routing_options_and_weights() -> None:
    canary = make_canary(
        {
            "port": 9898,
            "timeout": "15s",
            "retries": {"attempts": 3, "perTryTimeout": "5s"},
            "match": [{"uri": {"prefix": "/api"}}],
        }
    )
    assert contour.http_proxy_spec(canary, 70, 30) == {
        "routes": [
            {
                "conditions": [{"prefix": "/api"}],
                "timeoutPolicy": {"response": "15s", "idle": "5m"},
                "retryPolicy": {"count": 3, "perTryTimeout": "5s"},
                "services": [backend("podinfo-primary", 70), backend("podinfo-canary", 30)],
            }
        ]
    }
    assert contour.read_routes(canary, contour.http_proxy_spec(canary, 70, 30)) == (70, 30, False)


def test_ab_testing() -> None:
    canary = make_canary({"port": 9898}, AB)
    # the engine routes matching requests to the canary
    assert contour.http_proxy_spec(canary, 0, 100) == {
        "routes": [
            {
                "conditions": [
                    {"prefix": "/", "header": {"name": "x-canary", "exact": "insider"}},
                    {"prefix": "/", "header": {"name": "user-agent", "contains": "Mozilla"}},
                    {"prefix": "/", "header": {"name": "cookie", "contains": "canary=always"}},
                ],
                "services": [backend("podinfo-primary"), backend("podinfo-canary", 100)],
            },
            {
                "conditions": [{"prefix": "/"}],
                "services": [backend("podinfo-primary", 100), backend("podinfo-canary")],
            },
        ]
    }
    assert contour.read_routes(canary, contour.http_proxy_spec(canary, 0, 100)) == (0, 100, False)


def test_blue_green_switch() -> None:
    canary = make_canary({"port": 9898}, {"interval": "1m", "threshold": 5, "iterations": 5})
    spec = contour.http_proxy_spec(canary, 0, 100)
    assert spec["routes"][0]["services"] == [
        backend("podinfo-primary"),
        backend("podinfo-canary", 100),
    ]
    assert contour.read_routes(canary, spec) == (0, 100, False)
    with pytest.raises(
        router_helpers.RouterError, match=r"HTTPProxy podinfo\.test services not found"
    ):
        contour.read_routes(canary, {"routes": [{"services": [backend("podinfo-primary")]}]})


def test_update_plan() -> None:
    canary = make_canary({"port": 9898})
    created = contour.http_proxy(canary, ingress_class="contour")
    live = {**created, "spec": contour.http_proxy_spec(canary, 60, 40)}
    assert contour.plan_http_proxy_update(canary, live, ingress_class="contour") is None

    changed = make_canary({"port": 9898, "timeout": "3s"})
    updated = contour.plan_http_proxy_update(changed, live, ingress_class="contour")
    assert updated is not None
    assert updated["spec"]["routes"][0]["timeoutPolicy"] == {"response": "3s", "idle": "5m"}
    assert contour.read_routes(changed, updated["spec"]) == (60, 40, False)
    assert router_helpers.CONFIG_ANNOTATION not in updated["metadata"]["annotations"]

    # a new ingress class is an update of the metadata only
    relabelled = contour.plan_http_proxy_update(canary, live, ingress_class="internal")
    assert relabelled is not None and relabelled["spec"] == live["spec"]
    assert relabelled["metadata"]["annotations"]["projectcontour.io/ingress.class"] == "internal"


def test_takeover_keeps_the_original() -> None:
    canary = make_canary({"port": 9898})
    users = {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": "podinfo", "namespace": "test", "annotations": {"a": "b"}},
        "spec": {"routes": [{"services": [{"name": "podinfo", "port": 9898}]}]},
    }
    updated = contour.plan_http_proxy_update(canary, users)
    assert updated is not None
    assert updated["spec"] == contour.http_proxy_spec(canary)
    assert updated["metadata"]["annotations"] == {
        "a": "b",
        **FLUX_OPT_OUT,
        router_helpers.CONFIG_ANNOTATION: json.dumps(users["spec"], separators=(",", ":")),
    }
    assert contour.original_spec(updated) == users["spec"]


@pytest.mark.parametrize(
    ("analysis", "feature", "others"),
    [
        (
            {**AB, "match": [{"headers": {"x": {"regex": "a.*"}}}]},
            "regex header matches (analysis.match[0].headers.x.regex)",
            "istio, appmesh, appmesh:v1beta2, gloo, nginx, gatewayapi:v1, gatewayapi:v1beta1",
        ),
        (
            {"interval": "1m", "threshold": 5, "iterations": 5, "mirror": True},
            "traffic mirroring (analysis.mirror)",
            "istio, gatewayapi:v1, gatewayapi:v1beta1",
        ),
        (
            {**AB, "match": [{"sourceLabels": {"app": "x"}}]},
            "source label matches (analysis.match[0].sourceLabels)",
            "istio",
        ),
    ],
)
def test_unsupported_features(analysis: dict[str, Any], feature: str, others: str) -> None:
    with pytest.raises(contour.UnsupportedFeature) as caught:
        contour.check_supported(make_canary({"port": 9898}, analysis))
    assert str(caught.value) == (
        f"canary podinfo.test: provider contour does not support {feature}; "
        f"providers that do: {others}"
    )


def test_hooks() -> None:
    context = plugins.PluginContext(kube=object(), options={"ingress-class": "contour"})
    router = contour.flagger_router("contour", context)
    assert isinstance(router, contour.ContourRouter) and isinstance(router, plugins.Router)
    assert router.ingress_class == "contour" and router.set_owner_refs
    assert contour.flagger_router("nginx", context) is None
    assert registered(contour) == {(plugins.Kind.ROUTER, "contour")}
