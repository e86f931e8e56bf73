"""Everything the NGINX e2e test runs, on one background event loop, for synchronous tests.

:class:`NginxWorld` starts two backends (``primary`` and ``canary``), nginx with the test
controller watching one namespace, and the access-log exporter; the test calls its methods from
the main thread (:meth:`NginxWorld.call` runs a coroutine on the loop and waits). Services map to
backends as a cluster would route them: the apex and ``-primary`` Services to the primary
backend, ``-canary`` to the canary backend. :meth:`stop` stops all of it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import pathlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from flagger.kube import client as kube_client
from tests.support import prometheus_server

from . import backends, controller

T = TypeVar("T")


class NginxWorld:
    """Backends, nginx, the controller and the exporter for one namespace and app."""

    def __init__(
        self, kubeconfig: pathlib.Path, namespace: str, app: str, workdir: pathlib.Path
    ) -> None:
        self.kubeconfig, self.namespace, self.app = kubeconfig, namespace, app
        self.workdir = workdir
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="nginx-world", daemon=True
        )
        self.primary = backends.Backend("primary")
        self.canary = backends.Backend("canary")
        self.port = prometheus_server.free_port()
        self.nginx = controller.NginxProcess(workdir / "nginx", self.port)
        self.exporter = controller.AccessLogExporter(workdir / "nginx" / "access.log")
        self.kube: kube_client.Kube | None = None
        self.controller: controller.IngressController | None = None
        self.session: aiohttp.ClientSession | None = None
        self.metrics_target = ""
        self._metrics_runner: web.AppRunner | None = None
        self._traffic: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> NginxWorld:
        self.thread.start()
        try:
            self.call(self._start())
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        await self.primary.start()
        await self.canary.start()
        self.kube = await kube_client.Kube.connect(str(self.kubeconfig))
        addresses = {
            f"{self.namespace}/{self.app}": self.primary.address,
            f"{self.namespace}/{self.app}-primary": self.primary.address,
            f"{self.namespace}/{self.app}-canary": self.canary.address,
        }
        self.controller = controller.IngressController(
            self.kube, self.namespace, self.nginx, addresses
        )
        # A new connection per request, so a reload's new workers serve at once.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, limit=50),
            timeout=aiohttp.ClientTimeout(total=10),
        )
        await self.controller.start()
        await self.exporter.start()
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._metrics_runner = web.AppRunner(app, access_log=None)
        await self._metrics_runner.setup()
        port = prometheus_server.free_port()
        await web.TCPSite(self._metrics_runner, "127.0.0.1", port).start()
        self.metrics_target = f"127.0.0.1:{port}"

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.exporter.exposition(), content_type="text/plain", charset="utf-8"
        )

    def stop(self) -> None:
        if self.thread.is_alive():
            with contextlib.suppress(Exception):
                self.call(self._stop(), timeout=60)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
        self.nginx.stop()

    async def _stop(self) -> None:
        await self._stop_traffic()
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
        if self.controller is not None:
            await self.controller.stop()
        await self.exporter.stop()
        if self.session is not None:
            await self.session.close()
        if self.kube is not None:
            await self.kube.close()
        await self.primary.stop()
        await self.canary.stop()

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        """Run a coroutine on the world's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    # --- traffic --------------------------------------------------------------------------

    def wait_applied(self, predicate: Any, host: str, timeout: float = 30) -> None:
        assert self.controller is not None and self.session is not None
        self.call(self.controller.wait_applied(predicate, self.session, host, timeout), timeout + 5)

    def send(
        self, count: int, host: str, headers: dict[str, str] | None = None, concurrency: int = 20
    ) -> collections.Counter[str]:
        """``count`` GETs through nginx; how many each backend served (by ``X-Served-By``)."""
        return self.call(self._send(count, host, headers or {}, concurrency))

    async def _send(
        self, count: int, host: str, headers: dict[str, str], concurrency: int
    ) -> collections.Counter[str]:
        assert self.session is not None
        served: collections.Counter[str] = collections.Counter()
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with (
                gate,
                self.session.get(  # type: ignore[union-attr]
                    f"http://127.0.0.1:{self.port}/", headers={"Host": host, **headers}
                ) as resp,
            ):
                await resp.read()
                served[resp.headers.get("X-Served-By", f"status-{resp.status}")] += 1

        await asyncio.gather(*(one() for _ in range(count)))
        return served

    def start_traffic(self, host: str, per_second: float = 20.0) -> None:
        """A background loop of requests through nginx until :meth:`stop_traffic`."""

        async def begin() -> None:
            self._traffic = asyncio.create_task(self._loop(host, per_second))

        self.call(begin())

    def stop_traffic(self) -> None:
        self.call(self._stop_traffic())

    async def _stop_traffic(self) -> None:
        if self._traffic is not None:
            self._traffic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._traffic
            self._traffic = None

    async def _loop(self, host: str, per_second: float) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                await self._send(max(1, int(per_second / 10)), host, {}, 5)
            await asyncio.sleep(0.1)
