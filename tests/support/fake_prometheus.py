"""A local aiohttp server speaking Prometheus's ``/api/v1/query`` (GET or POST), in a thread
of its own, whose answer the test chooses: ``mode`` is ``"value"`` (a vector with ``value``),
``"nan"``, ``"empty"`` (an empty vector), ``"wrong-type"`` (a string result), ``"garbage"``
(not JSON) or ``"error"`` (HTTP 500). ``/-/healthy`` answers 200. Binds 127.0.0.1 on a free
port; :meth:`FakePrometheus.stop` stops it (then the port refuses connections: "down")."""

from __future__ import annotations

import asyncio
import json
import threading

from aiohttp import web


class FakePrometheus:
    """Answers instant queries as ``mode`` says and counts them in ``queries``."""

    def __init__(self, mode: str = "value", value: float = 1.0) -> None:
        self.mode = mode
        self.value = value
        self.queries = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _answer(self) -> web.Response:
        result: list[object] = []
        kind = "vector"
        match self.mode:
            case "value":
                result = [{"metric": {}, "value": [1700000000.0, str(self.value)]}]
            case "nan":
                result = [{"metric": {}, "value": [1700000000.0, "NaN"]}]
            case "empty":
                pass
            case "wrong-type":
                kind, result = "string", [1700000000.0, "zero"]
            case "garbage":
                return web.Response(text="<html>not prometheus</html>")
            case _:
                return web.Response(status=500, text="internal error")
        answer = {"status": "success", "data": {"resultType": kind, "result": result}}
        return web.Response(text=json.dumps(answer), content_type="application/json")

    async def _query(self, request: web.Request) -> web.Response:
        await request.read()
        self.queries += 1
        return self._answer()

    async def _healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="Prometheus Server is Healthy.")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/v1/query", self._query)
        app.router.add_route("GET", "/-/healthy", self._healthy)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    def start(self) -> FakePrometheus:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
