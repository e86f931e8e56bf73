"""A fake HTTP service for tests: an aiohttp app on 127.0.0.1, on a free port, in the test's
own event loop."""

from __future__ import annotations

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
