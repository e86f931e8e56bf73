"""A fake HTTP service for tests: an aiohttp app on 127.0.0.1, on a free port, in the test's
own event loop (:class:`LocalServer`) or in a thread of its own for tests that are not async
(:class:`ThreadedServer`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Self

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LocalServer:
    """Serves the ``(method, path, handler)`` routes a subclass lists in :meth:`routes` at
    :attr:`url` between :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[tuple[str, str, Handler]]:
        """The routes served."""
        raise NotImplementedError

    async def start(self) -> Self:
        """Listen on a free port of 127.0.0.1; :attr:`url` is where."""
        app = web.Application()
        for method, path, handler in self.routes():
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class _Routes(LocalServer):
    def __init__(self, routes: list[tuple[str, str, Handler]]) -> None:
        super().__init__()
        self._routes = routes

    def routes(self) -> list[tuple[str, str, Handler]]:
        return self._routes


class ThreadedServer:
    """Serves the routes a subclass lists in :meth:`routes` from an event loop on a thread of
    its own, with a synchronous :meth:`start`/:meth:`stop` (the daemon runs as a process and the
    test polls)."""

    def __init__(self) -> None:
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: LocalServer | None = None

    def routes(self) -> list[tuple[str, str, Handler]]:
        """The routes served."""
        raise NotImplementedError

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1; :attr:`url` is where."""
        self._thread.start()
        server = _Routes(self.routes())
        asyncio.run_coroutine_threadsafe(server.start(), self._loop).result(timeout=10)
        self._server, self.url = server, server.url
        return self

    def stop(self) -> None:
        """Stop listening, and the thread."""
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop).result(10)
            self._server = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
