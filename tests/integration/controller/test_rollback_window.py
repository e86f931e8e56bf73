"""The rollback window on the local control plane, timed against the full analysis path.

The daemon (``flagger run -mesh-provider kubernetes``) runs a Canary annotated
``flagger.app/rollback-window: "3"`` over a Deployment of two replicas (kwok runs the pods).
A new image goes through the whole analysis (blue/green, one iteration of 10s) and is
promoted; then ``kubectl rollout undo`` puts the first image back, which the window knows: it is
promoted at once. Both are timed from the change of the target to the primary serving the new
template with every replica updated and ready (and the target scaled back to zero).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process, objects

pytestmark = pytest.mark.cluster

V1, V2 = "ghcr.io/stefanprodan/podinfo:6.0.0", "ghcr.io/stefanprodan/podinfo:6.0.1"


def _objects(namespace: str) -> list[dict[str, Any]]:
    return [
        objects.podinfo_deployment(
            "podinfo", namespace, V1, replicas=2, port={"containerPort": 9898}
        ),
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {
                "name": "podinfo",
                "namespace": namespace,
                "annotations": {"flagger.app/rollback-window": "3"},
            },
            "spec": {
                "provider": "kubernetes",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "progressDeadlineSeconds": 60,
                "service": {"port": 9898},
                "analysis": {"interval": "10s", "threshold": 2, "iterations": 1},
            },
        },
    ]


@pytest.fixture
def daemon(
    cluster: devcluster.LocalCluster, namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[daemon_process.Daemon]:
    workdir = tmp_path_factory.mktemp("rollback-window")
    started = daemon_process.Daemon(
        daemon_process.run_flags(
            cluster.kubeconfig, namespace, "kubernetes", "-log-level=info", metrics_server=None
        ),
        workdir / "flagger.log",
    ).start()
    try:
        yield started
    finally:
        started.stop()


def _get(cluster: devcluster.LocalCluster, namespace: str, kind: str, name: str) -> Any:
    out = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout
    return json.loads(out)


def _serving(
    cluster: devcluster.LocalCluster, namespace: str, image: str, phase: str = "Succeeded"
) -> bool:
    """The primary runs ``image`` on every replica, all ready, and the target is at zero."""
    primary = _get(cluster, namespace, "deployment", "podinfo-primary")
    target = _get(cluster, namespace, "deployment", "podinfo")
    spec, status = primary["spec"], primary.get("status") or {}
    replicas = spec.get("replicas", 1)
    canary = _get(cluster, namespace, "canary", "podinfo").get("status") or {}
    return (
        spec["template"]["spec"]["containers"][0]["image"] == image
        and status.get("observedGeneration") == primary["metadata"]["generation"]
        and status.get("updatedReplicas") == replicas
        and status.get("readyReplicas") == replicas
        and status.get("replicas") == replicas
        and target["spec"].get("replicas") == 0
        and canary.get("phase") == phase
    )


def _time_until_serving(
    cluster: devcluster.LocalCluster,
    namespace: str,
    image: str,
    daemon: daemon_process.Daemon,
    timeout: float,
    phase: str = "Succeeded",
) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if _serving(cluster, namespace, image, phase):
            return time.monotonic() - began
        time.sleep(0.2)
    raise AssertionError(
        f"primary not serving {image} within {timeout}s; messages: "
        f"{daemon.messages(f'podinfo.{namespace}')[-12:]}"
    )


def test_fast_rollback_versus_full_analysis(
    cluster: devcluster.LocalCluster, namespace: str, daemon: daemon_process.Daemon
) -> None:
    name = f"podinfo.{namespace}"
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(_objects(namespace)))
    daemon.wait_for(name, lambda m: f"Initialization done! {name}" in m, 90, "initialization")
    _time_until_serving(cluster, namespace, V1, daemon, 60, "Initialized")
    canary = _get(cluster, namespace, "canary", "podinfo")
    first = canary["status"]["promotedRevisions"]
    assert len(first) == 1

    cluster.kubectl("-n", namespace, "set", "image", "deployment/podinfo", f"podinfo={V2}")
    full = _time_until_serving(cluster, namespace, V2, daemon, 150)
    messages = daemon.messages(name)
    assert "New revision detected! Scaling up podinfo." + namespace in messages
    assert f"Advance {name} canary iteration 1/1" in messages
    revisions = _get(cluster, namespace, "canary", "podinfo")["status"]["promotedRevisions"]
    assert revisions[0] == first[0] and len(revisions) == 2

    cluster.kubectl("-n", namespace, "rollout", "undo", "deployment/podinfo")
    fast = _time_until_serving(cluster, namespace, V1, daemon, 60)
    after = daemon.messages(name)[len(messages) :]
    assert after[:3] == [
        f"Rolling back podinfo.{namespace} to revision {first[0]} known good, skipping analysis",
        f"Copying podinfo.{namespace} template spec to podinfo-primary.{namespace}",
        f"Promotion completed! Scaling down podinfo.{namespace}",
    ], after
    assert not any("New revision detected" in m or "iteration" in m for m in after)
    status = _get(cluster, namespace, "canary", "podinfo")["status"]
    assert status["promotedRevisions"] == [revisions[1], first[0]]
    print(f"\nrollback window: full analysis path {full:.1f}s, fast rollback {fast:.1f}s")
    assert fast < full / 3
