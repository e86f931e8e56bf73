"""CPU of one idle tick, in memory: ``python -m bench.idle_tick [-k TICKS] [--profile]``.

One settled canary (kubernetes provider, blue/green, one webhook) over the in-memory API server
behind the daemon's watch caches (`CachedFakeKube`): its ticks send no request, so what is
timed is the controller's own work per idle tick — the figure ``make bench`` multiplies by N
canaries / interval. ``--profile`` prints the top functions by cumulative time (cProfile).
Run it with another checkout's python for a before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time

import aiohttp

from tests.unit.controller import daemon_world


async def measure(ticks: int, profile: bool) -> float:
    """CPU milliseconds per idle tick (after initialisation and a warm-up)."""
    async with aiohttp.ClientSession() as session, daemon_world.cached_world(session) as world:
        for _ in range(50):  # warm-up: memos filled, informers settled
            await world.tick()
        sent = dict(world.kube.requests)
        profiler = cProfile.Profile() if profile else None
        began = time.process_time()
        if profiler is not None:
            profiler.enable()
        for _ in range(ticks):
            await world.tick()
        if profiler is not None:
            profiler.disable()
        spent = time.process_time() - began
        if dict(world.kube.requests) != sent:
            print(f"note: idle ticks sent requests: {sent} -> {dict(world.kube.requests)}")
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            print(out.getvalue())
        return 1000.0 * spent / ticks


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_tick", description=__doc__)
    parser.add_argument("-k", type=int, default=2000, help="idle ticks to time")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the ticks")
    args = parser.parse_args()
    per_tick = asyncio.run(measure(args.k, args.profile))
    print(f"idle tick: {per_tick:.3f} ms CPU ({args.k} ticks, in memory)")


if __name__ == "__main__":
    main()
