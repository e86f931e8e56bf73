"""(d) Prometheus down, answering NaN, an empty vector, a wrong result type, garbage or 500,
during a rollout, on the in-memory API server (the daemon's tick(), seconds per case).

Each case initialises ``podinfo`` (2 iterations, threshold 2) with a healthy MetricTemplate
query, then breaks Prometheus and changes the image: the canary must halt on every check with a
Warning naming the metric, roll back to Failed at the threshold, and never promote the new image
(Flagger's rule: no data is never a pass). Steps are counted from the ``Advance`` Events: the
tick that starts the analysis advances iteration 1 without a metric check (as in Flagger), so
iteration 1 must advance exactly once and iteration 2 never. In the ``blip`` case Prometheus
answers 500 to one check only: the canary halts once, then advances iteration 2 once and
promotes. "Seconds blind" adds up the analysis intervals whose check had no data."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.faults import conftest as faults
from tests.support.fake_prometheus import FakePrometheus
from tests.unit.controller import daemon_world
from tests.unit.controller.daemon_world import NAMESPACE

METRIC = "error-ratio"
MODES = ("down", "nan", "empty", "wrong-type", "garbage", "error", "blip")
ADVANCE = f"Advance podinfo.{NAMESPACE} canary iteration"
PRIMARY = ("apps/v1", "Deployment", "podinfo-primary", NAMESPACE)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def _template(address: str) -> dict[str, object]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "errors", "namespace": NAMESPACE},
        "spec": {"provider": {"type": "prometheus", "address": address}, "query": "vector(0)"},
    }


def _halts(world: daemon_world.World) -> int:
    return sum(t == "Warning" and METRIC in m for t, m in world.events)


async def _case(session: aiohttp.ClientSession, mode: str, row: faults.Row) -> list[str]:
    """Run one case; the broken promises (empty when the canary behaved)."""
    prometheus = FakePrometheus().start()
    try:
        world = await daemon_world.world(session)
        world.kube.put(daemon_world.deployment())
        world.kube.put(_template(prometheus.url))
        metric = {"name": METRIC, "templateRef": {"name": "errors"}, "thresholdRange": {"max": 1}}
        world.kube.put(daemon_world.canary(metrics=[metric]))
        for _ in range(3):
            await world.tick()
        if world.phase() != "Initialized":
            return [f"{mode}: not initialised: {world.status()}"]
        if mode == "down":
            prometheus.stop()
        else:
            prometheus.mode = "error" if mode == "blip" else mode
        world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")
        phases = []
        for _ in range(8):
            await world.tick_after_interval()
            phases.append(world.phase())
            if mode == "blip" and _halts(world):
                prometheus.mode = "value"
            if world.phase() in ("Failed", "Succeeded"):
                break
        broken = []
        image = world.kube.stored(*PRIMARY)["spec"]["template"]["spec"]["containers"][0]["image"]
        steps = [sum(m == f"{ADVANCE} {i}/2" for m in world.messages()) for i in (1, 2)]
        expected = [1, 1] if mode == "blip" else [1, 0]
        row.duplicated_or_skipped += sum(abs(n - e) for n, e in zip(steps, expected, strict=True))
        row.seconds_blind += _halts(world) * daemon_world.INTERVAL_SECONDS
        if steps != expected:
            broken.append(f"{mode}: iterations advanced {steps} times, not {expected}")
        if mode == "blip":
            if phases[-1] != "Succeeded" or not image.endswith(":6.0.1"):
                broken.append(f"{mode}: not promoted once data came back: {phases}, {image}")
        elif "Succeeded" in phases or not image.endswith(":6.0.0"):
            broken.append(f"{mode}: promoted on missing data ({phases}, primary {image})")
        elif phases[-1] != "Failed":
            broken.append(f"{mode}: did not halt and roll back: {phases}")
        if not _halts(world):
            broken.append(f"{mode}: no Warning names {METRIC}: {world.events}")
        return broken
    finally:
        prometheus.stop()


async def test_missing_metric_data_halts_and_never_promotes(
    session: aiohttp.ClientSession,
) -> None:
    row = faults.Row("(d) Prometheus down/NaN/empty/wrong type/garbage/500/blip")
    faults.ROWS.append(row)
    broken: list[str] = []
    for mode in MODES:
        row.cases += 1
        problems = await _case(session, mode, row)
        row.failures += bool(problems)
        broken.extend(problems)
    assert not broken, broken
