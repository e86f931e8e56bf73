"""The Gloo Upstreams and RouteTable the Gloo router builds, written out in full.

Matrix: Upstream names; an Upstream from a Service, plain and with an ``upstreamRef``
template (copied fields, labels kept by ``-include-label-prefix``); the RouteTable for a canary
(apex metadata), weights (0 omitted), A/B matchers (exact and regex), blue/green switch;
reading the weights back; the update plan (weights kept, original kept on takeover); the
features Gloo refuses; the plugin hooks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api
from flagger.providers import gloo
from tests.support.canaries import FLUX_OPT_OUT, OWNER, routed_canary
from tests.support.registered import registered

PRIMARY_US = "test-podinfo-primaryupstream-9898"
CANARY_US = "test-podinfo-canaryupstream-9898"
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "podinfo-primary", "namespace": "test"},
    "spec": {"selector": {"app": "podinfo-primary"}, "ports": [{"port": 9898}]},
}


def make_canary(
    service: dict[str, Any], analysis: dict[str, Any] | None = None, **spec: Any
) -> canary_api.Canary:
    return routed_canary("gloo", service, analysis, **spec)


def dest(name: str, weight: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = {"destination": {"upstream": {"name": name, "namespace": "test"}}}
    if weight:
        found["weight"] = weight
    return found


def test_upstreams() -> None:
    canary = make_canary({"port": 9898})
    assert gloo.upstream_names(canary) == (PRIMARY_US, CANARY_US)
    assert gloo.upstream(canary, PRIMARY_US, SERVICE) == {
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Upstream",
        "metadata": {"name": PRIMARY_US, "namespace": "test", "ownerReferences": [OWNER]},
        "spec": {
            "kube": {
                "serviceName": "podinfo-primary",
                "serviceNamespace": "test",
                "servicePort": 9898,
                "selector": {"app": "podinfo-primary"},
            }
        },
    }


def test_upstream_from_a_template() -> None:
    canary = make_canary(
        {"port": 9898},
        upstreamRef={
            "apiVersion": "gloo.solo.io/v1",
            "kind": "Upstream",
            "name": "config",
            "namespace": "gloo",
        },
    )
    template = {
        "spec": {
            "labels": {
                "app.kubernetes.io/name": "podinfo",
                "team": "a",
                "kustomize.toolkit.fluxcd.io/name": "x",
            },
            "connectionConfig": {"maxRequestsPerConnection": 10},
            "loadBalancerConfig": {"roundRobin": {}},
            "useHttp2": True,
            "httpProxyHostName": "proxy.example.com",
            "static": {"hosts": [{"addr": "ignored"}]},
        }
    }
    assert gloo.upstream(
        canary,
        CANARY_US,
        SERVICE,
        template,
        include_label_prefixes=("app.kubernetes.io", "kustomize"),
    ) == {
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Upstream",
        "metadata": {
            "name": CANARY_US,
            "namespace": "test",
            "labels": {"app.kubernetes.io/name": "podinfo"},
            "ownerReferences": [OWNER],
        },
        "spec": {
            "labels": {
                "app.kubernetes.io/name": "podinfo",
                "team": "a",
                "kustomize.toolkit.fluxcd.io/name": "x",
            },
            "connectionConfig": {"maxRequestsPerConnection": 10},
            "loadBalancerConfig": {"roundRobin": {}},
            "useHttp2": True,
            "httpProxyHostName": "proxy.example.com",
            "kube": {
                "serviceName": "podinfo-primary",
                "serviceNamespace": "test",
                "servicePort": 9898,
                "selector": {"app": "podinfo-primary"},
            },
        },
    }
    assert gloo.include_labels_by_prefix({"a": "1", "b": "2"}, ("",)) == {}
    assert gloo.include_labels_by_prefix({"a": "1", "b": "2"}, ("*",)) == {"a": "1", "b": "2"}


def test_route_table_for_a_canary() -> None:
    canary = make_canary({"port": 9898, "apex": {"annotations": {"note": "x"}}})
    assert gloo.route_table(canary) == {
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": {"note": "x", **FLUX_OPT_OUT},
            "ownerReferences": [OWNER],
        },
        "spec": {
            "routes": [
                {
                    "inheritablePathMatchers": True,
                    "routeAction": {
                        "multi": {"destinations": [dest(PRIMARY_US, 100), dest(CANARY_US)]}
                    },
                }
            ]
        },
    }
    spec = gloo.route_table_spec(canary, 75, 25)
    assert spec["routes"][0]["routeAction"]["multi"]["destinations"] == [
        dest(PRIMARY_US, 75),
        dest(CANARY_US, 25),
    ]
    assert gloo.read_routes(canary, spec) == (75, 25, False)


def test_ab_matchers() -> None:
    canary = make_canary(
        {"port": 9898},
        {
            "interval": "1m",
            "threshold": 5,
            "iterations": 10,
            "match": [
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"user-agent": {"regex": ".*Firefox.*"}}},
            ],
        },
    )
    assert gloo.route_table_spec(canary, 0, 100) == {
        "routes": [
            {
                "matchers": [
                    {
                        "headers": [
                            {"name": "x-canary", "value": "insider"},
                            {"name": "user-agent", "value": ".*Firefox.*", "regex": True},
                        ]
                    }
                ],
                "inheritablePathMatchers": True,
                "routeAction": {
                    "multi": {"destinations": [dest(PRIMARY_US), dest(CANARY_US, 100)]}
                },
            }
        ]
    }


def test_blue_green_and_errors() -> None:
    canary = make_canary({"port": 9898}, {"interval": "1m", "threshold": 5, "iterations": 5})
    assert gloo.read_routes(canary, gloo.route_table_spec(canary, 0, 100)) == (0, 100, False)
    with pytest.raises(
        router_helpers.RouterError, match=r"RouteTable podinfo\.test destinations not"
    ):
        gloo.read_routes(canary, {"routes": [{"routeAction": {"multi": {"destinations": []}}}]})


def test_update_plan_and_takeover() -> None:
    canary = make_canary({"port": 9898})
    live = {**gloo.route_table(canary), "spec": gloo.route_table_spec(canary, 60, 40)}
    assert gloo.plan_route_table_update(canary, live) is None
    ab = make_canary(
        {"port": 9898},
        {
            "interval": "1m",
            "threshold": 5,
            "iterations": 10,
            "match": [{"headers": {"x": {"exact": "1"}}}],
        },
    )
    updated = gloo.plan_route_table_update(ab, live)
    assert updated is not None and updated["spec"]["routes"][0]["matchers"]
    assert gloo.read_routes(ab, updated["spec"]) == (60, 40, False)
    assert router_helpers.CONFIG_ANNOTATION not in updated["metadata"]["annotations"]

    users = {
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"routes": [{"routeAction": {"single": {"upstream": {"name": "x"}}}}]},
    }
    taken = gloo.plan_route_table_update(canary, users)
    assert taken is not None and taken["spec"] == gloo.route_table_spec(canary)
    assert (
        json.loads(taken["metadata"]["annotations"][router_helpers.CONFIG_ANNOTATION])
        == users["spec"]
    )
    assert gloo.original_spec(taken) == users["spec"]


@pytest.mark.parametrize(
    ("analysis", "feature"),
    [
        (
            {
                "interval": "1m",
                "threshold": 5,
                "iterations": 10,
                "match": [{"headers": {"x": {"prefix": "a"}}}],
            },
            "prefix header matches (analysis.match[0].headers.x.prefix); providers that do: istio, "
            "appmesh, appmesh:v1beta2, contour, gatewayapi:v1, gatewayapi:v1beta1",
        ),
        (
            {
                "interval": "1m",
                "threshold": 5,
                "stepWeight": 10,
                "sessionAffinity": {"cookieName": "c"},
            },
            "session affinity (analysis.sessionAffinity); providers that do: istio, gatewayapi:v1, "
            "gatewayapi:v1beta1",
        ),
    ],
)
def test_unsupported_features(analysis: dict[str, Any], feature: str) -> None:
    with pytest.raises(gloo.UnsupportedFeature) as caught:
        gloo.check_supported(make_canary({"port": 9898}, analysis))
    assert str(caught.value) == f"canary podinfo.test: provider gloo does not support {feature}"


def test_hooks() -> None:
    context = plugins.PluginContext(kube=object(), options={"include-label-prefix": ("app",)})
    router = gloo.flagger_router("gloo", context)
    assert isinstance(router, gloo.GlooRouter) and isinstance(router, plugins.Router)
    assert router.include_label_prefixes == ("app",)
    assert gloo.flagger_router("glooey", context) is None
    assert registered(gloo) == {(plugins.Kind.ROUTER, "gloo")}
