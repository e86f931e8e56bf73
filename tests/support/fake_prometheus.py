"""A local aiohttp server speaking Prometheus's ``/api/v1/query`` (GET or POST), in a thread
of its own, whose answer the test chooses: ``mode`` is ``"value"`` (a vector with ``value``),
``"nan"``, ``"empty"`` (an empty vector), ``"wrong-type"`` (a string result), ``"garbage"``
(not JSON) or ``"error"`` (HTTP 500). ``/-/healthy`` answers 200. Binds 127.0.0.1 on a free
port; :meth:`FakePrometheus.stop` stops it (then the port refuses connections: "down")."""

from __future__ import annotations

import json

from aiohttp import web

from tests.support import local_server


class FakePrometheus(local_server.ThreadedServer):
    """Answers instant queries as ``mode`` says and counts them in ``queries``."""

    def __init__(self, mode: str = "value", value: float = 1.0) -> None:
        self.mode = mode
        self.value = value
        self.queries = 0
        super().__init__()

    def routes(self) -> list[tuple[str, str, local_server.Handler]]:
        return [("*", "/api/v1/query", self._query), ("GET", "/-/healthy", self._healthy)]

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
