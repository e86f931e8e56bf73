"""The NGINX router with real traffic: Debian's nginx behind the test controller.

The controller (``tests/e2e/nginx``) watches the Ingresses of the test's namespace on the local
control plane, renders the main and the canary Ingress into nginx configuration and reloads nginx;
two aiohttp backends play the primary and canary pods. Matrix:

- weights set by the router (20, 40, 60, 80): 1,000 requests split within 3 points of the weight;
- A/B routing by header value, header pattern and cookie: matching requests all on the canary,
  the others all on the primary; back to all-primary at weight 0;
- the exporter publishes ingress-nginx's ``nginx_ingress_controller_requests`` with the canary
  label on exactly the requests the canary served;
- a canary analysis by the daemon (``-mesh-provider nginx``, built-in ``request-success-rate``
  from a real Prometheus scraping the exporter) under background traffic promotes a new image.
"""

from __future__ import annotations

import json
import pathlib
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger import plugins
from flagger.api import canary as canary_api
from flagger.devcluster import cluster as devcluster
from flagger.providers import nginx
from tests.e2e.nginx import controller as nginx_controller
from tests.e2e.nginx import harness
from tests.support import daemon_process, prometheus_server

pytestmark = pytest.mark.cluster

HOST = "app.example.com"
NET = "networking.k8s.io/v1"


def _ingress(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": NET,
        "kind": "Ingress",
        "metadata": {
            "name": "podinfo",
            "namespace": namespace,
            "annotations": {"kubernetes.io/ingress.class": "nginx"},
        },
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": HOST,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "podinfo", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def _canary_doc(namespace: str, analysis: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "provider": "nginx",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "ingressRef": {"apiVersion": NET, "kind": "Ingress", "name": "podinfo"},
            "progressDeadlineSeconds": 120,
            "service": {"port": 80, "targetPort": 9898},
            "analysis": analysis,
        },
    }


@pytest.fixture
def world(
    cluster: devcluster.LocalCluster, namespace: str, tmp_path: pathlib.Path
) -> Iterator[harness.NginxWorld]:
    nginx_controller.nginx_binary()  # skip early without nginx
    started = harness.NginxWorld(cluster.kubeconfig, namespace, "podinfo", tmp_path).start()
    try:
        yield started
    finally:
        started.stop()


def _apply(cluster: devcluster.LocalCluster, docs: list[dict[str, Any]]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def _model(
    cluster: devcluster.LocalCluster, namespace: str, analysis: dict[str, Any]
) -> canary_api.Canary:
    live = json.loads(
        cluster.kubectl("get", "canary", "podinfo", "-n", namespace, "-o", "json").stdout
    )
    doc = _canary_doc(namespace, analysis)
    doc["metadata"]["uid"] = live["metadata"]["uid"]
    return canary_api.Canary.model_validate(doc)


def _canary_weight(world: harness.NginxWorld) -> Any:
    def check(weight: int) -> Any:
        def applied(ctl: nginx_controller.IngressController) -> bool:
            found = ctl.location("podinfo")
            return found is not None and found.canary is not None and found.canary.weight == weight

        return applied

    return check


def test_weights_and_header_routing(
    cluster: devcluster.LocalCluster, namespace: str, world: harness.NginxWorld
) -> None:
    analysis = {"interval": "1m", "threshold": 5, "stepWeight": 20, "maxWeight": 80}
    _apply(cluster, [_ingress(namespace), _canary_doc(namespace, analysis)])
    canary = _model(cluster, namespace, analysis)
    assert world.kube is not None
    router = nginx.NginxRouter(world.kube)
    world.call(router.reconcile(canary))
    at = _canary_weight(world)

    world.wait_applied(at(0), HOST)
    assert world.send(200, HOST) == {"primary": 200}
    for weight in (20, 40, 60, 80):
        world.call(router.set_routes(canary, 100 - weight, weight, False))
        world.wait_applied(at(weight), HOST)
        served = world.send(1000, HOST)
        assert sum(served.values()) == 1000, served
        assert abs(served["canary"] / 10 - weight) <= 3, (weight, served)

    # The exporter: the canary label marks exactly what the canary served.
    world.exporter.read_new()
    canary_label = f"{namespace}-podinfo-canary-80"
    counts = dict(world.exporter.requests.counts)
    on_canary = sum(v for k, v in counts.items() if k[7] == canary_label)
    on_primary = sum(v for k, v in counts.items() if k[7] == "")
    assert on_canary == world.canary.served
    assert on_primary >= world.primary.served - 5  # generation probes never reach a backend
    with urllib.request.urlopen(f"http://{world.metrics_target}/metrics") as resp:
        text = resp.read().decode()
    assert "# TYPE nginx_ingress_controller_requests counter" in text
    canary_series = [
        line
        for line in text.splitlines()
        if line.startswith("nginx_ingress_controller_requests{")
        and f'canary="{canary_label}"' in line
    ]
    assert canary_series and all(
        f'ingress="podinfo",method="GET",namespace="{namespace}",path="/"' in line
        and 'service="podinfo",status="200"' in line
        for line in canary_series
    ), canary_series
    assert "nginx_ingress_controller_response_duration_seconds_count{" in text
    assert "nginx_ingress_controller_response_duration_seconds_sum{" in text

    world.call(router.set_routes(canary, 100, 0, False))
    world.wait_applied(at(0), HOST)
    assert world.send(100, HOST) == {"primary": 100}

    for headers, match in (
        ({"x-canary": "insider"}, {"x-canary": {"exact": "insider"}}),
        ({"x-user": "beta-7"}, {"x-user": {"regex": "^beta-[0-9]+$"}}),
        ({"Cookie": "canary=always"}, {"cookie": {"exact": "canary"}}),
    ):
        ab = {"interval": "1m", "threshold": 5, "iterations": 5, "match": [{"headers": match}]}
        ab_canary = _model(cluster, namespace, ab)
        world.call(router.set_routes(ab_canary, 0, 100, False))
        header = next(iter(match))

        def routed(ctl: nginx_controller.IngressController, name: str = header) -> bool:
            found = ctl.location("podinfo")
            if found is None or found.canary is None:
                return False
            return (found.canary.cookie or found.canary.header) == (
                "canary" if name == "cookie" else name
            )

        world.wait_applied(routed, HOST)
        assert world.call(router.get_routes(ab_canary)) == (0, 100, False)
        assert world.send(100, HOST, headers) == {"canary": 100}, headers
        assert world.send(100, HOST) == {"primary": 100}
        assert world.send(50, HOST, {"x-canary": "outsider", "x-user": "alpha"}) == {"primary": 50}
        world.call(router.set_routes(ab_canary, 100, 0, False))
        world.wait_applied(_no_ab_routing, HOST)
        assert world.send(50, HOST, headers) == {"primary": 50}


def _no_ab_routing(ctl: nginx_controller.IngressController) -> bool:
    found = ctl.location("podinfo")
    return (
        found is not None
        and found.canary is not None
        and not (found.canary.header or found.canary.cookie)
    )


def _deployment(namespace: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": namespace, "labels": {"app": "podinfo"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": {
                "metadata": {"labels": {"app": "podinfo"}},
                "spec": {
                    "containers": [
                        {
                            "name": "podinfo",
                            "image": image,
                            "ports": [{"name": "http", "containerPort": 9898}],
                        }
                    ]
                },
            },
        },
    }


def _in_order(found: list[str], expected: list[str]) -> bool:
    position = 0
    for line in found:
        if position < len(expected) and line == expected[position]:
            position += 1
    return position == len(expected)


def test_canary_analysis_through_nginx_promotes(
    cluster: devcluster.LocalCluster,
    namespace: str,
    world: harness.NginxWorld,
    tmp_path: pathlib.Path,
) -> None:
    installed = plugins.load()
    ready = {
        x.name for x in installed.listings() if x.kind is plugins.Kind.ROUTER and x.implemented
    }
    if "nginx" not in ready:
        pytest.skip(
            "the nginx router's entry point is not registered (pyproject.toml: "
            'nginx = "flagger.providers.nginx")'
        )
    prometheus = prometheus_server.start_prometheus([world.metrics_target], tmp_path / "prometheus")
    daemon = daemon_process.Daemon(
        [
            "-kubeconfig",
            str(cluster.kubeconfig),
            "-mesh-provider",
            "nginx",
            "-metrics-server",
            prometheus.url,
            "-port",
            "0",
            "-log-level",
            "info",
        ],
        tmp_path / "flagger.log",
    )
    try:
        analysis = {
            "interval": "10s",
            "threshold": 5,
            "stepWeight": 20,
            "maxWeight": 60,
            "metrics": [
                {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "30s"}
            ],
        }
        _apply(
            cluster,
            [
                _deployment(namespace, "ghcr.io/stefanprodan/podinfo:6.0.0"),
                _ingress(namespace),
                _canary_doc(namespace, analysis),
            ],
        )
        world.start_traffic(HOST, per_second=30)
        daemon.start()
        daemon.wait_phase(cluster, f"podinfo.{namespace}", "Initialized", 90)
        served_before = world.canary.served
        cluster.kubectl(
            "set",
            "image",
            "deployment/podinfo",
            "podinfo=ghcr.io/stefanprodan/podinfo:6.0.1",
            "-n",
            namespace,
        )
        daemon.wait_phase(cluster, f"podinfo.{namespace}", "Succeeded", 300)
        messages = daemon.messages(f"podinfo.{namespace}")
        assert _in_order(
            messages,
            [
                f"New revision detected! Scaling up podinfo.{namespace}",
                f"Starting canary analysis for podinfo.{namespace}",
                *(f"Advance podinfo.{namespace} canary weight {w}" for w in (20, 40, 60)),
                f"Copying podinfo.{namespace} template spec to podinfo-primary.{namespace}",
                f"Promotion completed! Scaling down podinfo.{namespace}",
            ],
        ), messages
        assert not any(m.startswith(f"Halt podinfo.{namespace}") for m in messages), messages
        assert world.canary.served > served_before, "the canary never got traffic"
        live = json.loads(
            cluster.kubectl(
                "get", "ingress", "podinfo-canary", "-n", namespace, "-o", "json"
            ).stdout
        )
        assert live["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "0"
    finally:
        world.stop_traffic()
        daemon.stop()
        prometheus.stop()
