"""The apex, primary and canary Services Flagger generates, written out in full.

Matrix: the default podinfo canary; every spec.service option (portName, targetPort,
appProtocol, headless, trafficDistribution, portDiscovery, apex/primary/canary metadata);
port discovery rules (sidecars, the routed port, unnamed ports); updates (nothing changed,
ports changed, taken-over apex metadata, unmanagedMetadata, an apex routing to the canary,
node ports kept); and the blue/green router's reported routes.
"""

from __future__ import annotations

from typing import Any

from flagger import services
from flagger.api import canary as canary_api
from flagger.providers import kubernetes
from tests.support.canaries import FLUX_OPT_OUT, OWNER, routed_canary

TARGET = services.TargetSelector(label="app", value="podinfo")


def make_canary(service: dict[str, Any], **status: Any) -> canary_api.Canary:
    analysis = {"interval": "1m", "threshold": 5, "iterations": 10}
    return routed_canary(None, service, analysis, status=status)


def test_default_services() -> None:
    canary = make_canary({"port": 9898})
    apex = services.build_service(canary, "podinfo", "podinfo-primary", None, TARGET)
    assert apex == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "labels": {"app": "podinfo"},
            "annotations": FLUX_OPT_OUT,
            "ownerReferences": [OWNER],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "podinfo-primary"},
            "ports": [{"name": "http", "protocol": "TCP", "port": 9898, "targetPort": 9898}],
        },
    }
    canary_svc = services.build_service(canary, "podinfo-canary", "podinfo", None, TARGET)
    assert canary_svc == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "podinfo-canary",
            "namespace": "test",
            "labels": {"app": "podinfo-canary"},
            "annotations": FLUX_OPT_OUT,
            "ownerReferences": [OWNER],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "podinfo"},
            "ports": [{"name": "http", "protocol": "TCP", "port": 9898, "targetPort": 9898}],
        },
    }


def test_every_service_option() -> None:
    canary = make_canary(
        {
            "name": "frontend",
            "port": 80,
            "portName": "http-web",
            "targetPort": "web",
            "appProtocol": "http",
            "headless": True,
            "trafficDistribution": "PreferClose",
            "portDiscovery": True,
            "primary": {"labels": {"tier": "web"}, "annotations": {"team": "a"}},
        }
    )
    target = services.TargetSelector(
        "app.kubernetes.io/name", "web", {"metrics": 9797, "grpc": 9999}
    )
    primary = services.build_service(
        canary,
        "frontend-primary",
        "web-primary",
        canary.spec.service.primary,
        target,  # type: ignore[union-attr]
    )
    assert primary == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "frontend-primary",
            "namespace": "test",
            "labels": {"tier": "web", "app.kubernetes.io/name": "frontend-primary"},
            "annotations": {"team": "a", **FLUX_OPT_OUT},
            "ownerReferences": [OWNER],
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "None",
            "trafficDistribution": "PreferClose",
            "selector": {"app.kubernetes.io/name": "web-primary"},
            "ports": [
                {
                    "name": "http-web",
                    "protocol": "TCP",
                    "port": 80,
                    "targetPort": "web",
                    "appProtocol": "http",
                },
                {"name": "metrics", "protocol": "TCP", "port": 9797, "targetPort": 9797},
                {"name": "grpc", "protocol": "TCP", "port": 9999, "targetPort": 9999},
            ],
        },
    }


def test_port_discovery_skips_sidecars_and_the_routed_port() -> None:
    containers: list[dict[str, Any]] = [
        {
            "name": "app",
            "ports": [
                {"containerPort": 9898, "name": "http"},
                {"containerPort": 9797, "name": "metrics"},
                {"containerPort": 7070},
            ],
        },
        {"name": "istio-proxy", "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}]},
        {"name": "envoy", "ports": [{"containerPort": 9901}]},
        {"name": "worker", "ports": [{"containerPort": 8081}]},
    ]
    by_port = make_canary({"port": 9898, "portDiscovery": True})
    assert services.discover_ports(by_port, containers) == {
        "metrics": 9797,
        "tcp-app-2": 7070,
        "tcp-worker-0": 8081,
    }
    by_name = make_canary({"port": 80, "targetPort": "metrics", "portDiscovery": True})
    assert services.discover_ports(by_name, containers) == {
        "http": 9898,
        "tcp-app-2": 7070,
        "tcp-worker-0": 8081,
    }


def _live(obj: dict[str, Any], **meta: Any) -> dict[str, Any]:
    """``obj`` as the API server returns it (resourceVersion, clusterIP allocated)."""
    live = {**obj, "metadata": {**obj["metadata"], "resourceVersion": "7", **meta}}
    live["spec"] = {**obj["spec"], "clusterIP": "10.0.0.7", "sessionAffinity": "None"}
    return live


def test_unchanged_service_is_not_written() -> None:
    canary = make_canary({"port": 9898})
    desired = services.build_service(canary, "podinfo", "podinfo-primary", None, TARGET)
    assert services.plan_service_update(canary, desired, _live(desired), TARGET) is None


def test_changed_port_updates_ports_and_keeps_node_ports() -> None:
    canary = make_canary({"port": 8080})
    desired = services.build_service(canary, "podinfo", "podinfo-primary", None, TARGET)
    before = make_canary({"port": 9898})
    live = _live(services.build_service(before, "podinfo", "podinfo-primary", None, TARGET))
    live["spec"]["ports"] = [{**live["spec"]["ports"][0], "nodePort": 30080}]
    updated = services.plan_service_update(canary, desired, live, TARGET)
    assert updated is not None
    assert updated["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 8080, "targetPort": 8080, "nodePort": 30080}
    ]
    assert updated["spec"]["clusterIP"] == "10.0.0.7"
    assert updated["metadata"]["resourceVersion"] == "7"


def test_taken_over_apex_gets_selector_and_ports_but_keeps_its_metadata() -> None:
    canary = make_canary({"port": 9898, "apex": {"labels": {"x": "y"}}})
    desired = services.build_service(
        canary, "podinfo", "podinfo-primary", canary.spec.service.apex, TARGET
    )  # type: ignore[union-attr]
    users: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "resourceVersion": "3",
            "labels": {"app": "podinfo", "owner": "me"},
            "annotations": {"note": "mine"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.0.0.9",
            "selector": {"app": "podinfo"},
            "ports": [{"name": "http", "protocol": "TCP", "port": 9898, "targetPort": 9898}],
        },
    }
    assert services.plan_service_update(canary, desired, users, TARGET) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "resourceVersion": "3",
            "labels": {"app": "podinfo", "owner": "me"},
            "annotations": {"note": "mine", **FLUX_OPT_OUT},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.0.0.9",
            "selector": {"app": "podinfo-primary"},
            "ports": [{"name": "http", "protocol": "TCP", "port": 9898, "targetPort": 9898}],
        },
    }


def test_owned_service_metadata_follows_the_spec_except_unmanaged_keys() -> None:
    canary = make_canary(
        {
            "port": 9898,
            "canary": {"labels": {"tier": "web"}, "annotations": {"a": "2"}},
            "unmanagedMetadata": {"annotations": ["cloud.example.com/lb"], "labels": ["injected"]},
        }
    )
    desired = services.build_service(
        canary, "podinfo-canary", "podinfo", canary.spec.service.canary, TARGET
    )  # type: ignore[union-attr]
    live = _live(desired)
    live["metadata"]["labels"] = {"app": "podinfo-canary", "injected": "yes", "old": "x"}
    live["metadata"]["annotations"] = {"a": "1", "cloud.example.com/lb": "internal", **FLUX_OPT_OUT}
    updated = services.plan_service_update(canary, desired, live, TARGET)
    assert updated is not None
    assert updated["metadata"]["labels"] == {
        "tier": "web",
        "app": "podinfo-canary",
        "injected": "yes",
    }
    assert updated["metadata"]["annotations"] == {
        "a": "2",
        "cloud.example.com/lb": "internal",
        **FLUX_OPT_OUT,
    }
    # once in line, the unmanaged keys alone cause no write
    assert services.plan_service_update(canary, desired, updated, TARGET) is None


def test_apex_routing_to_the_canary_is_left_alone() -> None:
    canary = make_canary({"port": 8080})
    desired = services.build_service(canary, "podinfo", "podinfo-primary", None, TARGET)
    live = _live(services.build_service(canary, "podinfo", "podinfo-canary", None, TARGET))
    assert services.plan_service_update(canary, desired, live, TARGET) is None


async def test_blue_green_router_reports_canary_once_iterating() -> None:
    router = kubernetes.KubernetesRouter()
    assert await router.get_routes(make_canary({"port": 9898})) == (100, 0, False)
    assert await router.get_routes(make_canary({"port": 9898}, iterations=0)) == (100, 0, False)
    assert await router.get_routes(make_canary({"port": 9898}, iterations=1)) == (0, 100, False)
    await router.set_routes(make_canary({"port": 9898}), 0, 100, False)
    await router.reconcile(make_canary({"port": 9898}))
    await router.finalize(make_canary({"port": 9898}))


def test_service_target_uses_no_service_router() -> None:
    canary = make_canary({"port": 9898})
    canary.spec.target_ref.kind = "Service"
    assert isinstance(
        services.service_router(None, canary, TARGET),  # type: ignore[arg-type]
        services.NoopServiceRouter,
    )
