"""(e) A rollout webhook that hangs, answers 500 or answers garbage, while another canary keeps
its tick on time; on the in-memory API server with a real local HTTP receiver.

For each fault, ``podinfo`` progresses with a ``rollout`` hook (timeout 2s) that misbehaves,
while ``other`` is ticked alongside every 0.1 s. ``other``'s ticks must each finish promptly
(the worst is the row's "seconds blind"); a hanging or failing hook halts ``podinfo`` and rolls
it back to Failed at the threshold without promoting; a 200 with a garbage body is a pass, as in
Flagger (hooks are judged by status code), and must not break the tick. Steps are counted from
the ``Advance`` Events (the tick that starts the analysis advances iteration 1 before any rollout
hook, as in Flagger: iteration 1 once, iteration 2 only when the hook passes) and from the hook's
calls: one ``Idempotency-Key`` per check, never two calls with one key. "Seconds blind" is the
other canary's worst tick."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from flagger.controller import ticking
from tests.faults import conftest as faults
from tests.support.http_receiver import Receiver
from tests.unit.controller import daemon_world
from tests.unit.controller.daemon_world import NAMESPACE, World

PRIMARY = ("apps/v1", "Deployment", "podinfo-primary", NAMESPACE)
#: How long the hanging hook holds a request: past its 2s timeout, short enough to drain.
HANG_SECONDS = 4.0
#: A healthy canary's tick must never wait this long on another canary's webhook.
ON_TIME_SECONDS = 1.0
ADVANCE = f"Advance podinfo.{NAMESPACE} canary iteration"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def _other_ticks(world: World, stop: asyncio.Event) -> list[float]:
    """Tick ``other`` every 0.1 s until ``stop``; the duration of each tick."""
    durations = []
    while not stop.is_set():
        started = time.monotonic()
        await ticking.tick(world.shell, "other", NAMESPACE)
        durations.append(time.monotonic() - started)
        await asyncio.sleep(0.1)
    return durations


async def _case(session: aiohttp.ClientSession, fault: str, row: faults.Row) -> list[str]:
    receiver = Receiver().start()
    try:
        world = await daemon_world.world(session)
        hook = {"name": "smoke", "type": "rollout", "url": f"{receiver.url}/smoke", "timeout": "2s"}
        world.kube.put(daemon_world.deployment())
        world.kube.put(daemon_world.canary(webhooks=[hook]))
        world.kube.put(daemon_world.renamed(daemon_world.deployment(), "other"))
        world.kube.put(daemon_world.renamed(daemon_world.canary(), "other"))
        for _ in range(3):
            await world.tick()
        if world.phase() != "Initialized":
            return [f"{fault}: not initialised: {world.status()}"]
        if fault == "hang":
            receiver.delays["/smoke"] = HANG_SECONDS
        elif fault == "500":
            receiver.answers["/smoke"] = 500
        else:
            receiver.bodies["/smoke"] = "\x00\xff{not json"
        world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")

        stop = asyncio.Event()
        other = asyncio.create_task(_other_ticks(world, stop))
        phases = []
        try:
            for _ in range(10):
                await world.tick_after_interval()
                phases.append(world.phase())
                if world.phase() in ("Failed", "Succeeded"):
                    break
        finally:
            stop.set()
            durations = await other
        broken = []
        worst = max(durations, default=0.0)
        row.seconds_blind = max(row.seconds_blind, worst)
        least = 10 if fault == "hang" else 1  # a hang holds podinfo's ticks for seconds
        if worst > ON_TIME_SECONDS or len(durations) < least:
            broken.append(f"{fault}: other canary's ticks {len(durations)}, worst {worst:.2f}s")
        image = world.kube.stored(*PRIMARY)["spec"]["template"]["spec"]["containers"][0]["image"]
        steps = [sum(m == f"{ADVANCE} {i}/2" for m in world.messages()) for i in (1, 2)]
        expected = [1, 1] if fault == "garbage" else [1, 0]
        keys = [r.headers.get("Idempotency-Key", "") for r in receiver.requests]
        repeats = len(keys) - len(set(keys))
        wrong = sum(abs(n - e) for n, e in zip(steps, expected, strict=True)) + repeats
        row.duplicated_or_skipped += wrong
        if wrong or not all(keys):
            broken.append(f"{fault}: iterations advanced {steps} (not {expected}), keys {keys}")
        if fault == "garbage":
            if phases[-1] != "Succeeded":
                broken.append(f"{fault}: a 200 hook did not pass: {phases} {world.events}")
        elif "Succeeded" in phases or not image.endswith(":6.0.0") or phases[-1] != "Failed":
            broken.append(f"{fault}: not rolled back without promotion: {phases}, {image}")
        return broken
    finally:
        for _ in range(int(HANG_SECONDS * 10) + 10):  # let hung requests finish before stopping
            if not receiver.in_flight:
                break
            await asyncio.sleep(0.1)
        receiver.stop()


async def test_a_misbehaving_webhook_halts_its_canary_while_another_keeps_its_tick(
    session: aiohttp.ClientSession,
) -> None:
    row = faults.Row("(e) webhook hangs/500/garbage, other canary ticks")
    faults.ROWS.append(row)
    broken: list[str] = []
    for fault in ("hang", "500", "garbage"):
        row.cases += 1
        problems = await _case(session, fault, row)
        row.failures += bool(problems)
        broken.extend(problems)
    assert not broken, broken
