"""(d) Prometheus down, answering NaN, an empty vector, a wrong result type, garbage or 500,
during a rollout, on the in-memory API server (the daemon's tick(), seconds per case).

Each case initialises ``podinfo`` with a healthy MetricTemplate query, then breaks Prometheus
and changes the image: the canary must halt on every check with a Warning naming the metric,
roll back to Failed at the threshold, and never promote the new image (Flagger's rule: no data
is never a pass)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.faults import conftest as faults
from tests.support.fake_prometheus import FakePrometheus
from tests.unit.controller import daemon_world
from tests.unit.controller.daemon_world import NAMESPACE

METRIC = "error-ratio"
MODES = ("down", "nan", "empty", "wrong-type", "garbage", "error")
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


async def _case(session: aiohttp.ClientSession, mode: str) -> list[str]:
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
            prometheus.mode = mode
        world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")
        phases = []
        for _ in range(8):
            await world.tick_after_interval()
            phases.append(world.phase())
            if world.phase() in ("Failed", "Succeeded"):
                break
        broken = []
        image = world.kube.stored(*PRIMARY)["spec"]["template"]["spec"]["containers"][0]["image"]
        if "Succeeded" in phases or not image.endswith(":6.0.0"):
            broken.append(f"{mode}: promoted on missing data ({phases}, primary {image})")
        if phases[-1] != "Failed":
            broken.append(f"{mode}: did not halt and roll back: {phases}")
        halts = [m for t, m in world.events if t == "Warning" and METRIC in m]
        if not halts:
            broken.append(f"{mode}: no Warning names {METRIC}: {world.events}")
        return broken
    finally:
        prometheus.stop()


async def test_missing_metric_data_halts_and_never_promotes(
    session: aiohttp.ClientSession,
) -> None:
    row = faults.Row("(d) Prometheus down/NaN/empty/wrong type/garbage/500")
    faults.ROWS.append(row)
    broken: list[str] = []
    for mode in MODES:
        row.cases += 1
        problems = await _case(session, mode)
        row.failures += bool(problems)
        broken.extend(problems)
    assert not broken, broken
