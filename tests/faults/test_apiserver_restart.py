"""(b) Stop and restart kube-apiserver mid-analysis of blue/green rollouts.

While ``podinfo`` is Progressing, the API server is stopped 1.5 s before a check is due (so that
tick runs while it is down), kept down a few seconds and started again with the same flags.
Each step must run exactly once: one ``Advance ... iteration N/M`` Event per iteration, one
check (``Idempotency-Key``) per step after the first; and the daemon's watches must resume: a
Canary created once the API server is back is picked up (its status written). "Seconds blind"
is the time from stopping the API server until the daemon acted on that Canary.

Short form (``make test``): one 2 s outage, judged once the check after it advanced the canary
(a whole rollout takes a minute more). Long form (``make faults``): two whole rollouts with two
outages each, one of them 30 s (longer than the kube client's retries: whole ticks fail).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator

import pytest

from flagger.devcluster import cluster as devcluster
from tests.faults import conftest as faults
from tests.faults import rollouts
from tests.support import daemon_process, http_receiver

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200 if faults.LONG else 600)]

NS = "faults-restart"
INTERVAL = 10.0
ITERATIONS = 4 if faults.LONG else 3
#: Seconds each outage keeps the API server down, per rollout.
OUTAGES = [[3.0, 30.0], [4.0, 8.0]] if faults.LONG else [[2.0]]
#: The API server is stopped this long before a check is due, so that the tick runs blind.
LEAD_SECONDS = 1.5
#: A watch resumed within this long after the API server is ready (the informers' backoff
#: is capped at 30 s; after a short outage it is a few seconds).
RESUME_SECONDS = 45.0


@pytest.fixture(scope="module")
def world(
    cluster: devcluster.LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[http_receiver.Receiver, daemon_process.Daemon]]:
    with rollouts.world(cluster, NS, tmp_path_factory.mktemp("faults-restart")) as found:
        yield found


def _due(cluster: devcluster.LocalCluster) -> float:
    """``time.time()`` when the next check is due: ``status.lastCheckTime`` plus the interval."""
    stamp = str(rollouts.status(cluster, NS).get("lastCheckTime") or "")
    last = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return last.timestamp() + INTERVAL


def _picked_up(cluster: devcluster.LocalCluster, name: str, timeout: float) -> float:
    """Create Canary ``name`` (its target missing) and wait until the daemon wrote its status:
    the Canary watch is back. The seconds it took."""
    began = time.monotonic()
    probe = rollouts.canary_objects("http://127.0.0.1:1", NS)[1]
    probe["metadata"]["name"] = name
    probe["spec"]["targetRef"]["name"] = f"{name}-missing"
    rollouts.apply(cluster, [probe])
    while not rollouts.status(cluster, NS, name).get("conditions"):
        assert time.monotonic() - began < timeout, f"Canary {name} not picked up in {timeout}s"
        time.sleep(0.2)
    cluster.kubectl("delete", "canary", name, "-n", NS, "--wait=false")
    return time.monotonic() - began


def test_apiserver_restart_mid_analysis_neither_repeats_nor_skips_a_step(
    cluster: devcluster.LocalCluster, world: tuple[http_receiver.Receiver, daemon_process.Daemon]
) -> None:
    hooks, daemon = world
    row = faults.Row("(b) kube-apiserver stopped and restarted")
    faults.ROWS.append(row)
    objects = rollouts.canary_objects(hooks.url, NS, interval=INTERVAL, iterations=ITERATIONS)
    rollouts.apply(cluster, objects)
    rollouts.wait(cluster, {"Initialized"}, 180, NS)
    for rollout, outages in enumerate(OUTAGES, start=1):
        since = rollouts.since(cluster, hooks, NS)
        rollouts.start_rollout(cluster, NS, rollout)
        rollouts.wait(cluster, {"Progressing"}, 3 * INTERVAL, NS)
        for nth, down in enumerate(outages, start=1):
            # Stopped just before the next check is due: that tick runs while it is down.
            time.sleep(max(0.0, _due(cluster) - LEAD_SECONDS - time.time()))
            began = time.monotonic()
            ready = cluster.restart_apiserver(down=down)
            resumed = _picked_up(cluster, f"probe-{rollout}-{nth}", RESUME_SECONDS)
            row.cases += 1
            row.seconds_blind += time.monotonic() - began
            print(f"down {down:.0f}s: ready after {ready:.1f}s, watching {resumed:.1f}s later")
            # The tick that ran blind is done again: the start of the analysis, then checks.
            rollouts.advanced(cluster, NS, nth, 3 * INTERVAL, total=ITERATIONS)
        phase = "Succeeded"  # the short form is judged mid-analysis
        if faults.LONG:
            phase = rollouts.wait(cluster, {"Succeeded", "Failed"}, 12 * INTERVAL, NS)
        wrong, seen = rollouts.judge(cluster, hooks, NS, ITERATIONS, since, faults.LONG)
        row.duplicated_or_skipped += wrong
        row.failures += phase != "Succeeded" or wrong > 0
        assert phase == "Succeeded", daemon.messages(f"{rollouts.NAME}.{NS}")[-20:]
        assert wrong == 0, seen
