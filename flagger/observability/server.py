"""The daemon's HTTP endpoint on ``-port`` (default 8080): metrics and probes.

- ``GET /metrics``: the :class:`~flagger.observability.metrics.Metrics` registry in Prometheus'
  text format (what Flagger serves on the same port and path).
- ``GET /healthz``: 200 ``OK`` while the process serves requests (liveness).
- ``GET /readyz``: 200 ``OK`` when the ``ready`` callback says so (caches synced, leader known),
  503 otherwise; a callback that raises counts as not ready and its error is in the body.

:func:`start` binds and returns a :class:`Server`; :meth:`Server.stop` closes it. Port 0 picks a
free port, shown by :attr:`Server.port`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from aiohttp import web

from flagger.observability import metrics as metrics_module

__all__ = ["DEFAULT_PORT", "ReadyCheck", "Server", "build_app", "start"]

DEFAULT_PORT = 8080

#: Answers whether the daemon is ready; may be a plain or an async function.
ReadyCheck = Callable[[], bool | Awaitable[bool]]


def _always_ready() -> bool:
    return True


def build_app(
    metrics: metrics_module.Metrics, ready: ReadyCheck = _always_ready
) -> web.Application:
    """The aiohttp application serving ``/metrics``, ``/healthz`` and ``/readyz``."""

    async def serve_metrics(request: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics.exposition)
        response = web.Response(body=body)
        response.headers["Content-Type"] = metrics_module.CONTENT_TYPE
        return response

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def readyz(request: web.Request) -> web.Response:
        try:
            answer = ready()
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception as exc:
            return web.Response(status=503, text=f"not ready: {exc}")
        if answer:
            return web.Response(text="OK")
        return web.Response(status=503, text="not ready")

    app = web.Application()
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


class Server:
    """A running metrics and probes server."""

    def __init__(self, runner: web.AppRunner, site: web.TCPSite, host: str, port: int) -> None:
        self._runner = runner
        self._site = site
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8080``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting requests and close the listening socket."""
        await self._runner.cleanup()


async def start(
    metrics: metrics_module.Metrics,
    ready: ReadyCheck = _always_ready,
    *,
    host: str = "0.0.0.0",
    port: int = DEFAULT_PORT,
) -> Server:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port``."""
    runner = web.AppRunner(build_app(metrics, ready), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    addresses = runner.addresses
    bound = int(addresses[0][1]) if addresses else port
    return Server(runner, site, host, bound)
