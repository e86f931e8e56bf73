"""The values a Flagger user already has keep their meaning here, and a misspelt key fails
``helm install`` (``values.schema.json``) instead of being dropped silently.

Matrix: every key of Flagger 1.44's flagger and loadtester charts that ours lacked
(configTracking, threadiness, annotations, podLabels, deploymentLabels,
controlplane.kubeconfig, additionalVolumes/Mounts, crd.create, linkerdAuthPolicy,
serviceMonitor.labels, prometheus.*, mesh-injection podAnnotations; loadtester istio.*,
appmesh.*, meshName, podDisruptionBudget, podPriorityClassName, podSecurityContext,
rbac.serviceAccountAnnotations) lands where Flagger's chart puts it; misspellings at the top
level and nested are refused naming the key.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import yaml

from flagger.playground import charts

CHARTS = pathlib.Path(__file__).resolve().parents[3] / "deploy" / "charts"


def _render(chart: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    return charts.render(CHARTS / chart, values, release="flagger", namespace="flagger-system")


def _one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    return found


def _args(objects: list[dict[str, Any]]) -> list[str]:
    args: list[str] = _one(objects, "Deployment", "flagger")["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    return args


@pytest.mark.parametrize(
    ("chart", "values", "key"),
    [
        ("flagger", {"meshProvidr": "istio"}, "meshProvidr"),
        ("flagger", {"slack": {"channnel": "x"}}, "channnel"),
        ("flagger", {"configTracking": {"enable": False}}, "enable"),
        ("loadtester", {"istio": {"enabeld": True}}, "enabeld"),
        ("loadtester", {"replicas": 2}, "replicas"),
    ],
)
def test_misspelt_keys_fail(chart: str, values: dict[str, Any], key: str) -> None:
    with pytest.raises(charts.ChartError, match=key):
        _render(chart, values)


@pytest.mark.parametrize("chart", ["flagger", "loadtester"])
def test_schema_allows_every_default_key(chart: str) -> None:
    """values.yaml and values.schema.json do not drift apart."""
    schema = json.loads((CHARTS / chart / "values.schema.json").read_text())
    values = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        if isinstance(value, dict) and "properties" in node:
            for key, child in value.items():
                assert key in node["properties"], f"{chart}: {path}{key} missing from the schema"
                walk(child, node["properties"][key], f"{path}{key}.")

    walk(values, schema, "")
    _render(chart, values)


def test_flagger_chart_keys_land_where_flaggers_chart_puts_them() -> None:
    objects = _render(
        "flagger",
        {
            "threadiness": 4,
            "configTracking": {"enabled": False},
            "annotations": {"owner": "platform"},
            "deploymentLabels": {"team": "ops"},
            "podLabels": {"sidecar.istio.io/inject": "false"},
            "controlplane": {"kubeconfig": {"secretName": "mesh-kubeconfig", "key": "config"}},
            "additionalVolumes": [{"name": "ca", "configMap": {"name": "ca"}}],
            "additionalVolumeMounts": [{"name": "ca", "mountPath": "/etc/ca"}],
            "crd": {"create": True},
            "linkerdAuthPolicy": {"create": True, "namespace": "linkerd-viz"},
            "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
            "prometheus": {"install": True, "pullSecret": "registry"},
            "slack": {"url": "https://hooks.slack.com/x", "proxy": "http://proxy:3128"},
        },
    )
    deployment = _one(objects, "Deployment", "flagger")
    pod = deployment["spec"]["template"]
    args = _args(objects)
    assert "-threadiness=4" in args
    assert "-enable-config-tracking=false" in args
    assert "-kubeconfig-service-mesh=/etc/flagger/controlplane/config" in args
    assert "-slack-proxy-url=http://proxy:3128" in args
    assert deployment["metadata"]["annotations"] == {"owner": "platform"}
    assert deployment["metadata"]["labels"]["team"] == "ops"
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["kubeconfig"]["secret"]["secretName"] == "mesh-kubeconfig"
    assert "ca" in volumes
    mounts = {m["name"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert {"kubeconfig", "ca"} <= mounts
    assert {c["metadata"]["name"] for c in objects if c["kind"] == "CustomResourceDefinition"} >= {
        "canaries.flagger.app",
        "metrictemplates.flagger.app",
        "alertproviders.flagger.app",
    }
    policy = _one(objects, "AuthorizationPolicy")
    assert policy["metadata"]["namespace"] == "linkerd-viz"
    assert _one(objects, "ServiceMonitor")["metadata"]["labels"]["release"] == "kps"
    prometheus = _one(objects, "Deployment", "flagger-prometheus")
    assert prometheus["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "registry"}]


def test_mesh_injection_defaults_as_flaggers_chart() -> None:
    pod = _one(_render("flagger", {}), "Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"
    assert pod["metadata"]["annotations"]["appmesh.k8s.aws/sidecarInjectorWebhook"] == "disabled"


def test_loadtester_chart_keys() -> None:
    objects = _render(
        "loadtester",
        {
            "istio": {"enabled": True, "host": "lt.example.com", "gateway": {"enabled": True}},
            "appmesh": {"enabled": True, "backends": ["podinfo"]},
            "meshName": "global",
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            "podPriorityClassName": "critical",
            "podSecurityContext": {"enabled": True, "context": {"fsGroup": 101}},
            "rbac": {"serviceAccountAnnotations": {"eks.amazonaws.com/role-arn": "arn:x"}},
        },
    )
    kinds = {(o["kind"], o["apiVersion"]) for o in objects}
    assert {
        ("VirtualService", "networking.istio.io/v1beta1"),
        ("Gateway", "networking.istio.io/v1beta1"),
        ("VirtualNode", "appmesh.k8s.aws/v1beta2"),
        ("VirtualNode", "appmesh.k8s.aws/v1beta1"),
        ("PodDisruptionBudget", "policy/v1"),
    } <= kinds
    pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "critical"
    assert pod["securityContext"]["fsGroup"] == 101
    account = _one(objects, "ServiceAccount")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:x"}
