"""The flagger chart renders for default and non-default values, with a hardened pod spec.

Matrix: defaults (one replica, Recreate, istio) and a values file exercising every key shared
with Flagger's chart (meshProvider, metricsServer, slack.*, msteams.*, leaderElection.*,
podMonitor, serviceMonitor, prometheus.install, resources, securityContext, nodeSelector,
tolerations, affinity, podDisruptionBudget): each value lands where a user looks for it, and
``flagger validate`` accepts the whole output.
"""

from __future__ import annotations

import io
import pathlib
from typing import Any

import yaml

from flagger import validate_command
from flagger.playground import charts

CHART = pathlib.Path(__file__).resolve().parents[3] / "deploy" / "charts" / "flagger"

CUSTOM: dict[str, Any] = {
    "meshProvider": "gatewayapi:v1",
    "metricsServer": "http://prom.monitoring:9090",
    "slack": {"url": "https://hooks.slack.com/services/x", "channel": "releases", "user": "bot"},
    "msteams": {"url": "https://outlook.office.com/webhook/x"},
    "leaderElection": {"enabled": True, "replicaCount": 2},
    "podMonitor": {"enabled": True, "additionalLabels": {"release": "kps"}},
    "serviceMonitor": {"enabled": True, "honorLabels": True},
    "prometheus": {"install": True},
    "resources": {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    },
    "securityContext": {
        "enabled": True,
        "context": {
            "readOnlyRootFilesystem": True,
            "runAsUser": 20000,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    },
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ops"]}]}
                ]
            }
        }
    },
    "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
    "namespace": "apps",
    "clusterName": "prod-eu",
}


def _render(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    return charts.render(CHART, values, release="flagger", namespace="flagger-system")


def _find(objects: list[dict[str, Any]], kind: str, name: str = "flagger") -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def hardened(pod: dict[str, Any]) -> None:
    """Assert the pod spec a platform team's admission policy would demand."""
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    assert "/tmp" in mounts, "a writable /tmp under a read-only root"


def test_defaults() -> None:
    objects = _render(None)
    assert charts.describe_all(objects) == [
        "ServiceAccount flagger-system/flagger",
        "ClusterRole flagger",
        "ClusterRoleBinding flagger",
        "Service flagger-system/flagger",
        "Deployment flagger-system/flagger",
    ]
    deployment = _find(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    hardened(pod)
    args = pod["containers"][0]["args"]
    assert "-mesh-provider=istio" in args and "-metrics-server=http://prometheus:9090" in args
    assert not any(a.startswith(("-slack", "-msteams", "-enable-leader")) for a in args)


def test_non_default_values() -> None:
    objects = _render(CUSTOM)
    kinds = {o["kind"] for o in objects}
    assert {"PodDisruptionBudget", "PodMonitor", "ServiceMonitor"} <= kinds
    deployment = _find(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    hardened(pod)
    args = pod["containers"][0]["args"]
    for expected in (
        "-mesh-provider=gatewayapi:v1",
        "-slack-url=https://hooks.slack.com/services/x",
        "-slack-channel=releases",
        "-slack-user=bot",
        "-msteams-url=https://outlook.office.com/webhook/x",
        "-enable-leader-election=true",
        "-leader-election-namespace=flagger-system",
        "-namespace=apps",
        "-cluster-name=prod-eu",
        "-metrics-server=http://flagger-prometheus:9090",
    ):
        assert expected in args, (expected, args)
    assert deployment["spec"]["replicas"] == 2 and "strategy" not in deployment["spec"]
    assert pod["containers"][0]["resources"]["limits"]["memory"] == "1Gi"
    assert pod["containers"][0]["securityContext"]["runAsUser"] == 20000
    assert pod["nodeSelector"] == CUSTOM["nodeSelector"]
    assert pod["tolerations"] == CUSTOM["tolerations"]
    assert pod["affinity"] == CUSTOM["affinity"]
    assert _find(objects, "PodMonitor")["metadata"]["labels"]["release"] == "kps"
    assert _find(objects, "ServiceMonitor")["spec"]["endpoints"][0]["honorLabels"] is True
    assert _find(objects, "Service", "flagger-prometheus")["spec"]["ports"][0]["port"] == 9090
    role = _find(objects, "ClusterRole")
    assert any("httproutes" in r["resources"] for r in role["rules"])


def test_leader_election_spreads_replicas_by_default() -> None:
    values = {"leaderElection": {"enabled": True, "replicaCount": 2}}
    pod = _find(_render(values), "Deployment")["spec"]["template"]["spec"]
    assert "podAntiAffinity" in pod["affinity"]


def test_flagger_validate_accepts_the_output(tmp_path: pathlib.Path) -> None:
    for number, values in enumerate((None, CUSTOM)):
        out, err = io.StringIO(), io.StringIO()
        manifest = tmp_path / f"render-{number}.yaml"
        manifest.write_text(yaml.safe_dump_all(_render(values)))
        assert validate_command.run([str(manifest)], out, err) == 0, out.getvalue() + err.getvalue()
        assert "SKIP Deployment" in out.getvalue()
