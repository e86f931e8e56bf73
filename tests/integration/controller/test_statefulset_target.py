"""A StatefulSet target on the local control plane: promotion and rollback, with PVCs.

The daemon (``-mesh-provider kubernetes``) runs a Canary on StatefulSet ``db`` (2 replicas,
``serviceName: db``, a ``data`` volume claim template, the default retention policy). The
control plane has no storage provisioner, so the test makes the PersistentVolumes itself, each
pre-bound by ``claimRef`` to the claim name the StatefulSet controller will use; the PV
controller binds them and kwok runs the pods. Checked, with the names of real objects:

- initialization: ``db-primary`` has ``serviceName: db-primary`` and its own claims
  ``data-db-primary-0/1``; ``db`` is scaled to zero and its claims ``data-db-0/1`` are kept
  (``whenScaled: Retain``);
- a new image is promoted (``skipAnalysis``, which copies the template as an analysis does):
  ``db-primary`` runs it, its claims are the same objects (same UIDs) as before, the canary's
  claims are still there;
- an image whose rollout check fails is rolled back: ``db-primary`` keeps the promoted image,
  ``db`` is at zero, every claim is still there and bound.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process

pytestmark = pytest.mark.cluster

IMAGE = "ghcr.io/stefanprodan/podinfo:{}"
CLAIMS = ("data-db-0", "data-db-1", "data-db-primary-0", "data-db-primary-1")


def _objects(namespace: str, hook: str) -> list[dict[str, Any]]:
    pvs = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{namespace}-{claim}"[:63]},
            "spec": {
                "capacity": {"storage": "1Mi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "manual",
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": f"/tmp/{namespace}/{claim}"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        }
        for claim in CLAIMS
    ]
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "containers": [
                        {
                            "name": "db",
                            "image": IMAGE.format("6.0.0"),
                            "ports": [{"containerPort": 9898}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "manual",
                        "resources": {"requests": {"storage": "1Mi"}},
                    },
                }
            ],
        },
    }
    canary = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "db", "namespace": namespace},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"},
            "progressDeadlineSeconds": 60,
            "service": {"port": 9898},
            "analysis": {
                "interval": "10s",
                "threshold": 1,
                "iterations": 1,
                "webhooks": [{"name": "check", "url": hook, "timeout": "2s"}],
            },
        },
    }
    return [*pvs, statefulset, canary]


@pytest.fixture
def daemon(
    cluster: devcluster.LocalCluster, namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[daemon_process.Daemon]:
    started = daemon_process.Daemon(
        daemon_process.run_flags(
            cluster.kubeconfig, namespace, "kubernetes", "-log-level=info", metrics_server=None
        ),
        tmp_path_factory.mktemp("statefulset") / "flagger.log",
    ).start()
    try:
        yield started
    finally:
        started.stop()
        pvs = [f"pv/{namespace}-{claim}"[:66] for claim in CLAIMS]
        cluster.kubectl("delete", *pvs, "--wait=false", check=False)


def _get(cluster: devcluster.LocalCluster, namespace: str, kind: str, name: str) -> Any:
    return json.loads(cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)


def _claims(cluster: devcluster.LocalCluster, namespace: str) -> dict[str, tuple[str, str]]:
    found = json.loads(cluster.kubectl("get", "pvc", "-n", namespace, "-o", "json").stdout)
    return {
        item["metadata"]["name"]: (item["metadata"]["uid"], item["status"].get("phase", ""))
        for item in found["items"]
    }


def _image(obj: dict[str, Any]) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def test_statefulset_promotion_and_rollback_keep_separate_claims(
    cluster: devcluster.LocalCluster, namespace: str, daemon: daemon_process.Daemon
) -> None:
    name = f"db.{namespace}"
    # the third release's rollout check calls an address that refuses connections
    closed = "http://127.0.0.1:9/"
    docs = _objects(namespace, closed)
    docs[-1]["spec"]["analysis"]["webhooks"] = []
    # the first release is promoted without an analysis (skipAnalysis) to keep the test short:
    # the promotion copies the template as it does after an analysis
    docs[-1]["spec"]["skipAnalysis"] = True
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    daemon.wait_for(name, lambda m: f"Initialization done! {name}" in m, 120, "initialization")
    primary = _get(cluster, namespace, "statefulset", "db-primary")
    assert primary["spec"]["serviceName"] == "db-primary"
    assert primary["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    daemon.wait_for(
        name,
        lambda m: (
            _get(cluster, namespace, "statefulset", "db-primary")
            .get("status", {})
            .get("readyReplicas")
            == 2
        ),
        60,
        "primary ready",
    )
    before = _claims(cluster, namespace)
    assert set(before) == set(CLAIMS), before  # the canary's claims are kept at zero replicas
    assert all(phase == "Bound" for _, phase in before.values()), before
    assert _get(cluster, namespace, "statefulset", "db")["spec"]["replicas"] == 0

    cluster.kubectl(
        "-n", namespace, "set", "image", "statefulset/db", f"db={IMAGE.format('6.0.1')}"
    )
    daemon.wait_for(
        name,
        lambda m: f"Promotion completed! Canary analysis was skipped for {name}" in m,
        90,
        "promotion",
    )
    assert _image(_get(cluster, namespace, "statefulset", "db-primary")) == IMAGE.format("6.0.1")
    after = _claims(cluster, namespace)
    assert after == before  # same claims, same UIDs: the primary's data stayed with it

    docs[-1]["spec"]["analysis"]["webhooks"] = [{"name": "check", "url": closed, "timeout": "2s"}]
    docs[-1]["spec"]["skipAnalysis"] = False
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(docs[-1]))
    cluster.kubectl(
        "-n", namespace, "set", "image", "statefulset/db", f"db={IMAGE.format('6.0.2')}"
    )
    daemon.wait_for(name, lambda m: f"Canary failed! Scaling down {name}" in m, 150, "rollback")
    assert _image(_get(cluster, namespace, "statefulset", "db-primary")) == IMAGE.format("6.0.1")
    daemon.wait_for(
        name,
        lambda m: _get(cluster, namespace, "statefulset", "db")["spec"]["replicas"] == 0,
        30,
        "canary at zero",
    )
    assert _claims(cluster, namespace) == before
