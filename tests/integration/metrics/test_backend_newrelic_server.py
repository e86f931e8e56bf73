"""The New Relic backend against a local server that speaks the Insights query API.

The server checks what Insights checks: the path ``/v1/accounts/<id>/query`` (404 for another
account), the ``X-Query-Key`` header (403 ``{"error": ...}`` otherwise), the ``nrql``
parameter (400 ``{"error": "NRQL Syntax Error: ..."}`` when it does not parse, here: does not
start with SELECT or lacks SINCE), and answers ``{"results": [...], "metadata": {...}}``.
Matrix: an arithmetic ``result``, a single named function value, the SINCE window, no results,
a null result, several results, a FACET answer, a syntax error, a wrong key, availability, and
the plugin hook end to end.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from flagger import plugins
from flagger.metrics.backends import newrelic
from tests.support.local_server import Handler, LocalServer

ACCOUNT, KEY = "51312", "NRIQ-query-key"


class FakeInsights(LocalServer):
    """``answers`` maps the NRQL (without its SINCE clause) to the JSON body to answer."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, dict[str, Any]] = {}
        self.nrql: list[str] = []

    async def query(self, request: web.Request) -> web.Response:
        if request.match_info["account"] != ACCOUNT:
            return web.json_response({"error": "Account not found"}, status=404)
        if request.headers.get("X-Query-Key") != KEY:
            return web.json_response(
                {"error": "Invalid query key (maybe you are using the wrong account id?)"},
                status=403,
            )
        nrql = request.query.get("nrql", "")
        self.nrql.append(nrql)
        match = re.fullmatch(r"(SELECT .+) SINCE (\d+) seconds ago", nrql)
        if match is None:
            return web.json_response(
                {"error": f"NRQL Syntax Error: Error at line 1: {nrql}"}, status=400
            )
        body = self.answers.get(match.group(1), {"results": [{"events": []}]})
        body.setdefault(
            "metadata",
            {
                "eventTypes": ["Metric"],
                "rawSince": f"{match.group(2)} SECONDS AGO",
                "rawUntil": "NOW",
            },
        )
        return web.json_response(body)

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/v1/accounts/{account}/query", self.query)]


@pytest.fixture
async def server() -> AsyncIterator[FakeInsights]:
    fake = await FakeInsights().start()
    yield fake
    await fake.stop()


def _backend(
    url: str, *, key: str = KEY, account: str = ACCOUNT, interval: str = "1m"
) -> newrelic.NewRelicBackend:
    return newrelic.from_provider_spec(
        {
            "type": "newrelic",
            "address": url,
            "secretRef": {"name": "newrelic"},
            "credentials": {"newrelic_account_id": account, "newrelic_query_key": key},
            "metricInterval": interval,
        }
    )


RATE = (
    "SELECT filter(sum(nginx_ingress_controller_requests), WHERE status >= '500') / "
    "sum(nginx_ingress_controller_requests) * 100 FROM Metric WHERE ingress = 'podinfo'"
)


async def test_arithmetic_result_over_the_interval(server: FakeInsights) -> None:
    server.answers[RATE] = {"results": [{"result": 1.25}]}
    assert await _backend(server.url, interval="2m").run_query(RATE) == 1.25
    assert server.nrql[-1] == f"{RATE} SINCE 120 seconds ago"


async def test_single_function_value(server: FakeInsights) -> None:
    query = "SELECT average(duration) FROM Transaction WHERE appName = 'podinfo'"
    server.answers[query] = {"results": [{"average": 0.213}]}
    assert await _backend(server.url).run_query(query) == 0.213


@pytest.mark.parametrize(
    "body",
    [
        {"results": []},
        {"results": [{"result": None}]},
    ],
    ids=["no-results", "null-result"],
)
async def test_no_values_found(server: FakeInsights, body: dict[str, Any]) -> None:
    server.answers[RATE] = body
    with pytest.raises(plugins.NoValuesFound, match="no values found"):
        await _backend(server.url).run_query(RATE)


async def test_several_results_are_an_error(server: FakeInsights) -> None:
    server.answers[RATE] = {"results": [{"count": 3}, {"average": 1.5}]}
    with pytest.raises(newrelic.common.QueryError, match="2 results"):
        await _backend(server.url).run_query(RATE)


async def test_facets_are_an_error(server: FakeInsights) -> None:
    server.answers[RATE] = {
        "facets": [
            {"name": "a", "results": [{"result": 1}]},
            {"name": "b", "results": [{"result": 2}]},
        ]
    }
    with pytest.raises(newrelic.common.QueryError, match="2 facets"):
        await _backend(server.url).run_query(RATE)


async def test_syntax_error_text_is_shown(server: FakeInsights) -> None:
    with pytest.raises(newrelic.common.QueryError, match="HTTP 400: NRQL Syntax Error"):
        await _backend(server.url).run_query("SELEKT nothing")


async def test_wrong_key_is_refused(server: FakeInsights) -> None:
    with pytest.raises(newrelic.common.QueryError, match="HTTP 403: Invalid query key"):
        await _backend(server.url, key="wrong").run_query(RATE)


async def test_is_online(server: FakeInsights) -> None:
    assert await _backend(server.url).is_online() is True
    assert server.nrql[-1] == "SELECT * FROM Metric SINCE 60 seconds ago"
    assert await _backend(server.url, key="wrong").is_online() is False
    assert await _backend(server.url, account="1").is_online() is False
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert await _backend(f"http://127.0.0.1:{closed}").is_online() is False


async def test_through_the_plugin_hook(server: FakeInsights) -> None:
    server.answers[RATE] = {"results": [{"result": 99.5}]}
    spec = {
        "type": "newrelic",
        "address": server.url,
        "secretRef": {"name": "nr"},
        "credentials": {"newrelic_account_id": ACCOUNT, "newrelic_query_key": KEY},
    }
    backend = plugins.load(extra=[newrelic]).metric_backend(
        "newrelic", spec, plugins.PluginContext()
    )
    assert await backend.run_query(RATE) == 99.5
