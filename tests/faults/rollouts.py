"""Blue/green rollouts of ``podinfo`` on the local control plane, shared by the fault scenarios
that run the daemon for real: the objects, waiting for a phase, and what each step left behind
(``Advance ... iteration N/M`` Events, rollout-hook calls with their ``Idempotency-Key``)."""

from __future__ import annotations

import contextlib
import json
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process, http_receiver, objects

NAME = "podinfo"
#: The rollout hook's path on the test's receiver: called once per check of the analysis (every
#: tick after the first of a rollout, which advances iteration 1 after the pre-rollout hook).
CHECK = "/check"
#: The pre-rollout hook's path: called on the tick that starts the analysis.
PRE = "/pre"


def canary_objects(
    hooks: str, ns: str, *, interval: float = 10.0, iterations: int = 4
) -> list[dict[str, Any]]:
    """``podinfo`` and its Canary: provider kubernetes, ``iterations`` iterations every
    ``interval`` seconds (10 s at least), a pre-rollout hook at ``hooks + PRE`` and a rollout
    hook at ``hooks + CHECK``."""
    return [
        objects.podinfo_deployment(NAME, ns),
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": NAME, "namespace": ns},
            "spec": {
                "provider": "kubernetes",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
                "progressDeadlineSeconds": 300,
                "service": {"port": 9898},
                "analysis": {
                    "interval": f"{int(interval)}s",
                    "threshold": 3,
                    "iterations": iterations,
                    "webhooks": [
                        {"name": "pre", "type": "pre-rollout", "url": f"{hooks}{PRE}"},
                        {"name": "check", "url": f"{hooks}{CHECK}", "timeout": "5s"},
                    ],
                },
            },
        },
    ]


def daemon(kubeconfig: pathlib.Path, log: pathlib.Path) -> daemon_process.Daemon:
    """``flagger run`` for the kubernetes provider with ``kubeconfig`` (not started yet)."""
    return daemon_process.Daemon(
        ["-kubeconfig", str(kubeconfig), "-mesh-provider", "kubernetes", "-port", "0"], log
    )


@contextlib.contextmanager
def world(
    cluster: devcluster.LocalCluster, ns: str, workdir: pathlib.Path
) -> Iterator[tuple[http_receiver.Receiver, daemon_process.Daemon]]:
    """Namespace ``ns``, a hook receiver and a started daemon logging into ``workdir``; all
    stopped (and the namespace deleted) afterwards."""
    cluster.kubectl("create", "namespace", ns)
    hooks = http_receiver.Receiver().start()
    started = daemon(cluster.kubeconfig, workdir / "flagger.log").start()
    try:
        yield hooks, started
    finally:
        started.stop()
        hooks.stop()
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def apply(cluster: devcluster.LocalCluster, docs: list[dict[str, Any]]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def status(cluster: devcluster.LocalCluster, ns: str, name: str = NAME) -> dict[str, Any]:
    out = cluster.kubectl("get", "canary", name, "-n", ns, "-o", "json", check=False).stdout
    return dict(json.loads(out or "{}").get("status") or {})


def phase(cluster: devcluster.LocalCluster, ns: str) -> str:
    return str(status(cluster, ns).get("phase") or "")


def wait(cluster: devcluster.LocalCluster, phases: set[str], timeout: float, ns: str) -> str:
    """Poll the Canary until its phase is one of ``phases``; that phase."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = phase(cluster, ns)
        if found in phases:
            return found
        time.sleep(0.3)
    raise AssertionError(f"phase {phase(cluster, ns)!r}, waited {timeout:.0f}s for {phases}")


def start_rollout(cluster: devcluster.LocalCluster, ns: str, rollout: int) -> None:
    """A new revision of ``podinfo`` (as ``kubectl set env`` makes one)."""
    cluster.kubectl("set", "env", f"deployment/{NAME}", f"ROLLOUT={rollout}", "-n", ns)


def event_counts(cluster: devcluster.LocalCluster, ns: str) -> dict[str, int]:
    """Each Canary Event message in ``ns`` with its count (the recorder aggregates repeats)."""
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


def steps(
    counts: dict[str, int], ns: str, iterations: int, before: dict[str, int] | None = None
) -> list[int]:
    """How many times each iteration advanced (``Advance`` Events, minus those in ``before``)."""
    before = before or {}
    messages = [
        f"Advance {NAME}.{ns} canary iteration {i}/{iterations}" for i in range(1, iterations + 1)
    ]
    return [counts.get(m, 0) - before.get(m, 0) for m in messages]


def wrong(advances: list[int]) -> int:
    """Duplicated or skipped steps: each iteration must advance exactly once."""
    return sum(abs(n - 1) for n in advances)


def checks(requests: list[http_receiver.Request], path: str = CHECK) -> list[http_receiver.Request]:
    """The first call of each check to ``path`` (by ``Idempotency-Key``), in order: a retry of
    the same check repeats its key, a new check sends a new one."""
    seen: set[str] = set()
    first = []
    for request in requests:
        key = request.headers.get("Idempotency-Key", "")
        if request.path == path and key not in seen:
            seen.add(key)
            first.append(request)
    return first


def wait_check(
    hooks: http_receiver.Receiver, since: int, nth: int, timeout: float, path: str = CHECK
) -> http_receiver.Request:
    """The ``nth`` (from 1) check to ``path`` among the requests after the first ``since``,
    once it arrived."""
    deadline = time.monotonic() + timeout
    while len(found := checks(hooks.requests[since:], path)) < nth:
        assert time.monotonic() < deadline, f"check {nth} to {path} not made in {timeout:.0f}s"
        time.sleep(0.05)
    return found[nth - 1]


def advanced(
    cluster: devcluster.LocalCluster, ns: str, iterations: int, timeout: float, *, total: int
) -> None:
    """Wait until the Canary's status counts ``iterations`` (of ``total``) and that iteration's
    Advance Event is written (there is none for the count after the last)."""
    deadline = time.monotonic() + timeout
    message = f"Advance {NAME}.{ns} canary iteration {iterations}/{total}"
    while (status(cluster, ns).get("iterations") or 0) < iterations or (
        iterations <= total and message not in event_counts(cluster, ns)
    ):
        assert time.monotonic() < deadline, f"iteration {iterations} not reached in {timeout}s"
        time.sleep(0.3)


def judge(
    cluster: devcluster.LocalCluster,
    hooks: http_receiver.Receiver,
    ns: str,
    iterations: int,
    since: tuple[dict[str, int], int],
    completed: bool,
) -> tuple[int, str]:
    """Duplicated or skipped steps of the rollout begun at ``since`` (Event counts, requests
    received), whole (``completed``) or so far, and what was seen.

    Each iteration reached advanced once and none beyond; the pre-rollout hook was called with
    one key (a retry repeats it); the rollout hook with one key per tick after the first: each
    counts one more iteration in the status (after the last, Flagger's blue/green counts one
    more without an Event), and the next promotes."""
    before, seen = since
    calls = checks(hooks.requests[seen:])
    starts = checks(hooks.requests[seen:], PRE)
    advances = steps(event_counts(cluster, ns), ns, iterations, before)
    reached = iterations + 1 if completed else int(status(cluster, ns).get("iterations") or 0)
    bad = wrong(advances[:reached]) + sum(advances[reached:])
    bad += abs(len(starts) - 1) + abs(len(calls) - (reached - 1 + completed))
    keys = [c.headers.get("Idempotency-Key", "") for c in calls]
    return bad, f"advances {advances}, iteration {reached}, {len(starts)} pre keys, checks {keys}"


def since(
    cluster: devcluster.LocalCluster, hooks: http_receiver.Receiver, ns: str
) -> tuple[dict[str, int], int]:
    """Where a rollout begins, for :func:`judge`: Event counts and requests so far."""
    return event_counts(cluster, ns), len(hooks.requests)
