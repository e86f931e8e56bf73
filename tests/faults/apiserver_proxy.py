"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the local control plane's API server.

The daemon talks plain HTTP to the proxy, which forwards over TLS (trusting the cluster's CA).
About ``rate`` of the non-watch requests get a fault instead of (or before) forwarding: a 429
with ``Retry-After``, a 500, a connection reset, or a slow answer. Faulted requests other than
slow ones never reach the API server, so a retry cannot duplicate a write. Watches are streamed
through untouched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import ssl
import threading
import time

import aiohttp
from aiohttp import web

FAULTS = ("429", "500", "reset", "slow")
RETRY_AFTER_SECONDS = 1
SLOW_SECONDS = 2.0
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclasses.dataclass
class Proxy:
    """Runs in its own thread; ``url`` once started; counts of injected faults in ``injected``."""

    upstream: str
    ssl_context: ssl.SSLContext
    rate: float = 0.1
    seed: int = 5
    url: str = ""
    injected: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(FAULTS, 0))

    @property
    def seconds_blind(self) -> float:
        """Seconds the faults held the daemon back: slow answers and ``Retry-After`` waits."""
        return self.injected["slow"] * SLOW_SECONDS + self.injected["429"] * RETRY_AFTER_SECONDS

    #: 429s answered, and how many of those were retried sooner than ``Retry-After`` allowed.
    throttled: int = 0
    early_retries: int = 0
    _last_429: dict[str, float] = dataclasses.field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stopped: asyncio.Event | None = None

    def start(self) -> Proxy:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._serve(ready))

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        rng = random.Random(self.seed)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self.ssl_context), auto_decompress=False
        ) as session:

            async def handle(request: web.Request) -> web.StreamResponse:
                key = f"{request.method} {request.path_qs}"
                watch = request.query.get("watch") in {"true", "1"}
                now = time.monotonic()
                sent = self._last_429.pop(key, None)
                if sent is not None and now - sent < RETRY_AFTER_SECONDS - 0.05:
                    self.early_retries += 1
                fault = rng.choice(FAULTS) if not watch and rng.random() < self.rate else None
                if fault is not None:
                    self.injected[fault] += 1
                if fault == "429":
                    self.throttled += 1
                    self._last_429[key] = now
                    return _status(429, "TooManyRequests", {"Retry-After": "1"})
                if fault == "500":
                    return _status(500, "InternalError", {})
                if fault == "reset":
                    if request.transport is not None:
                        request.transport.abort()
                    return web.Response()
                if fault == "slow":
                    await asyncio.sleep(SLOW_SECONDS)
                return await _forward(session, self.upstream, request)

            app = web.Application(client_max_size=2**26)
            app.router.add_route("*", "/{tail:.*}", handle)
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            ready.set()
            await self._stopped.wait()
            await runner.cleanup()


def _status(code: int, reason: str, headers: dict[str, str]) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason}
    return web.json_response({**body, "code": code}, status=code, headers=headers)


async def _forward(
    session: aiohttp.ClientSession, upstream: str, request: web.Request
) -> web.StreamResponse:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP | {"host"}}
    async with session.request(
        request.method,
        upstream + request.path_qs,
        headers=headers,
        data=await request.read() if request.can_read_body else None,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
    ) as answer:
        out = web.StreamResponse(
            status=answer.status,
            headers={k: v for k, v in answer.headers.items() if k.lower() not in _HOP},
        )
        await out.prepare(request)
        try:
            async for chunk in answer.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
        except (ConnectionResetError, aiohttp.ClientPayloadError):  # a watch closed mid-stream
            pass
        return out
