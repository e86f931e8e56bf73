"""Fixtures for the webhook tests: a Canary builder and a real HTTP receiver on 127.0.0.1.

The receiver answers from a script of (status, body, delay) steps, the last step repeating,
and keeps every request it got (raw body and headers), so tests assert what went over the wire.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from flagger.api import canary as canary_api
from tests.support import canaries


def build_canary(
    webhooks: list[dict[str, Any]] | None = None, status: dict[str, Any] | None = None
) -> canary_api.Canary:
    """The tutorial's podinfo Canary in namespace ``test`` with the given hooks and status."""
    analysis = {"interval": "1m", "threshold": 5, "stepWeight": 10, "webhooks": webhooks or []}
    return canaries.canary(
        canaries.podinfo_spec(analysis=analysis), namespace="test", status=status
    )


@pytest.fixture
def make_canary() -> Callable[..., canary_api.Canary]:
    return build_canary


@dataclasses.dataclass
class Step:
    status: int = 200
    body: str = ""
    delay: float = 0.0
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]


class Receiver:
    """A scripted webhook receiver; ``url`` is its base URL."""

    def __init__(self) -> None:
        self.script: list[Step] = [Step()]
        self.received: list[Received] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def answer(self, *steps: dict[str, Any]) -> None:
        """Script the answers: ``{"status": 503, "body": "...", "delay": 0.5, "headers": {}}``."""
        self.script = [Step(**step) for step in steps]

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path, await request.read(), dict(request.headers)))
        step = self.script[min(len(self.received) - 1, len(self.script) - 1)]
        if step.delay:
            await asyncio.sleep(step.delay)
        return web.Response(status=step.status, text=step.body, headers=step.headers)

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
