"""Installing the loadtester and podinfo charts on the local control plane, as the tutorial does.

kwok makes the pods Ready, so the Deployments become Available; the Canary must be stored by our
CRD exactly as the chart rendered it (a field the schema lacked would be pruned silently).
Installing again with other values is an upgrade that keeps fields another manager owns, and
uninstall removes every object.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client
from flagger.playground import charts

pytestmark = pytest.mark.cluster

AVAILABLE_TIMEOUT = 60.0


async def wait_available(kube: kube_client.Kube, namespace: str, name: str) -> dict[str, Any]:
    """The Deployment once its Available condition is True and a replica is ready."""
    deadline = time.monotonic() + AVAILABLE_TIMEOUT
    seen: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        seen = await kube.get("apps/v1", "Deployment", name, namespace)
        status = (seen or {}).get("status") or {}
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        if conditions.get("Available") == "True" and status.get("readyReplicas", 0) >= 1:
            return seen or {}
        await asyncio.sleep(0.25)
    raise AssertionError(f"Deployment {namespace}/{name} not Available: {seen and seen['status']}")


async def test_loadtester_and_frontend_install_and_become_available(
    cluster: devcluster.LocalCluster, namespace: str
) -> None:
    frontend_values = {
        "nameOverride": "frontend",
        "backend": f"http://backend.{namespace}:9898/echo",
        "canary": {
            "loadtest": {
                "enabled": True,
                "url": f"http://flagger-loadtester.{namespace}/",
                "proxy": "http://127.0.0.1:3128",
            }
        },
    }
    kube = await kube_client.Kube.connect(str(cluster.kubeconfig))
    try:
        applied = await charts.install(
            kube, charts.chart_path("loadtester"), release="flagger-loadtester", namespace=namespace
        )
        assert charts.describe_all(applied) == [
            f"ServiceAccount {namespace}/flagger-loadtester",
            # the chart turns the loadtester's token on by default (a generated Secret)
            f"Secret {namespace}/flagger-loadtester-token",
            f"Service {namespace}/flagger-loadtester",
            f"Deployment {namespace}/flagger-loadtester",
        ]
        # A LocalCluster works as the target too (the call logs in as its admin).
        await charts.install(
            cluster,
            charts.chart_path("podinfo"),
            frontend_values,
            release="frontend",
            namespace=namespace,
        )

        service = await kube.get("v1", "Service", "flagger-loadtester", namespace)
        assert service is not None
        assert service["spec"]["ports"][0]["port"] == 80
        assert service["spec"]["ports"][0]["targetPort"] == "http"

        tester = await wait_available(kube, namespace, "flagger-loadtester")
        assert (
            tester["metadata"]["annotations"]["meta.helm.sh/release-name"] == "flagger-loadtester"
        )
        frontend = await wait_available(kube, namespace, "frontend")
        assert frontend["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"

        rendered = {
            o["kind"]: o
            for o in charts.render(
                charts.chart_path("podinfo"),
                frontend_values,
                release="frontend",
                namespace=namespace,
            )
        }
        canary = await kube.get("flagger.app/v1beta1", "Canary", "frontend", namespace)
        assert canary is not None
        assert canary["spec"] == rendered["Canary"]["spec"]
        hook = canary["spec"]["analysis"]["webhooks"][0]
        assert hook["metadata"]["cmd"].startswith("hey -x http://127.0.0.1:3128 ")
        hpa = await kube.get("autoscaling/v2", "HorizontalPodAutoscaler", "frontend", namespace)
        assert hpa is not None and hpa["spec"]["minReplicas"] == 2

        # Flagger scales the target to zero after a promotion; an upgrade must not undo it.
        await kube.patch("apps/v1", "Deployment", "frontend", namespace, {"spec": {"replicas": 0}})
        upgraded = {**frontend_values, "image": {"tag": "3.1.1"}}
        await charts.install(
            kube, charts.chart_path("podinfo"), upgraded, release="frontend", namespace=namespace
        )
        after = await kube.get("apps/v1", "Deployment", "frontend", namespace)
        assert after is not None
        assert (
            after["spec"]["template"]["spec"]["containers"][0]["image"]
            == "ghcr.io/stefanprodan/podinfo:3.1.1"
        )
        assert after["spec"]["replicas"] == 0

        gone = await charts.uninstall(
            kube, charts.chart_path("podinfo"), upgraded, release="frontend", namespace=namespace
        )
        assert gone[0] == f"Canary {namespace}/frontend"
        assert await kube.get("flagger.app/v1beta1", "Canary", "frontend", namespace) is None
        assert await kube.get("v1", "ConfigMap", "frontend", namespace) is None
        await charts.uninstall(
            cluster,
            charts.chart_path("loadtester"),
            release="flagger-loadtester",
            namespace=namespace,
        )
        assert await kube.get("v1", "Service", "flagger-loadtester", namespace) is None
    finally:
        await kube.close()
