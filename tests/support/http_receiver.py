"""A local aiohttp server, in a thread of its own, that records the JSON it is sent.

Tests set the status each path answers with (``answers[path] = 500``), the body
(``bodies[path]``) and a delay (``delays[path]`` seconds), and read what arrived: ``received``
(path and JSON) and ``requests`` (every request whole: path, query, headers, raw body, when it
arrived), with ``in_flight`` counting the requests not answered yet. It binds 127.0.0.1 on a
free port and is stopped by :meth:`Receiver.stop`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import Any

from aiohttp import web


@dataclasses.dataclass(frozen=True)
class Request:
    """One request as it arrived."""

    path: str
    query: str
    headers: dict[str, str]
    raw: bytes
    #: ``time.monotonic()`` when it arrived.
    at: float = dataclasses.field(default_factory=time.monotonic)


class Receiver:
    """Records ``(path, json)`` of every POST; answers 200 unless told otherwise."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self.answers: dict[str, int] = {}
        self.bodies: dict[str, str] = {}
        self.delays: dict[str, float] = {}
        self.requests: list[Request] = []
        self.in_flight = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests.append(
            Request(request.path, request.query_string, dict(request.headers), raw)
        )
        body = await request.json() if raw else None
        self.received.append((request.path, body))
        self.in_flight += 1
        try:
            await asyncio.sleep(self.delays.get(request.path, 0.0))
        finally:
            self.in_flight -= 1
        return web.Response(
            status=self.answers.get(request.path, 200), text=self.bodies.get(request.path, "ok")
        )

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def paths(self) -> list[str]:
        """The paths POSTed to, in order."""
        return [path for path, _ in self.received]
