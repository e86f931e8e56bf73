"""Leader election, proven: two daemons, one writer, a hand-over, and the canary done once.

Two ``flagger run -enable-leader-election`` processes, each as its own ServiceAccount (so the
audit log tells them apart), both bound to the chart's istio role, watch one namespace. A canary
(istio, stepWeight 10 to 50, a webhook) is analysed; the leader is SIGKILLed once the weight 20
step is in the Canary's status. Checked: before the hand-over the follower wrote nothing (no
create/update/patch of any resource, not even the Lease); the follower takes over within the
lease duration plus one retry period (60 s + 5 s, the daemon's defaults); the canary is promoted
exactly once, each weight advanced exactly once, across both daemons' logs and the Canary's
events.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import time
from collections.abc import Mapping
from typing import Any

import pytest

from flagger.devcluster import cluster as devcluster
from flagger.playground import charts
from tests.integration.deploy import audit, scenario
from tests.support import daemon_process, http_receiver

# Long form (~2-3 min): `make long`; tests/integration/controller/test_leader_election.py is the
# short form in `make test`.
pytestmark = [pytest.mark.cluster, pytest.mark.long]

ROOT = pathlib.Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "charts" / "flagger"
NS = "leader"
LEASE_SECONDS, RETRY_SECONDS = 60, 5
IMAGE = scenario.IMAGE


def _app(receiver_url: str) -> list[dict[str, Any]]:
    labels = {"app": "app"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "app", "namespace": NS, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": f"{IMAGE}:6.0.0"}]},
                },
            },
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "app", "namespace": NS},
            "spec": {
                "provider": "istio",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
                "service": {"port": 9898},
                "skipAnalysis": False,
                "analysis": {
                    "interval": "10s",
                    "threshold": 2,
                    "stepWeight": 10,
                    "maxWeight": 50,
                    "webhooks": [{"name": "check", "url": f"{receiver_url}/check"}],
                },
            },
        },
    ]


def _rbac(account: str) -> list[dict[str, Any]]:
    rendered = charts.render(
        CHART,
        {"meshProvider": "istio", "fullnameOverride": account},
        release="flagger",
        namespace=NS,
    )
    return [
        o for o in rendered if o["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
    ]


def _ts(line: dict[str, Any]) -> datetime.datetime:
    return datetime.datetime.fromisoformat(str(line["ts"]).replace("Z", "+00:00"))


def _acquired(daemon: daemon_process.Daemon) -> dict[str, Any] | None:
    return next(
        (
            line
            for line in daemon.lines()
            if str(line.get("msg", "")).startswith("successfully acquired lease")
        ),
        None,
    )


def _stage(event: Mapping[str, Any]) -> datetime.datetime:
    return datetime.datetime.fromisoformat(str(event["stageTimestamp"]).replace("Z", "+00:00"))


def test_one_writer_and_a_hand_over_that_finishes_the_canary_once(
    audited: devcluster.LocalCluster, tmp_path: pathlib.Path
) -> None:
    audited.api(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    )
    for account in ("flagger-a", "flagger-b"):
        scenario.apply(audited, _rbac(account))
    receiver = http_receiver.Receiver().start()
    daemons: dict[str, daemon_process.Daemon] = {}
    canary = f"app.{NS}"
    try:
        scenario.apply(audited, _app(receiver.url))
        for account in ("flagger-a", "flagger-b"):
            kubeconfig = audited.service_account_kubeconfig(NS, account)
            daemons[account] = daemon_process.Daemon(
                daemon_process.run_flags(
                    kubeconfig,
                    NS,
                    "istio",
                    "-log-level=info",
                    "-enable-leader-election",
                    f"-leader-election-namespace={NS}",
                ),
                tmp_path / f"{account}.log",
            ).start()
            time.sleep(1.0)  # flagger-a asks first; either may win, the test reads who did
        leader_name = scenario.wait(
            lambda: next((n for n, d in daemons.items() if _acquired(d)), None), 30, "a leader"
        )
        leader = daemons[leader_name]
        follower_name = next(n for n in daemons if n != leader_name)
        follower = daemons[follower_name]

        scenario.wait(scenario.phase_is(audited, NS, "app", "Initialized"), 90, "app Initialized")
        audited.kubectl("set", "image", "deployment/app", f"app={IMAGE}:6.0.1", "-n", NS)
        leader.wait_for(
            canary, lambda m: f"Advance {canary} canary weight 20" in m, 120, "weight 20"
        )
        scenario.wait(
            lambda: scenario.status(audited, NS, "app").get("canaryWeight") == 20,
            10,
            "weight 20 in the status",
        )
        assert _acquired(follower) is None, "one leader at a time"
        leader.kill()
        killed_at = datetime.datetime.now(datetime.UTC)

        taken = scenario.wait(
            lambda: _acquired(follower),
            LEASE_SECONDS + RETRY_SECONDS + 10,
            "the follower taking the lease over",
        )
        handover = (_ts(taken) - killed_at).total_seconds()
        print(
            f"\nleader {leader_name} killed; {follower_name} took over after {handover:.1f}s "
            f"(lease {LEASE_SECONDS}s, retry {RETRY_SECONDS}s)"
        )
        assert handover <= LEASE_SECONDS + RETRY_SECONDS + 2

        scenario.wait(
            scenario.phase_is(audited, NS, "app", "Succeeded"),
            180,
            "app Succeeded after the hand-over",
        )
        assert follower.stop() == 0
    finally:
        for daemon in daemons.values():
            daemon.stop()
        receiver.stop()

    # Each step once, across both daemons, and one promotion.
    messages = leader.messages(canary) + follower.messages(canary)
    advances = [m for m in messages if m.startswith(f"Advance {canary} canary weight")]
    print("leader:", [m for m in leader.messages(canary) if "weight" in m])
    print("follower:", [m for m in follower.messages(canary) if "weight" in m])
    assert advances == [f"Advance {canary} canary weight {w}" for w in (10, 20, 30, 40, 50)]
    assert sum(m.startswith("Promotion completed!") for m in messages) == 1
    events = json.loads(
        audited.kubectl(
            "get", "events", "-n", NS, "--field-selector", "involvedObject.name=app", "-o", "json"
        ).stdout
    )["items"]
    promoted = [e for e in events if e["message"].startswith("Promotion completed!")]
    assert [e.get("count", 1) for e in promoted] == [1], promoted

    # The audit log: the follower wrote nothing before it held the lease; the old leader
    # nothing after it was killed.
    log = audited.audit_events()
    took_over = _ts(taken)
    follower_writes = audit.by_user(log, f"system:serviceaccount:{NS}:{follower_name}")
    early = [
        f"{e['verb']} {e['requestURI']}"
        for e in follower_writes
        if e["verb"] in ("create", "update", "patch", "delete")
        and _stage(e) < took_over - datetime.timedelta(seconds=1)
    ]
    assert early == [], early
    leader_writes = audit.mutating(audit.by_user(log, f"system:serviceaccount:{NS}:{leader_name}"))
    follower_counts = audit.mutating(follower_writes)
    print("writes by the first leader:", dict(leader_writes))
    print("writes by the second leader:", dict(follower_counts))
    late = [
        e
        for e in audit.by_user(log, f"system:serviceaccount:{NS}:{leader_name}")
        if _stage(e) > killed_at + datetime.timedelta(seconds=1)
    ]
    assert late == []
    assert leader_writes and follower_counts
