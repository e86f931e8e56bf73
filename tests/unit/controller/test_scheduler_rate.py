"""The scheduler ticks each canary at a fixed rate, and a slow canary delays no other."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from flagger.controller import scheduling, ticking
from flagger.kube import informers
from flagger.observability import metrics as metrics_api


class _Shell:
    def __init__(self) -> None:
        self.metrics = metrics_api.Metrics(process_metrics=False)
        self.resting: dict[tuple[str, str], object] = {}


def _lateness_count(metrics: metrics_api.Metrics) -> float:
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "flagger_tick_lateness_seconds_count":
                return sample.value
    return 0.0


async def test_the_period_is_the_interval_not_interval_plus_tick_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts: dict[str, list[float]] = {"slow": [], "quick": []}
    loop = asyncio.get_running_loop()

    async def tick(shell: Any, name: str, namespace: str) -> ticking.Outcome:
        starts[name].append(loop.time())
        await asyncio.sleep(0.3 if name == "slow" else 0.0)
        return ticking.Outcome(exists=True, interval=0.5)

    monkeypatch.setattr(ticking, "tick", tick)
    shell = _Shell()
    scheduler = scheduling.Scheduler(shell)  # type: ignore[arg-type]
    for name in ("slow", "quick"):
        scheduler.canary_changed(
            informers.ObjectKey("ns", name), None, scheduling.CanaryView(1, False)
        )
    await asyncio.sleep(2.1)
    await scheduler.close()

    for name, times in starts.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) >= 4, f"{name}: {times}"
        # With "sleep interval after the tick" the slow canary's period would be 0.8 s.
        assert all(0.4 < gap < 0.65 for gap in gaps), f"{name}: gaps {gaps}"
    assert _lateness_count(shell.metrics) == len(starts["slow"]) + len(starts["quick"])


async def test_a_stuck_tick_holds_one_slot_and_no_other_canary_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quick: list[float] = []
    stuck = asyncio.Event()

    async def tick(shell: Any, name: str, namespace: str) -> ticking.Outcome:
        if name == "stuck":
            await stuck.wait()  # e.g. a webhook that never answers
        else:
            quick.append(asyncio.get_running_loop().time())
        return ticking.Outcome(exists=True, interval=0.2)

    monkeypatch.setattr(ticking, "tick", tick)
    scheduler = scheduling.Scheduler(_Shell())  # type: ignore[arg-type]
    for name in ("stuck", "quick"):
        scheduler.canary_changed(
            informers.ObjectKey("ns", name), None, scheduling.CanaryView(1, False)
        )
    await asyncio.sleep(0.1)
    assert scheduler.running == 1 and scheduler.queued == 0
    await asyncio.sleep(0.95)
    await scheduler.close()
    assert len(quick) >= 5
