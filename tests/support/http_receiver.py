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
import time
from typing import Any

from aiohttp import web

from tests.support import local_server


@dataclasses.dataclass(frozen=True)
class Request:
    """One request as it arrived."""

    path: str
    query: str
    headers: dict[str, str]
    raw: bytes
    #: ``time.monotonic()`` when it arrived.
    at: float = dataclasses.field(default_factory=time.monotonic)


class Receiver(local_server.ThreadedServer):
    """Records ``(path, json)`` of every POST; answers 200 unless told otherwise."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self.answers: dict[str, int] = {}
        self.bodies: dict[str, str] = {}
        self.delays: dict[str, float] = {}
        self.requests: list[Request] = []
        self.in_flight = 0
        super().__init__()

    def routes(self) -> list[tuple[str, str, local_server.Handler]]:
        return [("POST", "/{tail:.*}", self._handle)]

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

    def paths(self) -> list[str]:
        """The paths POSTed to, in order."""
        return [path for path, _ in self.received]
