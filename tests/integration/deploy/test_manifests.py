"""The kustomize base and overlays render with the cluster's kubectl; the chart installs.

Matrix: ``kubectl kustomize`` of the base and each overlay (istio, appmesh, nginx, gatewayapi,
linkerd, kubernetes) renders, ``flagger validate`` accepts the output (other kinds skipped with
a note), the Deployment is hardened and names the overlay's provider, the ClusterRole equals the
RBAC table for it and is bound in the overlay's namespace. The flagger chart installs on the
local control plane with default values, then upgrades with non-default ones (leader election,
PodMonitor, ServiceMonitor, the bundled Prometheus, a PodDisruptionBudget), and the API server
accepts every object.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import pytest
import yaml

from flagger import deploy_rbac
from flagger.devcluster import cluster as devcluster
from flagger.playground import charts
from tests.unit.deploy import test_chart_values

pytestmark = pytest.mark.cluster

ROOT = pathlib.Path(__file__).resolve().parents[3]
KUSTOMIZE = ROOT / "deploy" / "kustomize"
CHART = ROOT / "deploy" / "charts" / "flagger"
FLAGGER = pathlib.Path(sys.executable).parent / "flagger"


@pytest.mark.parametrize("overlay", ["base", *sorted(deploy_rbac.OVERLAYS)])
def test_kustomize_renders_and_validates(cluster: devcluster.LocalCluster, overlay: str) -> None:
    rendered = cluster.kubectl("kustomize", str(KUSTOMIZE / overlay), check=False)
    assert rendered.returncode == 0, rendered.stderr
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("CustomResourceDefinition") == 3
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"} <= set(
        kinds
    )

    checked = subprocess.run(
        [str(FLAGGER), "validate", "-"],
        input=rendered.stdout,
        text=True,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SKIP Deployment" in checked.stdout

    namespace, provider, providers = deploy_rbac.OVERLAYS.get(
        overlay, ("flagger-system", "kubernetes", ("kubernetes",))
    )
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == namespace
    pod = deployment["spec"]["template"]["spec"]
    test_chart_values.hardened(pod)
    assert f"-mesh-provider={provider}" in pod["containers"][0]["args"]
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert deploy_rbac.rendered_rules(role) == deploy_rbac.grants(providers)
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "flagger", "namespace": namespace}
    ]


async def test_chart_installs_and_upgrades(
    cluster: devcluster.LocalCluster, namespace: str
) -> None:
    name = f"flagger-{namespace}"[:63]
    base = {"fullnameOverride": name}
    try:
        applied = await charts.install(cluster, CHART, base, release="flagger", namespace=namespace)
        assert charts.describe_all(applied) == [
            f"ServiceAccount {namespace}/{name}",
            f"ClusterRole {name}",
            f"ClusterRoleBinding {name}",
            f"Service {namespace}/{name}",
            f"Deployment {namespace}/{name}",
        ]
        custom = {**test_chart_values.CUSTOM, **base, "namespace": namespace}
        upgraded = await charts.install(
            cluster, CHART, custom, release="flagger", namespace=namespace
        )
        kinds = {o["kind"] for o in upgraded}
        assert {"PodDisruptionBudget", "PodMonitor", "ServiceMonitor"} <= kinds
        stored = cluster.kubectl("get", "deployment", name, "-n", namespace, "-o", "yaml").stdout
        deployment = yaml.safe_load(stored)
        assert deployment["spec"]["replicas"] == 2
        test_chart_values.hardened(deployment["spec"]["template"]["spec"])
    finally:
        await charts.uninstall(
            cluster,
            CHART,
            {**test_chart_values.CUSTOM, **base},
            release="flagger",
            namespace=namespace,
        )


def test_kustomize_sharding_overlay(cluster: devcluster.LocalCluster) -> None:
    """deploy/kustomize/sharding: the kubernetes overlay's objects once, plus one Deployment per
    shard acting on its own selector, none selecting another's pods."""
    rendered = cluster.kubectl("kustomize", str(KUSTOMIZE / "sharding"), check=False)
    assert rendered.returncode == 0, rendered.stderr
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    plain = cluster.kubectl("kustomize", str(KUSTOMIZE / "kubernetes")).stdout
    shared = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(plain) if d}
    found = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert sorted(found) == sorted(
        {*shared, ("Deployment", "flagger-shard1"), ("Deployment", "flagger-shard2")}
    )
    selectors, pod_labels = {}, {}
    for d in docs:
        if d["kind"] != "Deployment":
            continue
        pod = d["spec"]["template"]
        test_chart_values.hardened(pod["spec"])
        assert pod["spec"]["serviceAccountName"] == "flagger"
        args = pod["spec"]["containers"][0]["args"]
        assert "-mesh-provider=kubernetes" in args
        (selectors[d["metadata"]["name"]],) = [
            a for a in args if a.startswith("-watch-label-selector=")
        ]
        pod_labels[d["metadata"]["name"]] = (d["spec"]["selector"], pod["metadata"]["labels"])
    assert selectors == {
        "flagger": "-watch-label-selector=!sharding.fluxcd.io/key",
        "flagger-shard1": "-watch-label-selector=sharding.fluxcd.io/key=shard1",
        "flagger-shard2": "-watch-label-selector=sharding.fluxcd.io/key=shard2",
    }
    for name, (selector, _) in pod_labels.items():
        match = selector["matchLabels"].items()
        assert [n for n, (_, labels) in pod_labels.items() if match <= labels.items()] == [name]
