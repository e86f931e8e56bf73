"""aiohttp servers playing the pods behind a Service: every answer names who served it."""

from __future__ import annotations

import asyncio
import dataclasses
import random

from aiohttp import web

from tests.support import prometheus_server


@dataclasses.dataclass
class Backend:
    """One HTTP server on 127.0.0.1; ``error_ratio`` of its answers are 500s."""

    name: str
    error_ratio: float = 0.0
    delay_seconds: float = 0.0
    served: int = 0
    address: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> Backend:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = prometheus_server.free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.address = f"127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.served += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.error_ratio and random.random() < self.error_ratio:
            return web.Response(status=500, text=f"{self.name} failed\n")
        return web.Response(text=f"{self.name}\n", headers={"X-Served-By": self.name})
