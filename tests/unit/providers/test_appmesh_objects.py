"""The App Mesh objects Flagger builds, written out in full, for both API versions.

Matrix: v1beta1 (apex/primary/canary VirtualNodes, apex and canary VirtualServices) and v1beta2
(VirtualNodes, VirtualRouters, VirtualServices) x canary, A/B testing and blue/green weights;
retries, timeout, gRPC, backends (names and ARNs), gateway annotations; reading the weights
back; the update plan (weights kept, controller fields kept, original kept on takeover); the
features App Mesh refuses; the plugin hooks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api
from flagger.providers import appmesh
from tests.support.canaries import OWNER, routed_canary
from tests.support.registered import registered

AB = {
    "interval": "1m",
    "threshold": 5,
    "iterations": 10,
    "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
}


def make_canary(
    service: dict[str, Any],
    analysis: dict[str, Any] | None = None,
    provider: str = "appmesh:v1beta2",
) -> canary_api.Canary:
    return routed_canary(provider, service, analysis)


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "test", **extra, "ownerReferences": [OWNER]}


# --- v1beta1 --------------------------------------------------------------------------------


def test_v1beta1_virtual_nodes() -> None:
    canary = make_canary(
        {"port": 9898, "meshName": "global", "backends": ["backend1.test", "backend2.test"]},
        provider="appmesh",
    )
    assert appmesh.v1beta1_virtual_node(canary, "podinfo", "podinfo-primary.test") == {
        "apiVersion": "appmesh.k8s.aws/v1beta1",
        "kind": "VirtualNode",
        "metadata": meta("podinfo"),
        "spec": {
            "meshName": "global",
            "listeners": [{"portMapping": {"port": 9898, "protocol": "http"}}],
            "serviceDiscovery": {"dns": {"hostName": "podinfo-primary.test"}},
            "backends": [
                {"virtualService": {"virtualServiceName": "backend1.test"}},
                {"virtualService": {"virtualServiceName": "backend2.test"}},
            ],
        },
    }


def test_v1beta1_virtual_services_for_a_canary() -> None:
    canary = make_canary(
        {
            "port": 9898,
            "meshName": "global",
            "portName": "grpc",
            "match": [{"uri": {"prefix": "/api"}}],
            "retries": {
                "attempts": 3,
                "perTryTimeout": "5s",
                "retryOn": "gateway-error,client-error",
            },
            "hosts": ["app.example.com"],
            "timeout": "30s",
        },
        provider="appmesh",
    )
    retry = {
        "perRetryTimeoutMillis": 5000,
        "maxRetries": 3,
        "httpRetryEvents": ["gateway-error", "client-error"],
    }
    assert appmesh.v1beta1_virtual_service(canary, 0) == {
        "apiVersion": "appmesh.k8s.aws/v1beta1",
        "kind": "VirtualService",
        "metadata": meta(
            "podinfo.test",
            annotations={
                "gateway.appmesh.k8s.aws/expose": "true",
                "gateway.appmesh.k8s.aws/domain": "app.example.com,",
                "gateway.appmesh.k8s.aws/timeout": "30s",
                "gateway.appmesh.k8s.aws/retries": "3",
            },
        ),
        "spec": {
            "meshName": "global",
            "virtualRouter": {
                "name": "podinfo",
                "listeners": [{"portMapping": {"port": 9898, "protocol": "grpc"}}],
            },
            "routes": [
                {
                    "name": "podinfo",
                    "http": {
                        "match": {"prefix": "/api"},
                        "action": {
                            "weightedTargets": [
                                {"virtualNodeName": "podinfo-canary", "weight": 0},
                                {"virtualNodeName": "podinfo-primary", "weight": 100},
                            ]
                        },
                        "retryPolicy": retry,
                    },
                }
            ],
        },
    }
    assert appmesh.v1beta1_virtual_service(canary, 100) == {
        "apiVersion": "appmesh.k8s.aws/v1beta1",
        "kind": "VirtualService",
        "metadata": meta("podinfo-canary.test"),
        "spec": {
            "meshName": "global",
            "virtualRouter": {
                "name": "podinfo-canary",
                "listeners": [{"portMapping": {"port": 9898, "protocol": "grpc"}}],
            },
            "routes": [
                {
                    "name": "podinfo-canary",
                    "http": {
                        "match": {"prefix": "/api"},
                        "action": {
                            "weightedTargets": [
                                {"virtualNodeName": "podinfo-canary", "weight": 100},
                                {"virtualNodeName": "podinfo-primary", "weight": 0},
                            ]
                        },
                        "retryPolicy": retry,
                    },
                }
            ],
        },
    }


def test_v1beta1_ab_routes_and_weights() -> None:
    canary = make_canary({"port": 9898, "meshName": "global"}, AB, provider="appmesh")
    spec = appmesh.v1beta1_virtual_service_spec(canary, 0)
    assert spec["routes"] == [
        {
            "name": "podinfo-a",
            "priority": 10,
            "http": {
                "match": {
                    "prefix": "/",
                    "headers": [{"name": "x-canary", "match": {"exact": "insider"}}],
                },
                "action": {
                    "weightedTargets": [
                        {"virtualNodeName": "podinfo-canary", "weight": 0},
                        {"virtualNodeName": "podinfo-primary", "weight": 100},
                    ]
                },
            },
        },
        {
            "name": "podinfo-b",
            "priority": 20,
            "http": {
                "match": {"prefix": "/"},
                "action": {
                    "weightedTargets": [{"virtualNodeName": "podinfo-primary", "weight": 100}]
                },
            },
        },
    ]
    # A/B: the engine routes every matching request to the canary
    routed = appmesh.routed_v1beta1(canary, spec, 0, 100)
    assert routed["routes"][0]["http"]["action"]["weightedTargets"] == [
        {"virtualNodeName": "podinfo-canary", "weight": 100},
        {"virtualNodeName": "podinfo-primary", "weight": 0},
    ]
    assert routed["routes"][1] == spec["routes"][1]
    assert appmesh.read_routes_v1beta1(canary, routed) == (0, 100, False)


def test_v1beta1_default_retry_policy() -> None:
    canary = make_canary({"port": 9898, "meshName": "global", "retries": {}}, provider="appmesh")
    http = appmesh.v1beta1_virtual_service_spec(canary, 0)["routes"][0]["http"]
    assert http["retryPolicy"] == {
        "perRetryTimeoutMillis": 250,
        "maxRetries": 1,
        "httpRetryEvents": ["gateway-error"],
    }


def test_v1beta1_read_routes_errors() -> None:
    canary = make_canary({"port": 9898, "meshName": "global"}, provider="appmesh")
    with pytest.raises(
        router_helpers.RouterError, match=r"VirtualService routes podinfo\.test not found"
    ):
        appmesh.read_routes_v1beta1(canary, {"routes": []})
    zero = appmesh.routed_v1beta1(canary, appmesh.v1beta1_virtual_service_spec(canary, 0), 0, 0)
    with pytest.raises(
        router_helpers.RouterError, match="does not contain routes for podinfo-primary"
    ):
        appmesh.read_routes_v1beta1(canary, zero)


# --- v1beta2 --------------------------------------------------------------------------------


def test_v1beta2_virtual_nodes() -> None:
    canary = make_canary(
        {
            "port": 80,
            "targetPort": 9898,
            "timeout": "15s",
            "backends": ["backend.test", "arn:aws:appmesh:eu-west-1:1:mesh/x"],
        }
    )
    assert appmesh.v1beta2_virtual_node(
        canary,
        "podinfo-primary",
        "podinfo-primary",
        "podinfo-primary.test.svc.cluster.local.",
        "app",
    ) == {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualNode",
        "metadata": meta("podinfo-primary"),
        "spec": {
            "listeners": [
                {
                    "portMapping": {"port": 9898, "protocol": "http"},
                    "timeout": {"http": {"perRequest": {"unit": "ms", "value": 15000}}},
                }
            ],
            "serviceDiscovery": {"dns": {"hostname": "podinfo-primary.test.svc.cluster.local."}},
            "podSelector": {"matchLabels": {"app": "podinfo-primary"}},
            "backends": [
                {"virtualService": {"virtualServiceRef": {"name": "backend.test"}}},
                {"virtualService": {"virtualServiceARN": "arn:aws:appmesh:eu-west-1:1:mesh/x"}},
            ],
        },
    }


def test_v1beta2_routers_and_services_for_a_canary() -> None:
    canary = make_canary(
        {
            "port": 9898,
            "timeout": "1m",
            "retries": {"attempts": 2},
            "hosts": ["app.example.com", "www.example.com"],
        }
    )
    route = {
        "match": {"prefix": "/"},
        "timeout": {"perRequest": {"unit": "ms", "value": 60000}},
        "retryPolicy": {
            "httpRetryEvents": ["gateway-error"],
            "perRetryTimeout": {"unit": "ms", "value": 250},
            "maxRetries": 2,
        },
    }
    assert appmesh.v1beta2_virtual_router(canary, 0) == {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualRouter",
        "metadata": meta("podinfo"),
        "spec": {
            "listeners": [{"portMapping": {"port": 9898, "protocol": "http"}}],
            "routes": [
                {
                    "name": "podinfo",
                    "httpRoute": {
                        **route,
                        "action": {
                            "weightedTargets": [
                                {"virtualNodeRef": {"name": "podinfo-canary"}, "weight": 0},
                                {"virtualNodeRef": {"name": "podinfo-primary"}, "weight": 100},
                            ]
                        },
                    },
                }
            ],
        },
    }
    assert appmesh.v1beta2_virtual_router(canary, 100)["spec"]["routes"] == [
        {
            "name": "podinfo-canary",
            "httpRoute": {
                **route,
                "action": {
                    "weightedTargets": [
                        {"virtualNodeRef": {"name": "podinfo-canary"}, "weight": 100},
                        {"virtualNodeRef": {"name": "podinfo-primary"}, "weight": 0},
                    ]
                },
            },
        }
    ]
    assert appmesh.v1beta2_virtual_service(canary, 0) == {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualService",
        "metadata": meta(
            "podinfo",
            annotations={
                "gateway.appmesh.k8s.aws/expose": "true",
                "gateway.appmesh.k8s.aws/domain": "app.example.com,www.example.com,",
                "gateway.appmesh.k8s.aws/timeout": "1m",
                "gateway.appmesh.k8s.aws/retries": "2",
            },
        ),
        "spec": {"provider": {"virtualRouter": {"virtualRouterRef": {"name": "podinfo"}}}},
    }
    assert appmesh.v1beta2_virtual_service(canary, 100, owner_refs=False) == {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo-canary", "namespace": "test"},
        "spec": {"provider": {"virtualRouter": {"virtualRouterRef": {"name": "podinfo-canary"}}}},
    }


def test_v1beta2_ab_testing() -> None:
    canary = make_canary(
        {"port": 9898},
        {
            **AB,
            "match": [
                {"headers": {"x-canary": {"regex": ".*insider.*"}}},
                {"headers": {"user-agent": {"suffix": "Firefox"}}},
            ],
        },
    )
    assert appmesh.v1beta2_virtual_router_spec(canary, 0)["routes"] == [
        {
            "name": "podinfo-a",
            "priority": 10,
            "httpRoute": {
                "match": {
                    "prefix": "/",
                    "headers": [
                        {"name": "x-canary", "match": {"regex": ".*insider.*"}},
                        {"name": "user-agent", "match": {"suffix": "Firefox"}},
                    ],
                },
                "action": {
                    "weightedTargets": [
                        {"virtualNodeRef": {"name": "podinfo-canary"}, "weight": 0},
                        {"virtualNodeRef": {"name": "podinfo-primary"}, "weight": 100},
                    ]
                },
            },
        },
        {
            "name": "podinfo-b",
            "priority": 20,
            "httpRoute": {
                "match": {"prefix": "/"},
                "action": {
                    "weightedTargets": [
                        {"virtualNodeRef": {"name": "podinfo-primary"}, "weight": 100}
                    ]
                },
            },
        },
    ]
    # the canary router is not split by headers
    assert [r["name"] for r in appmesh.v1beta2_virtual_router_spec(canary, 100)["routes"]] == [
        "podinfo-canary"
    ]


def test_v1beta2_blue_green_weights_round_trip() -> None:
    canary = make_canary({"port": 9898}, {"interval": "1m", "threshold": 5, "iterations": 5})
    spec = appmesh.v1beta2_virtual_router_spec(canary, 0)
    assert appmesh.read_routes_v1beta2(canary, spec) == (100, 0, False)
    switched = appmesh.routed_v1beta2(canary, spec, 0, 100)
    assert appmesh.read_routes_v1beta2(canary, switched) == (0, 100, False)
    assert appmesh.read_routes_v1beta2(canary, appmesh.routed_v1beta2(canary, spec, 60, 40)) == (
        60,
        40,
        False,
    )
    with pytest.raises(router_helpers.RouterError, match="VirtualRouter routes podinfo not found"):
        appmesh.read_routes_v1beta2(canary, {"routes": [{"name": "x", "httpRoute": {}}]})


def test_grpc_port_name() -> None:
    canary = make_canary({"port": 9898, "portName": "grpc-api"})
    spec = appmesh.v1beta2_virtual_router_spec(canary, 0)
    assert spec["listeners"] == [{"portMapping": {"port": 9898, "protocol": "grpc"}}]


# --- updates --------------------------------------------------------------------------------


def test_update_plan_ignores_weights_and_controller_fields() -> None:
    canary = make_canary({"port": 9898})
    router = appmesh.v1beta2_virtual_router(canary, 0)
    live = {
        **router,
        "spec": {
            **appmesh.routed_v1beta2(canary, router["spec"], 70, 30),
            "awsName": "podinfo_test",
            "meshRef": {"name": "global"},
        },
    }
    comparable = appmesh._without_controller_fields
    assert appmesh.plan_update(canary, live, router["spec"], comparable=comparable) is None

    changed = make_canary({"port": 9898, "timeout": "5s"})
    want = appmesh.v1beta2_virtual_router_spec(changed, 0)

    def keep(new: dict[str, Any], old: Any) -> None:
        appmesh._keep_first_action("httpRoute")(new, old)
        appmesh._keep_controller_fields(new, old)

    updated = appmesh.plan_update(changed, live, want, comparable=comparable, keep=keep)
    assert updated is not None
    assert updated["spec"]["awsName"] == "podinfo_test"
    assert updated["spec"]["meshRef"] == {"name": "global"}
    assert appmesh.read_routes_v1beta2(changed, updated["spec"]) == (70, 30, False)
    assert updated["spec"]["routes"][0]["httpRoute"]["timeout"] == {
        "perRequest": {"unit": "ms", "value": 5000}
    }
    # an object the Canary owns is not "taken over"
    assert router_helpers.CONFIG_ANNOTATION not in (updated["metadata"].get("annotations") or {})


def test_takeover_keeps_the_original_spec() -> None:
    canary = make_canary({"port": 9898})
    theirs = {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualNode",
        "metadata": {"name": "podinfo-primary", "namespace": "test"},
        "spec": {"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}]},
    }
    want = appmesh.v1beta2_virtual_node(
        canary,
        "podinfo-primary",
        "podinfo-primary",
        "podinfo-primary.test.svc.cluster.local.",
        "app",
    )
    updated = appmesh.plan_update(canary, theirs, want["spec"])
    assert updated is not None and updated["spec"] == want["spec"]
    kept = updated["metadata"]["annotations"][router_helpers.CONFIG_ANNOTATION]
    assert json.loads(kept) == theirs["spec"]
    assert appmesh.original_spec(updated) == theirs["spec"]
    # kubectl's copy is used as it is
    applied = {
        **theirs,
        "metadata": {
            **theirs["metadata"],
            "annotations": {
                router_helpers.KUBECTL_ANNOTATION: json.dumps({"spec": {"listeners": []}})
            },
        },
    }
    again = appmesh.plan_update(canary, applied, want["spec"])
    assert again is not None
    assert router_helpers.CONFIG_ANNOTATION not in again["metadata"]["annotations"]
    assert appmesh.original_spec(again) == {"listeners": []}


def test_original_spec_rejects_garbage() -> None:
    broken = {
        "kind": "VirtualRouter",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": {router_helpers.CONFIG_ANNOTATION: "{"},
        },
    }
    with pytest.raises(
        router_helpers.RouterError, match=r"VirtualRouter podinfo\.test failed to unMarshal"
    ):
        appmesh.original_spec(broken)
    assert appmesh.original_spec({"metadata": {}}) is None


# --- what App Mesh cannot do ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("analysis", "feature", "others"),
    [
        (
            {"interval": "1m", "threshold": 5, "iterations": 5, "mirror": True},
            "traffic mirroring (analysis.mirror)",
            "istio, gatewayapi:v1, gatewayapi:v1beta1",
        ),
        (
            {
                "interval": "1m",
                "threshold": 5,
                "stepWeight": 10,
                "sessionAffinity": {"cookieName": "canary"},
            },
            "session affinity (analysis.sessionAffinity)",
            "istio, gatewayapi:v1, gatewayapi:v1beta1",
        ),
        (
            {**AB, "match": [{"queryParams": {"beta": {"exact": "1"}}}]},
            "query parameter matches (analysis.match[0].queryParams)",
            "istio, gatewayapi:v1, gatewayapi:v1beta1",
        ),
    ],
)
def test_unsupported_features_are_named(
    analysis: dict[str, Any], feature: str, others: str
) -> None:
    canary = make_canary({"port": 9898}, analysis)
    with pytest.raises(appmesh.UnsupportedFeature) as caught:
        appmesh.check_supported(canary, "appmesh:v1beta2")
    assert str(caught.value) == (
        f"canary podinfo.test: provider appmesh:v1beta2 does not support {feature}; "
        f"providers that do: {others}"
    )
    assert isinstance(caught.value, router_helpers.RouterError)


def test_header_ab_is_supported() -> None:
    appmesh.check_supported(make_canary({"port": 9898}, AB), "appmesh")


def test_hooks() -> None:
    context = plugins.PluginContext(
        kube=object(), options={"selector-labels": ("name", "app"), "kubeconfig-service-mesh": ""}
    )
    v1 = appmesh.flagger_router("appmesh", context)
    v2 = appmesh.flagger_router("appmesh:v1beta2", context)
    assert isinstance(v1, appmesh.AppMeshRouter) and isinstance(v1, plugins.Router)
    assert isinstance(v2, appmesh.AppMeshV1beta2Router)
    assert v2.selector_labels == ("name", "app") and v2.set_owner_refs
    assert appmesh.flagger_router("istio", context) is None
    assert registered(appmesh) == {
        (plugins.Kind.ROUTER, "appmesh"),
        (plugins.Kind.ROUTER, "appmesh:v1beta2"),
    }
