"""Switching over from Flagger (Go) 1.44 without analysing unchanged versions again.

Flagger (Go) initialises one Canary and promotes another on the local control plane; it is
stopped and our daemon started on the same objects. No analysis starts (the revision hashes
Flagger wrote are adopted silently, because each primary already runs its target's template and
configs), and a real change afterwards (an image, a tracked ConfigMap) is detected.

Needs ``FLAGGER_GO_BIN`` (``make switchover-flagger``); skipped otherwise.
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process, flagger_go

pytestmark = pytest.mark.cluster

IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.0"


def _objects(namespace: str, name: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-env", "namespace": namespace},
            "data": {"COLOR": "blue"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}, "annotations": {"team": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": IMAGE,
                                "envFrom": [{"configMapRef": {"name": f"{name}-env"}}],
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "provider": "kubernetes",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "service": {"port": 9898},
                "analysis": {"interval": "10s", "threshold": 2, "iterations": 1},
            },
        },
    ]


def _status(cluster: devcluster.LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    out = cluster.kubectl("get", "canary", name, "-n", namespace, "-o", "json").stdout
    found: dict[str, Any] = json.loads(out).get("status") or {}
    return found


@pytest.fixture
def go_flagger(
    cluster: devcluster.LocalCluster, namespace: str, tmp_path: pathlib.Path
) -> Iterator[flagger_go.FlaggerGo]:
    started = flagger_go.FlaggerGo(
        flagger_go.binary(),
        daemon_process.run_flags(cluster.kubeconfig, namespace),
        tmp_path / "flagger-go.log",
    )
    yield started
    started.stop()


def test_switch_over_without_reanalysis(
    cluster: devcluster.LocalCluster,
    namespace: str,
    go_flagger: flagger_go.FlaggerGo,
    tmp_path: pathlib.Path,
) -> None:
    docs = _objects(namespace, "settled") + _objects(namespace, "promoted")
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    go_flagger.start()
    for name in ("settled", "promoted"):
        flagger_go.wait(
            lambda n=name: _status(cluster, namespace, n).get("phase") == "Initialized",
            90,
            f"Flagger (Go) initialises {name}",
        )
    cluster.kubectl(
        "set",
        "image",
        "deployment/promoted",
        "app=ghcr.io/stefanprodan/podinfo:6.0.1",
        "-n",
        namespace,
    )
    flagger_go.wait(
        lambda: _status(cluster, namespace, "promoted").get("phase") == "Succeeded",
        120,
        "Flagger (Go) promotes promoted",
    )
    go_flagger.stop()
    go_hashes = {
        n: _status(cluster, namespace, n)["lastAppliedSpec"] for n in ("settled", "promoted")
    }

    ours = daemon_process.Daemon(
        daemon_process.run_flags(cluster.kubeconfig, namespace),
        tmp_path / "flagger.log",
    ).start()
    try:
        for name in ("settled", "promoted"):
            adopted = flagger_go.wait(
                lambda n=name: (
                    (s := _status(cluster, namespace, n))["lastAppliedSpec"] != go_hashes[n] and s
                ),
                30,
                f"our hash adopted for {name}",
            )
            assert adopted["lastPromotedSpec"] == adopted["lastAppliedSpec"]
            assert adopted["phase"] in ("Initialized", "Succeeded")
        time.sleep(22)  # two more ticks (interval 10s): still nothing to analyse
        for name in ("settled", "promoted"):
            said = ours.messages(f"{name}.{namespace}")
            assert not [m for m in said if "New revision detected" in m or "Starting" in m], said
            assert _status(cluster, namespace, name)["phase"] in ("Initialized", "Succeeded")

        # a real change afterwards is analysed: an image, and a tracked ConfigMap
        cluster.kubectl(
            "set",
            "image",
            "deployment/settled",
            "app=ghcr.io/stefanprodan/podinfo:6.0.2",
            "-n",
            namespace,
        )
        cluster.kubectl(
            "patch",
            "configmap",
            "promoted-env",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"data":{"COLOR":"green"}}',
        )
        for name in ("settled", "promoted"):
            ours.wait_for(
                f"{name}.{namespace}",
                lambda m, n=name: f"New revision detected! Scaling up {n}.{namespace}" in m,
                30,
                f"the change of {name}",
            )
    finally:
        assert ours.stop() == 0
