"""The Dynatrace backend against a local server that speaks the Metrics API v2.

The server checks what Dynatrace checks: the paths, ``Authorization: Api-Token <token>`` (401
``{"error": {"code": 401, "message": ...}}`` otherwise), ``metricSelector``, ``resolution``,
``from`` and ``to`` (400 in the same error shape when missing or malformed), and answers
``{"totalCount", "nextPageKey", "resolution", "result": [{"metricId", "data": [{"dimensions",
"dimensionMap", "timestamps", "values"}]}]}``. Matrix: the value, the window (10 x interval in
ms) and ``resolution=Inf``, no result, no series, a null value, several series, an unknown
metric, a wrong token, availability, and the plugin hook end to end.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from flagger import plugins
from flagger.metrics.backends import dynatrace
from tests.support.local_server import Handler, LocalServer

TOKEN = "dt0c01.SAMPLE.TOKEN"
SELECTOR = "builtin:service.errors.total.rate:filter(eq(dt.entity.service,SERVICE-1))"


def _error(code: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=code)


class FakeDynatrace(LocalServer):
    """``data`` maps metric selectors to the series list to answer; unknown selectors get 404
    as Dynatrace answers for an unknown metric key."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[web.Request] = []

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Api-Token {TOKEN}"

    async def query(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if not self._authorized(request):
            return _error(401, "Missing authorization parameter.")
        params = request.query
        try:
            start, end = int(params["from"]), int(params["to"])
        except (KeyError, ValueError):
            return _error(400, "Constraints violated: from and to must be timestamps")
        if start >= end or params.get("resolution") is None:
            return _error(400, "Constraints violated: invalid timeframe or resolution")
        selector = params.get("metricSelector", "")
        if selector not in self.data:
            return _error(404, f"The metric key {selector} is not known")
        return web.json_response(
            {
                "totalCount": 1,
                "nextPageKey": None,
                "resolution": params["resolution"],
                "result": [
                    {
                        "metricId": selector,
                        "dataPointCountRatio": 0.0001,
                        "dimensionCountRatio": 0.001,
                        "data": self.data[selector],
                    }
                ],
            }
        )

    async def metrics(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if not self._authorized(request):
            return _error(401, "Token Authentication failed")
        return web.json_response(
            {
                "totalCount": 1000,
                "nextPageKey": "k",
                "metrics": [{"metricId": "builtin:host.cpu.usage"}],
            }
        )

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v2/metrics/query", self.query),
            ("GET", "/api/v2/metrics", self.metrics),
        ]


def _series(*values: float | None, service: str = "SERVICE-1") -> dict[str, Any]:
    return {
        "dimensions": [service],
        "dimensionMap": {"dt.entity.service": service},
        "timestamps": [1_700_000_000_000 + i for i in range(len(values))],
        "values": list(values),
    }


@pytest.fixture
async def server() -> AsyncIterator[FakeDynatrace]:
    fake = await FakeDynatrace().start()
    yield fake
    await fake.stop()


def _backend(url: str, *, token: str = TOKEN, interval: str = "1m") -> dynatrace.DynatraceBackend:
    return dynatrace.from_provider_spec(
        {
            "type": "dynatrace",
            "address": url,
            "secretRef": {"name": "dynatrace"},
            "credentials": {"dynatrace_token": token},
            "metricInterval": interval,
        }
    )


async def test_value_over_ten_intervals_at_resolution_inf(server: FakeDynatrace) -> None:
    server.data[SELECTOR] = [_series(0.42)]
    before = int(time.time()) * 1000
    assert await _backend(server.url, interval="30s").run_query(SELECTOR) == 0.42
    request = server.requests[-1]
    assert request.query["resolution"] == "Inf"
    assert request.query["metricSelector"] == SELECTOR
    start, end = int(request.query["from"]), int(request.query["to"])
    assert end - start == 300_000
    assert before <= end <= int(time.time()) * 1000


@pytest.mark.parametrize(
    "data",
    [
        [],  # the selector matched no series
        [_series()],  # a series without values
        [_series(None)],  # no data points in the window
    ],
    ids=["no-series", "no-values", "null-value"],
)
async def test_no_values_found(server: FakeDynatrace, data: list[dict[str, Any]]) -> None:
    server.data[SELECTOR] = data
    with pytest.raises(plugins.NoValuesFound, match="no values found"):
        await _backend(server.url).run_query(SELECTOR)


async def test_several_series_are_an_error(server: FakeDynatrace) -> None:
    server.data[SELECTOR] = [_series(1.0, service="SERVICE-1"), _series(2.0, service="SERVICE-2")]
    with pytest.raises(dynatrace.common.QueryError, match="2 series"):
        await _backend(server.url).run_query(SELECTOR)


async def test_dynatrace_error_text_is_shown(server: FakeDynatrace) -> None:
    with pytest.raises(
        dynatrace.common.QueryError, match="HTTP 404: The metric key builtin:nope is not known"
    ):
        await _backend(server.url).run_query("builtin:nope")


async def test_wrong_token_is_refused(server: FakeDynatrace) -> None:
    with pytest.raises(dynatrace.common.QueryError, match="HTTP 401"):
        await _backend(server.url, token="wrong").run_query(SELECTOR)


async def test_is_online(server: FakeDynatrace) -> None:
    assert await _backend(server.url).is_online() is True
    request = server.requests[-1]
    assert (request.path, request.query.get("pageSize")) == ("/api/v2/metrics", "1")
    assert await _backend(server.url, token="wrong").is_online() is False
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert await _backend(f"http://127.0.0.1:{closed}").is_online() is False


async def test_through_the_plugin_hook(server: FakeDynatrace) -> None:
    server.data[SELECTOR] = [_series(3.0)]
    spec = {
        "type": "dynatrace",
        "address": server.url,
        "secretRef": {"name": "dt"},
        "credentials": {"dynatrace_token": TOKEN},
    }
    backend = plugins.load(extra=[dynatrace]).metric_backend(
        "dynatrace", spec, plugins.PluginContext()
    )
    assert await backend.run_query(SELECTOR) == 3.0
