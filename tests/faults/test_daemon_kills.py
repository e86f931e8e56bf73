"""(a) SIGKILL the daemon at random moments of blue/green rollouts on the local control plane.

Each rollout of ``podinfo`` (provider kubernetes, 4 iterations every 10 s, a rollout webhook)
must advance every iteration exactly once (one ``Advance ... iteration N/4`` Event each), send
one distinct ``Idempotency-Key`` per check (a retry after a kill may repeat a key, never use a
new one for a step already done), and never check twice within ``analysis.interval``: the time
of the last check is kept in ``status.lastCheckTime``, so a restarted daemon waits for it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.faults import conftest as faults
from tests.support import daemon_process, http_receiver

pytestmark = pytest.mark.cluster

NS = "faults-kill"
INTERVAL = 10.0
ITERATIONS = 4
ROLLOUTS = 5 if faults.LONG else 1
KILLS_PER_ROLLOUT = 4 if faults.LONG else 2


def _objects(hooks: str, ns: str = NS) -> list[dict[str, Any]]:
    labels = {"app": "podinfo"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "podinfo",
                                "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                                "ports": [{"name": "http", "containerPort": 9898}],
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": ns},
            "spec": {
                "provider": "kubernetes",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "progressDeadlineSeconds": 300,
                "service": {"port": 9898},
                "analysis": {
                    "interval": f"{int(INTERVAL)}s",
                    "threshold": 3,
                    "iterations": ITERATIONS,
                    "webhooks": [{"name": "check", "url": f"{hooks}/check", "timeout": "5s"}],
                },
            },
        },
    ]


@pytest.fixture(scope="module")
def world(
    cluster: devcluster.LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[http_receiver.Receiver, daemon_process.Daemon]]:
    workdir = tmp_path_factory.mktemp("faults-kill")
    cluster.kubectl("create", "namespace", NS)
    hooks = http_receiver.Receiver().start()
    daemon = daemon_process.Daemon(
        ["-kubeconfig", str(cluster.kubeconfig), "-mesh-provider", "kubernetes", "-port", "0"],
        workdir / "flagger.log",
    ).start()
    try:
        yield hooks, daemon
    finally:
        daemon.stop()
        hooks.stop()
        cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def _phase(cluster: devcluster.LocalCluster, ns: str = NS) -> str:
    out = cluster.kubectl("get", "canary", "podinfo", "-n", ns, "-o", "json", check=False).stdout
    return str((json.loads(out or "{}").get("status") or {}).get("phase") or "")


def _wait(cluster: devcluster.LocalCluster, phases: set[str], timeout: float, ns: str = NS) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        phase = _phase(cluster, ns)
        if phase in phases:
            return phase
        time.sleep(0.5)
    raise AssertionError(f"phase {_phase(cluster, ns)!r}, waited {timeout:.0f}s for {phases}")


def _event_counts(cluster: devcluster.LocalCluster, ns: str = NS) -> dict[str, int]:
    items = json.loads(
        cluster.kubectl(
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "involvedObject.kind=Canary",
            "-o",
            "json",
        ).stdout
    )["items"]
    counts: dict[str, int] = {}
    for event in items:
        counts[event["message"]] = counts.get(event["message"], 0) + int(event.get("count") or 1)
    return counts


def test_sigkill_during_rollouts_neither_repeats_nor_skips_a_step(
    cluster: devcluster.LocalCluster, world: tuple[http_receiver.Receiver, daemon_process.Daemon]
) -> None:
    hooks, daemon = world
    rng = random.Random(12)
    row = faults.Row("(a) SIGKILL the daemon mid-rollout")
    faults.ROWS.append(row)
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(_objects(hooks.url)))
    _wait(cluster, {"Initialized"}, 180)
    for rollout in range(1, ROLLOUTS + 1):
        before = len(hooks.requests)
        cluster.kubectl("set", "env", "deployment/podinfo", f"ROLLOUT={rollout}", "-n", NS)
        _wait(cluster, {"Progressing"}, 120)
        for _ in range(KILLS_PER_ROLLOUT):
            time.sleep(rng.uniform(1.0, INTERVAL))
            daemon.kill()
            down = rng.uniform(0.2, 3.0)
            time.sleep(down)
            daemon.start()
            row.cases += 1
            row.seconds_blind += down
        phase = _wait(cluster, {"Succeeded", "Failed"}, 300)
        calls = hooks.requests[before:]
        keys = [r.headers.get("Idempotency-Key", "") for r in calls if r.path == "/check"]
        counts = _event_counts(cluster)
        steps = [
            counts.get(f"Advance podinfo.{NS} canary iteration {i}/{ITERATIONS}", 0)
            for i in range(1, ITERATIONS + 1)
        ]
        wrong = sum(abs(n - 1) for n in steps)
        row.duplicated_or_skipped += wrong
        if phase != "Succeeded" or wrong:
            row.failures += 1
        assert phase == "Succeeded", daemon.messages(f"podinfo.{NS}")[-20:]
        assert wrong == 0, (steps, counts)
        assert all(keys), "every check carries an Idempotency-Key"
        assert len(set(keys)) >= ITERATIONS, keys
        cluster.kubectl("delete", "events", "--all", "-n", NS)
