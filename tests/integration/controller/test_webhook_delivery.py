"""Webhook delivery on the local control plane: secrets never printed, and idempotency keys.

- A rollout that fails on its pre-rollout hook, with a token (``?token=``, ``user:token@``) in
  every URL the daemon knows: the hooks, the ``-event-webhook``, the AlertProvider's address and
  a MetricTemplate's Prometheus address. Every Event, every daemon log line, the Canary's status
  and every payload sent out (hooks, event webhook, alerts) is searched for the token: 0 hits,
  while the redacted URLs (``token=xxxxx``) show that they were printed.
- The daemon is SIGKILLed while it waits on a slow rollout hook, after the real loadtester
  already started the step's load test: the step runs again with the same idempotency key, the
  loadtester does not start the command again, and the distinct keys equal the steps. This one
  takes about three minutes (ten-second ticks): it runs with ``FLAGGER_LONG_TESTS=1``
  (``make idempotency``), the token test in every ``make test``.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.integration.webhooks.conftest import Loadtester
from tests.support import daemon_process, http_receiver, objects

pytestmark = pytest.mark.cluster

TOKEN = "tok-9f3c2a7e51"
IMAGE = "ghcr.io/stefanprodan/podinfo"


def _deployment(namespace: str, tag: str) -> dict[str, Any]:
    return objects.podinfo_deployment("podinfo", namespace, f"{IMAGE}:{tag}")


def _canary(namespace: str, analysis: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": 120,
            "service": {"port": 9898, "targetPort": 9898},
            "analysis": {"interval": "10s", **analysis},
        },
    }


def _apply(cluster: devcluster.LocalCluster, docs: list[dict[str, Any]]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def _events(cluster: devcluster.LocalCluster, namespace: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


@pytest.fixture
def receiver() -> Iterator[http_receiver.Receiver]:
    server = http_receiver.Receiver().start()
    try:
        yield server
    finally:
        server.stop()


def _daemon(
    cluster: devcluster.LocalCluster, namespace: str, log: pathlib.Path, *flags: str
) -> daemon_process.Daemon:
    return daemon_process.Daemon(
        daemon_process.run_flags(
            cluster.kubeconfig,
            namespace,
            "kubernetes",
            "-log-level=info",
            *flags,
            metrics_server=None,
        ),
        log,
    ).start()


def test_a_failing_rollout_never_prints_the_token(
    cluster: devcluster.LocalCluster,
    namespace: str,
    receiver: http_receiver.Receiver,
    tmp_path: pathlib.Path,
) -> None:
    base = receiver.url
    with_userinfo = base.replace("http://", f"http://ci:{TOKEN}@")
    receiver.answers["/pre"] = 500
    receiver.bodies["/pre"] = f"acceptance failed, see {base}/pre?token={TOKEN}&run=1"
    receiver.answers["/slack"] = 500
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "AlertProvider",
            "metadata": {"name": "on-call", "namespace": namespace},
            "spec": {"type": "slack", "address": f"{base}/slack?token={TOKEN}"},
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "MetricTemplate",
            "metadata": {"name": "errors", "namespace": namespace},
            "spec": {
                "provider": {
                    "type": "prometheus",
                    "address": f"http://admin:{TOKEN}@127.0.0.1:9/?api_key={TOKEN}",
                },
                "query": "vector(0)",
            },
        },
        _deployment(namespace, "6.0.0"),
        _canary(
            namespace,
            {
                "threshold": 1,
                "iterations": 2,
                "alerts": [{"name": "on-call", "providerRef": {"name": "on-call"}}],
                "metrics": [
                    {
                        "name": "errors",
                        "templateRef": {"name": "errors"},
                        "thresholdRange": {"max": 1},
                    }
                ],
                "webhooks": [
                    {
                        "name": "acceptance",
                        "type": "pre-rollout",
                        "url": f"{base}/pre?token={TOKEN}",
                        "timeout": "5s",
                    },
                    {
                        "name": "load",
                        "url": f"{with_userinfo}/load?access_token={TOKEN}",
                        "timeout": "5s",
                    },
                ],
            },
        ),
    ]
    daemon = _daemon(
        cluster,
        namespace,
        tmp_path / "flagger.log",
        "-event-webhook",
        f"{base}/events?token={TOKEN}",
    )
    try:
        _apply(cluster, docs)
        daemon.wait_phase(cluster, f"podinfo.{namespace}", "Initialized", 60)
        cluster.kubectl(
            "set", "image", "deployment/podinfo", f"podinfo={IMAGE}:6.0.1", "-n", namespace
        )
        daemon.wait_phase(cluster, f"podinfo.{namespace}", "Failed", 90)
        deadline = time.monotonic() + 15  # the alert and event deliveries of the rollback
        while time.monotonic() < deadline and "/slack" not in receiver.paths():
            time.sleep(0.2)
    finally:
        daemon.stop()

    log_text = (tmp_path / "flagger.log").read_text(errors="replace")
    events = _events(cluster, namespace)
    events_text = json.dumps(events)
    canary = json.loads(
        cluster.kubectl("get", "canary", "podinfo", "-n", namespace, "-o", "json").stdout
    )
    status_text = json.dumps(canary.get("status"))  # the spec holds the URLs the user wrote
    sent = [request.raw.decode(errors="replace") for request in receiver.requests]
    outgoing = list(zip(receiver.requests, sent, strict=True))
    places = {
        "daemon log": log_text,
        "Events": events_text,
        "Canary status": status_text,
        **{f"payload {i} to {r.path}": text for i, (r, text) in enumerate(outgoing)},
    }
    leaks = {where: text.count(TOKEN) for where, text in places.items() if TOKEN in text}
    assert not leaks, f"the token leaked: {leaks}"
    # the URLs were printed, redacted: the test looked where they go
    halted = [e["message"] for e in events if "pre-rollout check acceptance failed" in e["message"]]
    assert halted and "token=xxxxx" in halted[0], halted
    assert "token=xxxxx" in log_text
    assert any("token=xxxxx" in text for r, text in outgoing if r.path == "/events")
    assert "/slack" in receiver.paths(), "an alert was sent"
    assert len(log_text.splitlines()) >= 10 and len(events) >= 3 and len(sent) >= 5


@pytest.mark.long  # about 3 minutes: make long, or make idempotency
def test_sigkill_during_a_hook_repeats_the_key_and_the_loadtester_runs_once(
    cluster: devcluster.LocalCluster,
    namespace: str,
    receiver: http_receiver.Receiver,
    tmp_path: pathlib.Path,
) -> None:
    """Kill the daemon while it waits on the slow hook that follows the loadtester's; after
    each kill the step is retried with the same key and the loadtester skips the command."""
    runs = tmp_path / "runs"
    loadtester = Loadtester(
        ["-gates-file", str(tmp_path / "gates.json")], tmp_path / "loadtester.log"
    )
    asyncio.run(loadtester.start())
    receiver.delays["/slow"] = 4.0
    hooks = [
        {
            "name": "load",
            "url": f"{loadtester.url}/",
            "timeout": "5s",
            "metadata": {"cmd": f"{sys.executable} -c \"open('{runs}', 'a').write('run\\n')\""},
        },
        {"name": "slow", "url": f"{receiver.url}/slow", "timeout": "10s"},
    ]
    pre = [{**hook, "type": "pre-rollout", "name": f"pre-{hook['name']}"} for hook in hooks]
    log = tmp_path / "flagger.log"
    daemon = _daemon(cluster, namespace, log)
    kills = 0
    try:
        _apply(
            cluster,
            [
                _deployment(namespace, "6.0.0"),
                _canary(namespace, {"threshold": 5, "iterations": 2, "webhooks": pre + hooks}),
            ],
        )
        daemon.wait_phase(cluster, f"podinfo.{namespace}", "Initialized", 60)
        cluster.kubectl(
            "set", "image", "deployment/podinfo", f"podinfo={IMAGE}:6.0.1", "-n", namespace
        )
        killed_keys: set[str] = set()
        deadline = time.monotonic() + 150
        while (
            time.monotonic() < deadline
            and daemon_process.canary_phase(cluster, f"podinfo.{namespace}") != "Succeeded"
        ):
            slow = [r for r in receiver.requests if r.path == "/slow"]
            if receiver.in_flight and slow and kills < 3:
                key = slow[-1].headers["Idempotency-Key"]
                if key not in killed_keys:  # once per step: the retry must get through
                    killed_keys.add(key)
                    daemon.kill()
                    kills += 1
                    daemon.start()
            time.sleep(0.1)
        daemon.wait_phase(cluster, f"podinfo.{namespace}", "Succeeded", 5)
    finally:
        daemon.stop()
        loadtester.stop()

    by_hook: dict[str, list[str]] = {}
    for request in receiver.requests:
        by_hook.setdefault(request.path, []).append(request.headers["Idempotency-Key"])
    slow_calls = by_hook["/slow"]
    slow_steps = len(set(slow_calls))
    messages = loadtester.messages()
    started = [m for m in messages if m.startswith("command starting")]
    skipped = [m for m in messages if "already ran" in m]
    print(
        f"kills={kills} slow-hook calls={len(slow_calls)} distinct keys={slow_steps} "
        f"loadtester started={len(started)} skipped={len(skipped)}"
    )
    assert kills == 3
    # each kill repeated exactly one call of the slow hook, with the key of its step
    assert len(slow_calls) == slow_steps + kills
    # the steps: pre-rollout once, then one per iteration (2) and the one before promotion
    assert slow_steps == 1 + 2 + 1, slow_calls
    # the loadtester ran the command once per step, and skipped each repeat
    assert len(started) == slow_steps
    assert len(skipped) == kills
    assert runs.read_text().count("run") == slow_steps
