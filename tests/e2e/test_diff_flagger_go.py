"""Flagger (Go) 1.44 and ours on the same Canaries, side by side: the objects each creates
(normalised), the Events on each Canary and the event-webhook payloads, diffed.

Scenarios: kubernetes blue/green, istio canary, istio A/B, nginx, gatewayapi, an HPA with a
tracked ConfigMap, and a plain Service target routed by Gateway API. Flagger (Go) runs first on
``go-*`` namespaces, then ours on ``py-*`` namespaces with identical objects; each initialises
its Canaries, then a new revision (an image, the ConfigMap, or the Service's spec) is promoted.
The test asserts that both promote every scenario; the differences are written to the report
(``DIFF_FLAGGER_REPORT``, default ``build/diff-flagger.md``) and printed, and
docs/coming-from-flagger.md explains them.

Needs ``FLAGGER_GO_BIN`` (``make diff-flagger``); skipped otherwise.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import os
import pathlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process, flagger_go
from tests.support.http_receiver import Receiver

pytestmark = pytest.mark.cluster

ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.0"
NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1"
ANALYSIS = {"interval": "10s", "threshold": 2}


def _deployment(namespace: str, config: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "podinfod",
        "image": IMAGE,
        "ports": [{"name": "http", "containerPort": 9898}],
    }
    if config:
        container["envFrom"] = [{"configMapRef": {"name": "podinfo-env"}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "podinfo",
            "namespace": namespace,
            "labels": {"app": "podinfo", "app.kubernetes.io/part-of": "shop"},
            "annotations": {"team": "web"},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": {
                "metadata": {
                    "labels": {"app": "podinfo"},
                    "annotations": {"prometheus.io/scrape": "true"},
                },
                "spec": {"containers": [container]},
            },
        },
    }


def _canary(namespace: str, provider: str, analysis: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": provider,
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {**ANALYSIS, **analysis},
    }
    for key, value in spec.items():
        if key == "service":
            body["service"].update(value)
        else:
            body[key] = value
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": body,
    }


def _bluegreen(ns: str) -> list[dict[str, Any]]:
    return [_deployment(ns), _canary(ns, "kubernetes", {"iterations": 2})]


def _istio_canary(ns: str) -> list[dict[str, Any]]:
    return [_deployment(ns), _canary(ns, "istio", {"maxWeight": 50, "stepWeight": 25})]


def _istio_ab(ns: str) -> list[dict[str, Any]]:
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    return [_deployment(ns), _canary(ns, "istio", {"iterations": 2, "match": match})]


def _nginx(ns: str) -> list[dict[str, Any]]:
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "podinfo", "namespace": ns, "labels": {"app": "podinfo"}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "app.example.com",
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
    canary = _canary(
        ns,
        "nginx",
        {"maxWeight": 50, "stepWeight": 50},
        ingressRef={"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"},
        service={"port": 80, "targetPort": 9898},
    )
    return [_deployment(ns), ingress, canary]


def _gatewayapi(ns: str) -> list[dict[str, Any]]:
    canary = _canary(
        ns,
        "gatewayapi:v1",
        {"maxWeight": 50, "stepWeight": 50},
        service={
            "hosts": ["app.example.com"],
            "gatewayRefs": [{"name": "gateway", "namespace": "istio-ingress"}],
        },
    )
    return [_deployment(ns), canary]


def _hpa_config(ns: str) -> list[dict[str, Any]]:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "podinfo-env", "namespace": ns, "labels": {"app": "podinfo"}},
        "data": {"PODINFO_UI_COLOR": "#34577c"},
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 1,
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
    canary = _canary(
        ns,
        "kubernetes",
        {"iterations": 2},
        autoscalerRef={
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
        },
    )
    return [config, _deployment(ns, config=True), hpa, canary]


def _service_target(ns: str) -> list[dict[str, Any]]:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": ns, "labels": {"app": "podinfo"}},
        "spec": {
            "selector": {"app": "podinfo"},
            "ports": [{"name": "http", "port": 9898, "targetPort": "http"}],
        },
    }
    canary = _canary(
        ns,
        "gatewayapi:v1",
        {"maxWeight": 50, "stepWeight": 50},
        targetRef={"apiVersion": "v1", "kind": "Service", "name": "podinfo"},
        service={
            "hosts": ["app.example.com"],
            "gatewayRefs": [{"name": "gateway", "namespace": "istio-ingress"}],
        },
    )
    return [_deployment(ns), service, canary]


SCENARIOS: dict[str, Callable[[str], list[dict[str, Any]]]] = {
    "bluegreen": _bluegreen,
    "istio-canary": _istio_canary,
    "istio-ab": _istio_ab,
    "nginx": _nginx,
    "gatewayapi": _gatewayapi,
    "hpa-config": _hpa_config,
    "service-target": _service_target,
}

COLLECTED = [
    ("apps/v1", "deployments"),
    ("v1", "services"),
    ("v1", "configmaps"),
    ("autoscaling/v2", "horizontalpodautoscalers"),
    ("networking.istio.io/v1beta1", "virtualservices"),
    ("networking.istio.io/v1beta1", "destinationrules"),
    ("networking.k8s.io/v1", "ingresses"),
    ("gateway.networking.k8s.io/v1", "httproutes"),
]


# --- running one operator -----------------------------------------------------------------


def _status(cluster: devcluster.LocalCluster, ns: str) -> dict[str, Any]:
    got = cluster.kubectl("get", "canary", "podinfo", "-n", ns, "-o", "json", check=False)
    if got.returncode != 0:
        return {}
    found: dict[str, Any] = json.loads(got.stdout).get("status") or {}
    return found


Snapshot = dict[str, tuple[str, dict[str, dict[str, Any]], list[str], dict[str, Any]]]


def _play(
    cluster: devcluster.LocalCluster, prefix: str, start: Callable[[], Any], stop: Callable[[], Any]
) -> Snapshot:
    """Create every scenario under ``prefix-``, run the operator through initialisation and one
    promotion; per scenario the final phase, objects, Events and Canary status, taken before the
    other operator runs (ours watches every namespace and would take Flagger's Canaries over)."""
    for name, build in SCENARIOS.items():
        ns = f"{prefix}-{name}"
        cluster.kubectl("create", "namespace", ns)
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(build(ns)))
    start()
    try:

        def initialised() -> bool:
            return all(
                _status(cluster, f"{prefix}-{n}").get("phase") == "Initialized" for n in SCENARIOS
            )

        with contextlib.suppress(AssertionError):  # the report shows which one did not
            flagger_go.wait(initialised, 120, f"{prefix}: every scenario Initialized")
        # a scenario that never initialised is not waited for (the report shows it)
        stuck = {
            n for n in SCENARIOS if _status(cluster, f"{prefix}-{n}").get("phase") != "Initialized"
        }
        for name in SCENARIOS:
            ns = f"{prefix}-{name}"
            if name == "service-target":
                cluster.kubectl(
                    "patch",
                    "service",
                    "podinfo",
                    "-n",
                    ns,
                    "--type=merge",
                    "-p",
                    '{"spec":{"sessionAffinity":"ClientIP"}}',
                )
            elif name == "hpa-config":
                cluster.kubectl(
                    "patch",
                    "configmap",
                    "podinfo-env",
                    "-n",
                    ns,
                    "--type=merge",
                    "-p",
                    '{"data":{"PODINFO_UI_COLOR":"#ff0000"}}',
                )
            else:
                cluster.kubectl(
                    "set", "image", "deployment/podinfo", f"podinfod={NEW_IMAGE}", "-n", ns
                )

        def settled() -> bool:
            return all(
                n in stuck
                or _status(cluster, f"{prefix}-{n}").get("phase") in ("Succeeded", "Failed")
                for n in SCENARIOS
            )

        with contextlib.suppress(AssertionError):  # the report shows where each stopped
            flagger_go.wait(settled, 240, f"{prefix}: every scenario settled")
        return {
            n: (
                str(_status(cluster, f"{prefix}-{n}").get("phase")),
                _objects(cluster, f"{prefix}-{n}"),
                _events(cluster, f"{prefix}-{n}"),
                _canary_status(_status(cluster, f"{prefix}-{n}")),
            )
            for n in SCENARIOS
        }
    finally:
        stop()


# --- normalising and diffing ----------------------------------------------------------------

_DROPPED_META = ("uid", "resourceVersion", "creationTimestamp", "generation")
_DROPPED_ANNOTATIONS = (
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/last-applied-configuration",
)


def _normalise(obj: dict[str, Any], ns: str) -> dict[str, Any]:
    found = copy.deepcopy(obj)
    found.pop("status", None)
    meta = found.get("metadata") or {}
    for key in _DROPPED_META:
        meta.pop(key, None)
    # who wrote the object, not when: the field managers' names and operations
    managers = {
        (m.get("manager"), m.get("operation")) for m in meta.pop("managedFields", None) or []
    }
    meta["managers"] = sorted(f"{m}/{o}" for m, o in managers)
    meta.pop("namespace", None)
    for ref in meta.get("ownerReferences") or []:
        ref.pop("uid", None)
    annotations = meta.get("annotations") or {}
    for key in _DROPPED_ANNOTATIONS:
        annotations.pop(key, None)
    if not annotations:
        meta.pop("annotations", None)
    spec = found.get("spec") or {}
    for key in ("clusterIP", "clusterIPs"):
        spec.pop(key, None)
    template_meta = (spec.get("template") or {}).get("metadata") or {}
    if "flagger-id" in (template_meta.get("annotations") or {}):
        template_meta["annotations"]["flagger-id"] = "<uuid>"
    text = json.dumps(found, sort_keys=True).replace(ns, "<ns>")
    normalised: dict[str, Any] = json.loads(text)
    return normalised


def _canary_status(status: dict[str, Any]) -> dict[str, Any]:
    """The status without times; the revision hashes (computed differently by design) reduced
    to whether the applied revision is the promoted one."""
    found = copy.deepcopy(status)
    found.pop("lastTransitionTime", None)
    for condition in found.get("conditions") or []:
        condition.pop("lastTransitionTime", None)
        condition.pop("lastUpdateTime", None)
    applied, promoted = found.pop("lastAppliedSpec", None), found.pop("lastPromotedSpec", None)
    found["appliedIsPromoted"] = applied is not None and applied == promoted
    return found


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(_flatten(child, f"{path}.{key}" if path else str(key)))
        return out or {path: {}}
    if isinstance(value, list):
        out = {}
        for index, child in enumerate(value):
            out.update(_flatten(child, f"{path}[{index}]"))
        return out or {path: []}
    return {path: value}


def _objects(cluster: devcluster.LocalCluster, ns: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for api_version, plural in COLLECTED:
        group = api_version.split("/")[0] if "/" in api_version else ""
        resource = f"{plural}.{group}" if group else plural
        got = cluster.kubectl("get", resource, "-n", ns, "-o", "json", check=False)
        if got.returncode != 0:
            continue
        for item in json.loads(got.stdout).get("items") or []:
            name = item["metadata"]["name"]
            if name == "kube-root-ca.crt":
                continue
            found[f"{item['kind']}/{name}"] = _normalise(item, ns)
    return found


def _events(cluster: devcluster.LocalCluster, ns: str) -> list[str]:
    got = cluster.kubectl(
        "get", "events", "-n", ns, "--field-selector", "involvedObject.kind=Canary", "-o", "json"
    )
    items = json.loads(got.stdout).get("items") or []
    items.sort(
        key=lambda e: (e.get("firstTimestamp") or e.get("eventTime") or "", e["metadata"]["name"])
    )
    return [f"{e.get('type')}: {e.get('message', '').replace(ns, '<ns>')}" for e in items]


def _payloads(receiver: Receiver, prefix: str, ns: str) -> list[str]:
    lines = []
    for path, body in receiver.received:
        if path != f"/{prefix}" or not isinstance(body, dict) or body.get("namespace") != ns:
            continue
        meta = body.get("metadata") or {}
        message = str(meta.get("eventMessage", "")).replace(ns, "<ns>")
        lines.append(f"{body.get('phase')} | {meta.get('eventType')} | {message}")
    return lines


def _object_diff(go: dict[str, dict[str, Any]], py: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for key in sorted(set(go) | set(py)):
        if key not in py:
            lines.append(f"- only Flagger (Go) creates {key}")
            continue
        if key not in go:
            lines.append(f"- only ours creates {key}")
            continue
        a, b = _flatten(go[key]), _flatten(py[key])
        for path in sorted(set(a) | set(b)):
            if a.get(path, "<absent>") != b.get(path, "<absent>"):
                lines.append(
                    f"- {key} {path}: Go {json.dumps(a.get(path, '<absent>'))} / "
                    f"ours {json.dumps(b.get(path, '<absent>'))}"
                )
    return lines


def _sequence_diff(go: list[str], py: list[str]) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(go, py, "Flagger (Go)", "ours", lineterm="", n=0)
        if not line.startswith("@@")
    ]


# --- the test -----------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


def test_differential(
    cluster: devcluster.LocalCluster, tmp_path: pathlib.Path, receiver: Receiver
) -> None:
    binary = flagger_go.binary()
    common = [
        "-kubeconfig",
        str(cluster.kubeconfig),
        "-metrics-server",
        "http://127.0.0.1:9",
        "-port",
        "0",
        "-mesh-provider",
        "kubernetes",
    ]
    go = flagger_go.FlaggerGo(
        binary, [*common, "-event-webhook", f"{receiver.url}/go"], tmp_path / "go.log"
    )
    go_run = _play(cluster, "go", go.start, go.stop)
    ours = daemon_process.Daemon(
        [*common, "-event-webhook", f"{receiver.url}/py"], tmp_path / "ours.log"
    )
    py_run = _play(cluster, "py", ours.start, ours.stop)

    report = ["# Flagger (Go) 1.44 vs ours, side by side", ""]
    for name in SCENARIOS:
        go_phase, go_objects, go_events, go_status = go_run[name]
        py_phase, py_objects, py_events, py_status = py_run[name]
        payloads = (
            _payloads(receiver, "go", f"go-{name}"),
            _payloads(receiver, "py", f"py-{name}"),
        )
        report += [
            f"## {name}",
            "",
            f"final phase: Go {go_phase} / ours {py_phase}; objects "
            f"{len(go_objects)}/{len(py_objects)}, Events {len(go_events)}/{len(py_events)}, "
            f"webhook payloads {len(payloads[0])}/{len(payloads[1])} (Go/ours)",
            "",
            "### objects",
            "",
            *(_object_diff(go_objects, py_objects) or ["(identical)"]),
            "",
            "### Canary status",
            "",
            *(
                _object_diff({"Canary/podinfo": go_status}, {"Canary/podinfo": py_status})
                or ["(identical)"]
            ),
            "",
            "### Events",
            "",
            "```diff",
            *(_sequence_diff(go_events, py_events) or ["(identical)", *py_events]),
            "```",
            "",
            "### event-webhook payloads (phase | type | message)",
            "",
            "```diff",
            *(_sequence_diff(*payloads) or ["(identical)", *payloads[1]]),
            "```",
            "",
        ]
    go_phases = {n: run[0] for n, run in go_run.items()}
    py_phases = {n: run[0] for n, run in py_run.items()}
    text = "\n".join(report) + "\n"
    text = re.sub(r"\n{3,}", "\n\n", text)
    out = pathlib.Path(os.environ.get("DIFF_FLAGGER_REPORT", ROOT / "build" / "diff-flagger.md"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    # Flagger (Go) 1.44 cannot initialise a plain Service target on Kubernetes >= 1.20: it copies
    # the target's spec.clusterIPs into podinfo-canary ("spec.clusterIPs: Invalid value ... must
    # be empty when `clusterIP` is not specified"); ours copies the spec without them.
    assert go_phases == {**dict.fromkeys(SCENARIOS, "Succeeded"), "service-target": "Initializing"}
    assert py_phases == dict.fromkeys(SCENARIOS, "Succeeded"), py_phases
