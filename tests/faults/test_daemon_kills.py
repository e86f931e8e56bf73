"""(a) SIGKILL the daemon at random moments of blue/green rollouts on the local control plane.

Each rollout of ``podinfo`` (provider kubernetes, iterations every 10 s — 2 in the short form,
4 in the long one —, a pre-rollout and a rollout webhook) must advance every iteration exactly
once (one ``Advance ... iteration N/M`` Event each), send one distinct ``Idempotency-Key`` per
check (a retry after a kill may repeat a key, never use a new one for a step already done), and
never check twice within ``analysis.interval``: the time of the last check is kept in
``status.lastCheckTime``, so a restarted daemon waits for it (the crash-loop test kills and
restarts it right after each check).
"""

from __future__ import annotations

import datetime
import itertools
import json
import random
import time
from collections.abc import Iterator

import pytest

from flagger.devcluster import cluster as devcluster
from tests.faults import conftest as faults
from tests.faults import rollouts
from tests.support import daemon_process, http_receiver

#: The long form (5 rollouts of ~2 min on a loaded machine) outlasts pytest-timeout's 600 s.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800 if faults.LONG else 600)]

NS = "faults-kill"
INTERVAL = 10.0
ITERATIONS = 4 if faults.LONG else 2
ROLLOUTS = 5 if faults.LONG else 1
KILLS_PER_ROLLOUT = 4 if faults.LONG else 2
#: Steps after which the crash-loop test kills and restarts the daemon twice.
CRASH_LOOPS = 2 if faults.LONG else 1
CRASH_INTERVAL = 15.0
#: How much sooner than ``analysis.interval`` a check may come (the time it takes to reach the
#: hook varies from tick to tick on a loaded machine; a crash loop without the guard gives ~3 s).
TOLERANCE = 1.0


@pytest.fixture(scope="module")
def world(
    cluster: devcluster.LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[http_receiver.Receiver, daemon_process.Daemon]]:
    with rollouts.world(cluster, NS, tmp_path_factory.mktemp("faults-kill")) as found:
        yield found


def _initialised(cluster: devcluster.LocalCluster, hooks: http_receiver.Receiver) -> None:
    objects = rollouts.canary_objects(hooks.url, NS, interval=INTERVAL, iterations=ITERATIONS)
    rollouts.apply(cluster, objects)
    rollouts.wait(cluster, {"Initialized", "Succeeded"}, 180, NS)


def test_sigkill_during_rollouts_neither_repeats_nor_skips_a_step(
    cluster: devcluster.LocalCluster, world: tuple[http_receiver.Receiver, daemon_process.Daemon]
) -> None:
    hooks, daemon = world
    rng = random.Random(12)
    row = faults.Row("(a) SIGKILL the daemon mid-rollout")
    faults.ROWS.append(row)
    _initialised(cluster, hooks)
    for rollout in range(1, ROLLOUTS + 1):
        since = rollouts.since(cluster, hooks, NS)
        rollouts.start_rollout(cluster, NS, rollout)
        rollouts.wait(cluster, {"Progressing"}, 120, NS)
        for _ in range(KILLS_PER_ROLLOUT):
            time.sleep(rng.uniform(1.0, INTERVAL))
            daemon.kill()
            down = rng.uniform(0.2, 3.0)
            time.sleep(down)
            daemon.start()
            row.cases += 1
            row.seconds_blind += down
        phase = rollouts.wait(cluster, {"Succeeded", "Failed"}, 300, NS)
        wrong, seen = rollouts.judge(cluster, hooks, NS, ITERATIONS, since, completed=True)
        row.duplicated_or_skipped += wrong
        if phase != "Succeeded" or wrong:
            row.failures += 1
        assert phase == "Succeeded", daemon.messages(f"{rollouts.NAME}.{NS}")[-20:]
        assert wrong == 0, seen
        assert all(r.headers.get("Idempotency-Key") for r in hooks.requests[since[1] :])


def _blind(daemon: daemon_process.Daemon, kills: list[float]) -> float:
    """Seconds from each kill (``time.time()``) until the next process logged its start."""
    starts = sorted(
        datetime.datetime.fromisoformat(str(line["ts"]).replace("Z", "+00:00")).timestamp()
        for line in daemon.lines()
        if str(line.get("msg")).startswith("Starting flagger")
    )
    return sum(next((s for s in starts if s > kill), kill) - kill for kill in kills)


def _held(daemon: daemon_process.Daemon, after: float, timeout: float) -> bool:
    """Whether a process started after ``after`` (``time.time()``) ticked the canary and was
    told to wait for its interval, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in daemon.lines():
            when = datetime.datetime.fromisoformat(str(line["ts"]).replace("Z", "+00:00"))
            held = str(line.get("msg")).startswith("Next check in")
            if held and line.get("canary") == f"{rollouts.NAME}.{NS}" and when.timestamp() > after:
                return True
        time.sleep(0.2)
    return False


def test_a_crash_looping_daemon_never_checks_sooner_than_the_interval(
    cluster: devcluster.LocalCluster, world: tuple[http_receiver.Receiver, daemon_process.Daemon]
) -> None:
    """Killed and restarted at once each time a step is written (the start of the analysis; in
    the long form the first check too), and again as soon as the new process has ticked: every
    restart ticks the canary straight away, and must wait out ``analysis.interval`` (15 s here,
    so that a restart comes up before the next check is due) since the last check kept in
    ``status.lastCheckTime`` (issue 12 §2: a crash loop used to give 2.4 s gaps against 10 s)."""
    hooks, daemon = world
    row = faults.Row("(a) crash loop: restarted at once after each check")
    faults.ROWS.append(row)
    _initialised(cluster, hooks)
    patch = {"spec": {"analysis": {"interval": f"{CRASH_INTERVAL:.0f}s"}}}
    cluster.kubectl(
        "patch", "canary", rollouts.NAME, "-n", NS, "--type=merge", "-p", json.dumps(patch)
    )
    before, seen = rollouts.since(cluster, hooks, NS)
    rollouts.start_rollout(cluster, NS, 1000)
    calls = [rollouts.wait_check(hooks, seen, 1, 3 * CRASH_INTERVAL, rollouts.PRE)]
    kills: list[float] = []
    held = 0
    for nth in range(1, CRASH_LOOPS + 1):
        rollouts.advanced(cluster, NS, nth, CRASH_INTERVAL, total=ITERATIONS)  # status written
        due = calls[-1].at + CRASH_INTERVAL
        while time.monotonic() < due - 3.0:
            kills.append(time.time())
            daemon.kill()
            daemon.start()
            row.cases += 1
            held += _held(daemon, kills[-1], due - time.monotonic())
        calls.append(rollouts.wait_check(hooks, seen, nth, 3 * CRASH_INTERVAL))
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(calls)]
    short = [gap for gap in gaps if gap < CRASH_INTERVAL - TOLERANCE]
    steps = rollouts.steps(rollouts.event_counts(cluster, NS), NS, ITERATIONS, before)
    wrong = rollouts.wrong(steps[:CRASH_LOOPS])  # the steps before the last check: each once
    row.duplicated_or_skipped += wrong
    row.failures += bool(short or wrong or not held)
    row.seconds_blind += _blind(daemon, kills)
    print(f"gaps between checks across {len(kills)} restarts ({held} held): {gaps} s")
    assert held, "no restarted daemon ticked before the next check was due: nothing was proven"
    assert not short, f"checks {gaps} s apart, interval {CRASH_INTERVAL:.0f}s"
    assert wrong == 0, steps
