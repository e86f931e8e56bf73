"""A canary analysis that touches every permission in the daemon's role, for the audit-log tests.

In one namespace: a Deployment ``app`` with an HPA, a tracked ConfigMap and Secret, analysed with
a webhook, a MetricTemplate (with a ``secretRef``) against a real Prometheus and an AlertProvider
(with a ``secretRef``) receiving the alerts, ``revertOnDeletion`` and a user-made apex Service
(taken over, then given back), a traffic policy changed on the way; a DaemonSet ``agent``; a
StatefulSet ``store`` (the StatefulSet extension); and a
``ghost`` Canary whose target is missing, so its Warning repeats (a repeated event is patched).
:func:`run_to_promotion` drives both to promotion, changes the HPA so its primary copy is
updated, and deletes ``app`` so the Canary gives its target back.
"""

from __future__ import annotations

import base64
import json
import pathlib
from collections.abc import Callable
from typing import Any

import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import polling

IMAGE = "ghcr.io/stefanprodan/podinfo"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def objects(
    namespace: str, provider: str, prometheus_url: str, receiver_url: str
) -> list[dict[str, Any]]:
    """Every object of the scenario, ready for ``kubectl apply``."""
    ns = namespace
    labels = {"app": "app"}
    container = {
        "name": "app",
        "image": f"{IMAGE}:6.0.0",
        "envFrom": [
            {"configMapRef": {"name": "app-config"}},
            {"secretRef": {"name": "app-secret"}},
        ],
    }
    analysis: dict[str, Any] = {
        "interval": "10s",
        "threshold": 2,
        "iterations": 2,
        "metrics": [
            {
                "name": "probe",
                "interval": "1m",
                "thresholdRange": {"min": 0.5},
                "templateRef": {"name": "probe"},
            }
        ],
        "webhooks": [{"name": "check", "url": f"{receiver_url}/check", "timeout": "5s"}],
        "alerts": [{"name": "on-call", "severity": "info", "providerRef": {"name": "on-call"}}],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app-config", "namespace": ns},
            "data": {"COLOR": "blue"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "app-secret", "namespace": ns},
            "data": {"TOKEN": _b64("one")},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "prom-auth", "namespace": ns},
            "data": {"username": _b64("flagger"), "password": _b64("s3cret")},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "on-call", "namespace": ns},
            "data": {"address": _b64(f"{receiver_url}/slack")},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "app", "namespace": ns},
            "spec": {"selector": labels, "ports": [{"port": 9898}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "app", "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "app", "namespace": ns},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
                "minReplicas": 1,
                "maxReplicas": 2,
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
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "MetricTemplate",
            "metadata": {"name": "probe", "namespace": ns},
            "spec": {
                "provider": {
                    "type": "prometheus",
                    "address": prometheus_url,
                    "secretRef": {"name": "prom-auth"},
                },
                "query": "vector(1)",
            },
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "AlertProvider",
            "metadata": {"name": "on-call", "namespace": ns},
            "spec": {"type": "slack", "channel": "general", "secretRef": {"name": "on-call"}},
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "app", "namespace": ns},
            "spec": {
                "provider": provider,
                "revertOnDeletion": True,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
                "autoscalerRef": {
                    "apiVersion": "autoscaling/v2",
                    "kind": "HorizontalPodAutoscaler",
                    "name": "app",
                },
                "service": {"port": 9898},
                "skipAnalysis": False,
                "analysis": analysis,
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": ns, "labels": {"app": "agent"}},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "agent", "image": f"{IMAGE}:6.0.0"}]},
                },
            },
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "agent", "namespace": ns},
            "spec": {
                "provider": provider,
                "targetRef": {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent"},
                "service": {"port": 9898},
                "skipAnalysis": False,
                "analysis": {
                    "interval": "10s",
                    "threshold": 2,
                    "iterations": 1,
                    "webhooks": [{"name": "check", "url": f"{receiver_url}/check"}],
                },
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "store", "namespace": ns, "labels": {"app": "store"}},
            "spec": {
                "replicas": 1,
                "serviceName": "store",
                "selector": {"matchLabels": {"app": "store"}},
                "template": {
                    "metadata": {"labels": {"app": "store"}},
                    "spec": {"containers": [{"name": "store", "image": f"{IMAGE}:6.0.0"}]},
                },
            },
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "store", "namespace": ns},
            "spec": {
                "provider": provider,
                "targetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "store"},
                "service": {"port": 9898},
                "analysis": {"interval": "10s", "threshold": 2, "iterations": 1},
            },
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "ghost", "namespace": ns},
            "spec": {
                "provider": provider,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ghost"},
                "service": {"port": 9898},
                "analysis": {"interval": "10s", "threshold": 1, "iterations": 1},
            },
        },
    ]


def status(cluster: devcluster.LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    """The Canary's status (empty when it has none or is gone)."""
    done = cluster.kubectl("get", "canary", name, "-n", namespace, "-o", "json", check=False)
    if done.returncode != 0:
        return {}
    found: dict[str, Any] = json.loads(done.stdout).get("status") or {}
    return found


#: Poll until a predicate holds (:func:`tests.support.polling.wait`).
wait = polling.wait


def phase_is(
    cluster: devcluster.LocalCluster, namespace: str, name: str, phase: str
) -> Callable[[], bool]:
    return lambda: status(cluster, namespace, name).get("phase") == phase


def run_to_promotion(
    cluster: devcluster.LocalCluster,
    namespace: str,
    diagnose: Callable[[], str] = lambda: "",
    *,
    touch_template: bool = False,
) -> None:
    """Initialise both Canaries, change the app's ConfigMap, Secret and HPA, wait for its
    promotion, then delete the ``app`` Canary and wait for it to be gone. With
    ``touch_template`` the pod template changes too (without config tracking, a config change
    alone starts no analysis).

    The ``agent`` DaemonSet and the ``store`` StatefulSet only need their primary created and
    their target scaled down (some
    daemon versions see the scale-down as a new revision and analyse it: both are fine).
    """
    wait(phase_is(cluster, namespace, "app", "Initialized"), 90, "app Initialized", diagnose)
    wait(
        lambda: (
            status(cluster, namespace, "agent").get("phase")
            in ("Initialized", "Progressing", "Promoting", "Finalising", "Succeeded")
        ),
        90,
        "agent Initialized",
        diagnose,
    )
    wait(
        lambda: (
            status(cluster, namespace, "store").get("phase")
            in ("Initialized", "Progressing", "Promoting", "Finalising", "Succeeded")
        ),
        90,
        "store Initialized",
        diagnose,
    )
    traffic = {"spec": {"service": {"port": 9898, "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}}
    cluster.kubectl(
        "patch", "canary", "app", "-n", namespace, "--type=merge", "-p", json.dumps(traffic)
    )
    cluster.kubectl(
        "patch",
        "configmap",
        "app-config",
        "-n",
        namespace,
        "-p",
        json.dumps({"data": {"COLOR": "green"}}),
    )
    cluster.kubectl(
        "patch",
        "secret",
        "app-secret",
        "-n",
        namespace,
        "-p",
        json.dumps({"data": {"TOKEN": _b64("two")}}),
    )
    cluster.kubectl(
        "patch", "hpa", "app", "-n", namespace, "-p", json.dumps({"spec": {"maxReplicas": 3}})
    )
    if touch_template:
        template = {"spec": {"template": {"metadata": {"annotations": {"revision": "2"}}}}}
        cluster.kubectl("patch", "deployment", "app", "-n", namespace, "-p", json.dumps(template))
    wait(phase_is(cluster, namespace, "app", "Succeeded"), 180, "app Succeeded", diagnose)
    cluster.kubectl("delete", "canary", "app", "-n", namespace, "--wait=false")
    wait(
        lambda: (
            cluster.kubectl("get", "canary", "app", "-n", namespace, check=False).returncode != 0
        ),
        60,
        "the app Canary's deletion",
        diagnose,
    )


def apply(cluster: devcluster.LocalCluster, docs: list[dict[str, Any]]) -> None:
    """``kubectl apply`` as the admin; fail with kubectl's message."""
    done = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs), check=False)
    assert done.returncode == 0, done.stderr


def install_crds(cluster: devcluster.LocalCluster, *paths: pathlib.Path) -> None:
    """Server-side apply CRD files and wait until every CRD in them is Established."""
    names: list[str] = []
    for path in paths:
        cluster.kubectl("apply", "--server-side", "-f", str(path))
        names += [
            d["metadata"]["name"]
            for d in yaml.safe_load_all(path.read_text())
            if d and d.get("kind") == "CustomResourceDefinition"
        ]
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in names)
    )
