"""The tutorial, played by the daemon on the local control plane with a real Prometheus.

Flagger's Istio tutorial: a ``frontend`` (Deployment + HPA + Canary, stepWeight 5 to 50, with
pre-rollout and rollout webhooks) and a ``backend`` whose ConfigMap changes. The daemon runs as
``flagger run`` in its own process; Prometheus scrapes simulated traffic published with Istio's
metric names, so the built-in queries run unchanged. The matrix:

- frontend: initialisation objects, then a new image promoted step by step;
- backend: a ConfigMap change analysed, halts on success rate and latency, recovery, promotion;
  then a sustained failure rolled back at the threshold;
- SIGKILL of the daemon in the middle of an analysis: the new daemon finishes it, with no step
  done twice or skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process, http_receiver, istio_traffic, prometheus_server

pytestmark = pytest.mark.cluster

NS = "test"
INTERVAL = "10s"
METRIC_WINDOW = "10s"


def _app(name: str, image: str, config: bool = False) -> list[dict[str, Any]]:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": 9898}],
    }
    docs: list[dict[str, Any]] = []
    if config:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": NS},
                "data": {"PODINFO_UI_COLOR": "#34577c"},
            }
        )
        container["envFrom"] = [{"configMapRef": {"name": name}}]
    docs.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [container]},
                },
            },
        }
    )
    docs.append(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": 2,
                "maxReplicas": 4,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 99},
                        },
                    }
                ],
            },
        }
    )
    return docs


def _canary(name: str, hooks: str) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "provider": "istio",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "autoscalerRef": {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "name": name,
            },
            "progressDeadlineSeconds": 120,
            "service": {"port": 9898, "targetPort": 9898},
            "analysis": {
                "interval": INTERVAL,
                "threshold": 5,
                "maxWeight": 50,
                "stepWeight": 5,
                "metrics": [
                    {
                        "name": "request-success-rate",
                        "thresholdRange": {"min": 99},
                        "interval": METRIC_WINDOW,
                    },
                    {
                        "name": "request-duration",
                        "thresholdRange": {"max": 500},
                        "interval": METRIC_WINDOW,
                    },
                ],
                "webhooks": [
                    {
                        "name": "acceptance-test",
                        "type": "pre-rollout",
                        "url": f"{hooks}/pre",
                        "timeout": "15s",
                        "metadata": {"type": "bash", "cmd": "curl -s frontend"},
                    },
                    {
                        "name": "load-test",
                        "url": f"{hooks}/load",
                        "timeout": "5s",
                        "metadata": {"cmd": "hey -z 1m -q 10 -c 2 http://frontend-canary.test/"},
                    },
                ],
            },
        },
    }


@pytest.fixture(scope="module")
def world(
    cluster: devcluster.LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Namespace ``test``, simulated Istio traffic, Prometheus, a webhook receiver, the daemon."""
    workdir = tmp_path_factory.mktemp("tutorial")
    cluster.kubectl("create", "namespace", NS)
    traffic = istio_traffic.IstioTraffic()
    for workload in (
        "frontend",
        "frontend-primary",
        "backend",
        "backend-primary",
        "podinfo",
        "podinfo-primary",
    ):
        traffic.set(NS, workload)
    traffic.start()
    exporter = prometheus_server.start_exporter(traffic.registry)
    prometheus = prometheus_server.start_prometheus([exporter.target], workdir / "prometheus")
    hooks = http_receiver.Receiver().start()
    daemon = daemon_process.Daemon(
        [
            "-kubeconfig",
            str(cluster.kubeconfig),
            "-metrics-server",
            prometheus.url,
            "-mesh-provider",
            "istio",
            "-port",
            "0",
            "-log-level",
            "info",
        ],
        workdir / "flagger.log",
    ).start()
    try:
        yield {"traffic": traffic, "hooks": hooks, "daemon": daemon, "prometheus": prometheus}
    finally:
        daemon.stop()
        hooks.stop()
        prometheus.stop()
        exporter.stop()
        traffic.stop()
        cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def _apply(cluster: devcluster.LocalCluster, docs: list[dict[str, Any]]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def _get(cluster: devcluster.LocalCluster, kind: str, name: str) -> dict[str, Any]:
    out = cluster.kubectl("get", kind, name, "-n", NS, "-o", "json").stdout
    found: dict[str, Any] = json.loads(out)
    return found


def _weights(cluster: devcluster.LocalCluster, name: str) -> dict[str, int]:
    route = _get(cluster, "virtualservices.networking.istio.io", name)["spec"]["http"][0]["route"]
    return {r["destination"]["host"]: r["weight"] for r in route}


def _in_order(found: list[str], expected: list[str]) -> bool:
    """``expected`` appear in ``found`` in this order (other lines may come between)."""
    position = 0
    for line in found:
        if position < len(expected) and line == expected[position]:
            position += 1
    return position == len(expected)


def test_frontend_and_backend_tutorial(
    cluster: devcluster.LocalCluster, world: dict[str, Any]
) -> None:
    daemon: daemon_process.Daemon = world["daemon"]
    traffic: istio_traffic.IstioTraffic = world["traffic"]
    hooks: http_receiver.Receiver = world["hooks"]
    _apply(
        cluster,
        [*_app("frontend", "ghcr.io/stefanprodan/podinfo:6.0.0"), _canary("frontend", hooks.url)],
    )
    _apply(
        cluster,
        [
            *_app("backend", "ghcr.io/stefanprodan/podinfo:6.0.0", config=True),
            _canary("backend", hooks.url),
        ],
    )
    daemon.wait_phase(cluster, f"frontend.{NS}", "Initialized", 60)
    daemon.wait_phase(cluster, f"backend.{NS}", "Initialized", 60)

    # Initialisation: the primary, the three services, the Istio objects, the target at zero.
    assert _get(cluster, "deployment", "frontend-primary")["spec"]["selector"] == {
        "matchLabels": {"app": "frontend-primary"}
    }
    for service in ("frontend", "frontend-primary", "frontend-canary"):
        assert _get(cluster, "service", service)["spec"]["type"] == "ClusterIP"
    for rule in ("frontend-primary", "frontend-canary"):
        assert _get(cluster, "destinationrule", rule)["spec"]["host"] == rule
    assert _weights(cluster, "frontend") == {"frontend-primary": 100, "frontend-canary": 0}
    assert _get(cluster, "deployment", "frontend")["spec"]["replicas"] == 0
    assert _get(cluster, "hpa", "frontend-primary")["spec"]["scaleTargetRef"]["name"] == (
        "frontend-primary"
    )
    assert _get(cluster, "configmap", "backend-primary")["data"] == {"PODINFO_UI_COLOR": "#34577c"}

    # A new frontend image, and a new backend configuration, at the same time.
    cluster.kubectl(
        "set",
        "image",
        "deployment/frontend",
        "frontend=ghcr.io/stefanprodan/podinfo:6.0.1",
        "-n",
        NS,
    )
    cluster.kubectl(
        "patch",
        "configmap",
        "backend",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        '{"data": {"PODINFO_UI_COLOR": "#ffffff"}}',
    )

    backend = "backend.test"
    daemon.wait_for(
        backend,
        lambda m: "Advance backend.test canary weight 10" in m,
        120,
        "the backend's second step",
    )
    traffic.set(NS, "backend", error_ratio=0.375)
    daemon.wait_for(
        backend,
        lambda m: any("advancement success rate" in x for x in m),
        60,
        "a success-rate halt",
    )
    traffic.set(NS, "backend", error_ratio=0.0, latency_ms=2415)
    daemon.wait_for(
        backend, lambda m: any("advancement request duration" in x for x in m), 60, "a latency halt"
    )
    traffic.set(NS, "backend", latency_ms=40)

    daemon.wait_phase(cluster, f"frontend.{NS}", "Succeeded", 300)
    frontend = daemon.messages("frontend.test")
    assert _in_order(
        frontend,
        [
            "New revision detected! Scaling up frontend.test",
            "Starting canary analysis for frontend.test",
            "Pre-rollout check acceptance-test passed",
            *(f"Advance frontend.test canary weight {w}" for w in range(5, 55, 5)),
            "Copying frontend.test template spec to frontend-primary.test",
            "Promotion completed! Scaling down frontend.test",
        ],
    ), frontend
    assert not any(line.startswith("Halt frontend.test") for line in frontend)
    assert _weights(cluster, "frontend") == {"frontend-primary": 100, "frontend-canary": 0}
    assert _get(cluster, "deployment", "frontend")["spec"]["replicas"] == 0
    primary_image = _get(cluster, "deployment", "frontend-primary")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert primary_image.endswith(":6.0.1")
    assert "/pre" in hooks.paths() and "/load" in hooks.paths()

    daemon.wait_phase(cluster, f"backend.{NS}", "Succeeded", 300)
    messages = daemon.messages(backend)
    assert "ConfigMap backend has changed" in messages
    halts = [m for m in messages if m.startswith("Halt backend.test advancement")]
    assert any(
        re.fullmatch(r"Halt backend\.test advancement success rate \d+\.\d\d% < 99%", m)
        for m in halts
    ), halts
    assert any(
        re.fullmatch(
            r"Halt backend\.test advancement request duration "
            r"\d+(\.\d+)?m?s > 500ms",
            m,
        )
        for m in halts
    ), halts
    assert _get(cluster, "configmap", "backend-primary")["data"] == {"PODINFO_UI_COLOR": "#ffffff"}

    # A change whose errors persist is rolled back at the threshold.
    traffic.set(NS, "backend", error_ratio=0.5)
    cluster.kubectl(
        "patch",
        "configmap",
        "backend",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        '{"data": {"PODINFO_UI_COLOR": "#000000"}}',
    )
    daemon.wait_phase(cluster, f"backend.{NS}", "Failed", 240)
    traffic.set(NS, "backend", error_ratio=0.0)
    messages = daemon.messages(backend)
    assert _in_order(
        messages,
        [
            "Rolling back backend.test failed checks threshold reached 5",
            "Canary failed! Scaling down backend.test",
        ],
    ), messages[-10:]
    assert _weights(cluster, "backend") == {"backend-primary": 100, "backend-canary": 0}
    assert _get(cluster, "configmap", "backend-primary")["data"] == {
        "PODINFO_UI_COLOR": "#ffffff"
    }, "the failed configuration was not promoted"


@pytest.mark.long  # tests/faults/test_daemon_kills.py is the short form in `make test`
def test_sigkill_mid_analysis_loses_nothing(
    cluster: devcluster.LocalCluster, world: dict[str, Any]
) -> None:
    daemon: daemon_process.Daemon = world["daemon"]
    hooks: http_receiver.Receiver = world["hooks"]
    canary = _canary("podinfo", hooks.url)
    canary["spec"]["analysis"]["stepWeight"] = 10
    _apply(cluster, [*_app("podinfo", "ghcr.io/stefanprodan/podinfo:6.0.0"), canary])
    daemon.wait_phase(cluster, f"podinfo.{NS}", "Initialized", 60)
    cluster.kubectl(
        "set", "image", "deployment/podinfo", "podinfo=ghcr.io/stefanprodan/podinfo:6.0.1", "-n", NS
    )
    daemon.wait_for(
        "podinfo.test",
        lambda m: "Advance podinfo.test canary weight 20" in m,
        120,
        "the second step",
    )
    daemon.kill()
    daemon.start()
    daemon.wait_phase(cluster, f"podinfo.{NS}", "Succeeded", 240)

    events = json.loads(
        cluster.kubectl(
            "get",
            "events",
            "-n",
            NS,
            "--field-selector",
            "involvedObject.kind=Canary,involvedObject.name=podinfo",
            "-o",
            "json",
        ).stdout
    )["items"]
    counts: dict[str, int] = {}
    for event in events:
        counts[event["message"]] = counts.get(event["message"], 0) + int(event.get("count") or 1)
    for weight in (10, 20, 30, 40, 50):
        assert counts.get(f"Advance podinfo.test canary weight {weight}") == 1, counts
    assert counts.get("Promotion completed! Scaling down podinfo.test") == 1, counts
    assert counts.get("New revision detected! Scaling up podinfo.test") == 1, counts
