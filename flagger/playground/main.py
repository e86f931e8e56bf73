"""``flagger playground``: the tutorial on this machine, then the stack left running.

``--exit`` ends after the tutorial (exit 0 only when every outcome matched); ``--json FILE``
writes the phases, the outcomes and the message timeline. Without ``--exit`` it keeps running,
printing how to reach everything (the dashboard, a ``flagger watch`` command, the kubeconfig),
until Ctrl-C, which stops every process it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import signal
import time

from flagger.dashboard import server as dashboard_server
from flagger.playground import stack, tutorial


async def run(*, exit_after: bool, json_path: pathlib.Path | None, gitops: bool = True) -> int:
    """Play the tutorial (through Git and Flux unless ``gitops`` is False); the exit status."""
    began = time.monotonic()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with stack.Stack(gitops=gitops) as playground:
        started = time.monotonic()
        warm = started - began
        play = tutorial.Tutorial(playground)
        playing = asyncio.create_task(play.play())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({playing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not playing.done():
            playing.cancel()
            print("interrupted: stopping every process the playground started")
            return 130
        stopping.cancel()
        ok = playing.result()
        if json_path is not None:
            play.write_json(json_path)
        built = (
            f"; Flux's controllers built in {playground.flux_build_seconds:.0f}s"
            if (playground.flux_build_seconds)
            else ""
        )
        print(
            f"tutorial played in {time.monotonic() - started:.0f}s "
            f"(stack started in {warm:.0f}s{built}; "
            f"set-up included: {time.monotonic() - began:.0f}s); "
            f"{'every outcome matched' if ok else 'some outcomes did not match'}"
        )
        if exit_after:
            return 0 if ok else 1
        where = playground.endpoints()
        assert playground.kube is not None
        dashboard = await dashboard_server.start(
            playground.kube, dashboard_server.Settings(prometheus=where.prometheus), port=0
        )
        print(f"""
The playground keeps running. Ctrl-C stops everything it started.
  kubectl:      kubectl --kubeconfig {where.kubeconfig} get canaries -A -o wide
  dashboard:    {dashboard.url}
  watch:        flagger watch backend -n test --kubeconfig {where.kubeconfig}
  by hand:      flagger promote NAME -n test --kubeconfig {where.kubeconfig}
                (also abort, retry, pause, resume; or the dashboard's buttons)
{where.git_lines}  frontend:     curl -x {where.proxy} http://frontend.test:9898/
  Prometheus:   {where.prometheus}
  daemon:       {where.daemon_metrics}  (log: {where.daemon_log})
""")
        try:
            await stop.wait()
        finally:
            await dashboard.stop()
        return 0
