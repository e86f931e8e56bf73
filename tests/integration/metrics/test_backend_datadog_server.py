"""The Datadog backend against a local server that speaks Datadog's v1 metrics API.

The server checks what Datadog checks: the path, the ``DD-API-KEY`` and ``DD-APPLICATION-KEY``
headers (403 ``{"errors": ["Forbidden"]}`` otherwise), the ``query``, ``from`` and ``to``
parameters (400 ``{"errors": [...]}`` when missing or not integers), and answers in Datadog's
format (``status``, ``series[].pointlist``, ``error``). Matrix: the value (first point), the
window (10 x interval), no series, a null point, several series, an error answer, wrong keys,
availability (right keys, wrong keys, nothing listening), and the plugin hook end to end.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from flagger import plugins
from flagger.metrics.backends import datadog
from tests.support.local_server import Handler, LocalServer

API_KEY, APP_KEY = "api-key-1", "app-key-1"


class FakeDatadog(LocalServer):
    """Datadog's ``/api/v1/query`` and ``/api/v1/validate``; ``series`` maps queries to the
    series list to answer, ``errors`` maps queries to a query error."""

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[str, list[dict[str, Any]]] = {}
        self.errors: dict[str, str] = {}
        self.requests: list[web.Request] = []

    def _authorized(self, request: web.Request, *, app_key: bool) -> bool:
        ok = request.headers.get("DD-API-KEY") == API_KEY
        return ok and (not app_key or request.headers.get("DD-APPLICATION-KEY") == APP_KEY)

    async def query(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if not self._authorized(request, app_key=True):
            return web.json_response({"errors": ["Forbidden"]}, status=403)
        params = request.query
        for name in ("from", "to", "query"):
            if name not in params:
                return web.json_response(
                    {"errors": [f"The value provided for parameter '{name}' is invalid"]},
                    status=400,
                )
        try:
            start, end = int(params["from"]), int(params["to"])
        except ValueError:
            return web.json_response({"errors": ["from and to must be integers"]}, status=400)
        query = params["query"]
        body: dict[str, Any] = {
            "status": "ok",
            "res_type": "time_series",
            "query": query,
            "message": "",
            "from_date": start * 1000,
            "to_date": end * 1000,
            "group_by": [],
            "series": self.series.get(query, []),
        }
        if query in self.errors:
            body.update(status="error", error=self.errors[query], series=[])
        return web.json_response(body)

    async def validate(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if not self._authorized(request, app_key=False):
            return web.json_response({"errors": ["Forbidden"]}, status=403)
        return web.json_response({"valid": True})

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/api/v1/query", self.query), ("GET", "/api/v1/validate", self.validate)]


def _series(*points: list[Any], scope: str = "service:podinfo") -> dict[str, Any]:
    return {
        "metric": "trace.http.request.hits",
        "scope": scope,
        "expression": "x",
        "interval": 60,
        "length": len(points),
        "pointlist": list(points),
    }


@pytest.fixture
async def server() -> AsyncIterator[FakeDatadog]:
    fake = await FakeDatadog().start()
    yield fake
    await fake.stop()


def _backend(url: str, interval: str = "1m", api_key: str = API_KEY) -> datadog.DatadogBackend:
    return datadog.from_provider_spec(
        {
            "type": "datadog",
            "address": url,
            "secretRef": {"name": "datadog"},
            "credentials": {"datadog_api_key": api_key, "datadog_application_key": APP_KEY},
            "metricInterval": interval,
        }
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


QUERY = "sum:trace.http.request.errors{service:podinfo}.as_count()"


async def test_value_is_the_first_point_over_ten_intervals(server: FakeDatadog) -> None:
    server.series[QUERY] = [_series([1_700_000_000_000, 2.5], [1_700_000_060_000, 99.0])]
    before = int(time.time())
    assert await _backend(server.url).run_query(QUERY) == 2.5
    request = server.requests[-1]
    assert request.path == "/api/v1/query"
    start, end = int(request.query["from"]), int(request.query["to"])
    assert end - start == 600
    assert before <= end <= int(time.time())
    assert request.query["query"] == QUERY


async def test_window_follows_the_metric_interval(server: FakeDatadog) -> None:
    server.series[QUERY] = [_series([1, 7.0])]
    assert await _backend(server.url, interval="30s").run_query(QUERY) == 7.0
    request = server.requests[-1]
    assert int(request.query["to"]) - int(request.query["from"]) == 300


@pytest.mark.parametrize(
    "series",
    [
        [],  # nothing matched the query
        [_series()],  # a series without points
        [_series([1, None], [2, 3.0])],  # the first bucket has no value
    ],
    ids=["no-series", "no-points", "null-point"],
)
async def test_no_values_found(server: FakeDatadog, series: list[dict[str, Any]]) -> None:
    server.series[QUERY] = series
    with pytest.raises(plugins.NoValuesFound, match="no values found"):
        await _backend(server.url).run_query(QUERY)


async def test_several_series_are_an_error(server: FakeDatadog) -> None:
    server.series[QUERY] = [_series([1, 1.0], scope="host:a"), _series([1, 2.0], scope="host:b")]
    with pytest.raises(datadog.common.QueryError, match=r"2 series.*host:a, host:b"):
        await _backend(server.url).run_query(QUERY)


async def test_datadog_error_text_is_shown(server: FakeDatadog) -> None:
    server.errors["bogus{"] = "Error parsing query: unable to parse bogus{: Rule 'scope_expr'"
    with pytest.raises(datadog.common.QueryError, match="Error parsing query: unable to parse"):
        await _backend(server.url).run_query("bogus{")


async def test_wrong_keys_are_refused_with_datadogs_message(server: FakeDatadog) -> None:
    with pytest.raises(datadog.common.QueryError, match="HTTP 403: Forbidden"):
        await _backend(server.url, api_key="wrong").run_query(QUERY)


async def test_is_online(server: FakeDatadog) -> None:
    assert await _backend(server.url).is_online() is True
    request = server.requests[-1]
    assert request.path == "/api/v1/validate"
    assert request.headers["DD-APPLICATION-KEY"] == APP_KEY
    assert await _backend(server.url, api_key="wrong").is_online() is False
    assert await _backend(f"http://127.0.0.1:{_closed_port()}").is_online() is False


async def test_unreachable_is_a_query_error() -> None:
    with pytest.raises(datadog.common.QueryError, match="request failed"):
        await _backend(f"http://127.0.0.1:{_closed_port()}").run_query(QUERY)


async def test_through_the_plugin_hook(server: FakeDatadog) -> None:
    server.series[QUERY] = [_series([1, 42.0])]
    installed = plugins.load(extra=[datadog])
    spec = {
        "type": "datadog",
        "address": server.url,
        "secretRef": {"name": "dd"},
        "credentials": {"datadog_api_key": API_KEY, "datadog_application_key": APP_KEY},
    }
    backend = installed.metric_backend("datadog", spec, plugins.PluginContext())
    assert await backend.run_query(QUERY) == 42.0
    assert await backend.is_online()
