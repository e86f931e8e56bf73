"""The InfluxDB backend against a local server speaking InfluxDB 2's Flux query API.

Debian ships InfluxDB 1.6 (package ``influxdb``), which has no Flux and no ``/api/v2/query``,
so Flagger's Flux requests are tested against an aiohttp server on 127.0.0.1 that checks what
InfluxDB 2 checks and answers in its formats: ``POST /api/v2/query`` only; ``Authorization:
Token <token>`` (401 ``unauthorized access`` otherwise); an ``org`` that exists (400 ``Please
provide either orgID or org`` when empty, 404 when unknown); a JSON body with ``query``,
``type: flux`` and the annotated-CSV dialect (400 otherwise); annotated CSV answers, JSON errors
(``compilation failed``), an error table mid-stream and bucket ``default`` missing or present.

Checked: a value, several tables, an empty result, compile and runtime errors, credentials
from the Secret (wrong token, no Secret), availability, and the plugin hook.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
from aiohttp import web

from flagger import plugins
from flagger.metrics.backends import influxdb, prometheus

TOKEN = "influx-token=="
ORG = "flagger-org"
HEAD = (
    "#datatype,string,long,dateTimeRFC3339,dateTimeRFC3339,double,string,string\r\n"
    "#group,false,false,true,true,false,true,true\r\n"
    "#default,_result,,,,,,\r\n"
    ",result,table,_start,_stop,_value,_field,_measurement\r\n"
)
ROW = ",,{t},2026-11-26T10:00:00Z,2026-11-26T12:00:00Z,{v},usage_idle,cpu\r\n"
SUCCESS_RATE = 'from(bucket: "k8s") |> range(start: -1m) |> mean()'
PER_HOST = 'from(bucket: "k8s") |> range(start: -1m) |> mean() |> group(columns: ["host"])'
NOTHING = 'from(bucket: "k8s") |> range(start: -1m) |> filter(fn: (r) => false)'
MISSING_BUCKET = 'from(bucket: "absent") |> range(start: -1m)'
ANSWERS: dict[str, tuple[int, str]] = {
    SUCCESS_RATE: (200, HEAD + ROW.format(t=0, v="99.25") + "\r\n"),
    PER_HOST: (200, HEAD + ROW.format(t=0, v="98") + ROW.format(t=1, v="97") + "\r\n"),
    NOTHING: (200, "\r\n"),
    MISSING_BUCKET: (
        200,
        "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n"
        ",error,reference\r\n"
        ',"runtime error @1:1-1:26: from: bucket ""absent"" not found",\r\n',
    ),
}


REQUESTS = web.AppKey("requests", list[web.Request])


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def _influxdb(buckets: set[str]) -> web.Application:
    """InfluxDB 2's query endpoint, with its checks, for org ORG holding ``buckets``."""
    app = web.Application()
    app[REQUESTS] = []

    async def query(request: web.Request) -> web.Response:
        app[REQUESTS].append(request)
        if request.headers.get("Authorization") != f"Token {TOKEN}":
            return _error(401, "unauthorized", "unauthorized access")
        org = request.query.get("org", "")
        if not org and not request.query.get("orgID"):
            return _error(400, "invalid", "Please provide either orgID or org")
        if org != ORG:
            return _error(404, "not found", f'organization name "{org}" not found')
        if request.content_type != "application/json":
            return _error(400, "invalid", f"invalid content type {request.content_type}")
        body: Mapping[str, Any] = await request.json()
        dialect = body.get("dialect") or {}
        if (
            body.get("type") != "flux"
            or dialect.get("annotations") != ["datatype", "group", "default"]
            or dialect.get("header") is not True
        ):
            return _error(400, "invalid", "failed to decode request body: unsupported dialect")
        flux = body.get("query", "")
        if flux == influxdb.ONLINE_QUERY:
            if "default" not in buckets:
                return _error(
                    404,
                    "not found",
                    'failed to initialize execute state: could not find bucket "default"',
                )
            return web.Response(text="\r\n", content_type="text/csv")
        if flux not in ANSWERS:
            return _error(
                400,
                "invalid",
                "compilation failed: error at @1:1-1:5: "
                f"undefined identifier {flux.split('(')[0]!r}",
            )
        status, csv = ANSWERS[flux]
        return web.Response(status=status, text=csv, content_type="text/csv")

    app.router.add_post("/api/v2/query", query)
    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


Start = Callable[..., Any]


@pytest.fixture
async def start_influxdb() -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []

    async def start(
        buckets: set[str] | frozenset[str] = frozenset({"default", "k8s"}),
    ) -> tuple[str, web.Application]:
        app = _influxdb(set(buckets))
        runner = web.AppRunner(app)
        await runner.setup()
        port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}", app

    yield start
    for runner in runners:
        await runner.cleanup()


def _spec(address: str, **credentials: str) -> dict[str, Any]:
    return {
        "type": "influxdb",
        "address": address,
        "secretRef": {"name": "influx"},
        prometheus.CREDENTIALS_KEY: credentials or {"token": TOKEN, "org": ORG},
    }


def _plugins() -> plugins.Plugins:
    loaded = plugins.load()
    if not loaded.manager.is_registered(influxdb):
        loaded.manager.register(influxdb)
    return loaded


async def test_flux_query_gives_its_value(start_influxdb: Start) -> None:
    address, app = await start_influxdb()
    backend = _plugins().metric_backend("influxdb", _spec(address), plugins.PluginContext())
    assert await backend.run_query(SUCCESS_RATE) == 99.25
    request = app[REQUESTS][-1]
    assert (request.method, request.path, request.query["org"]) == ("POST", "/api/v2/query", ORG)


async def test_several_tables_are_an_error(start_influxdb: Start) -> None:
    address, _ = await start_influxdb()
    with pytest.raises(influxdb.QueryError, match="2 records in 2 table"):
        await influxdb.from_provider_spec(_spec(address)).run_query(PER_HOST)


async def test_empty_result_has_no_values(start_influxdb: Start) -> None:
    address, _ = await start_influxdb()
    with pytest.raises(plugins.NoValuesFound):
        await influxdb.from_provider_spec(_spec(address)).run_query(NOTHING)


async def test_compile_error_carries_influxdb_message(start_influxdb: Start) -> None:
    address, _ = await start_influxdb()
    with pytest.raises(
        influxdb.QueryError,
        match=("error accessing influxdb query api: invalid: compilation failed"),
    ):
        await influxdb.from_provider_spec(_spec(address)).run_query("form(bucket: 1)")


async def test_runtime_error_table_is_an_error(start_influxdb: Start) -> None:
    address, _ = await start_influxdb()
    with pytest.raises(influxdb.QueryError, match='bucket "absent" not found'):
        await influxdb.from_provider_spec(_spec(address)).run_query(MISSING_BUCKET)


async def test_wrong_token_is_unauthorized(start_influxdb: Start) -> None:
    address, _ = await start_influxdb()
    backend = influxdb.from_provider_spec(_spec(address, token="wrong", org=ORG))
    with pytest.raises(influxdb.QueryError, match="unauthorized: unauthorized access"):
        await backend.run_query(SUCCESS_RATE)
    assert await backend.is_online() is False


async def test_without_secret_influxdb_asks_for_credentials(start_influxdb: Start) -> None:
    address, app = await start_influxdb()
    backend = influxdb.from_provider_spec({"type": "influxdb", "address": address})
    with pytest.raises(influxdb.QueryError, match="unauthorized"):
        await backend.run_query(SUCCESS_RATE)
    assert "Authorization" not in app[REQUESTS][-1].headers


async def test_is_online_with_a_default_bucket(start_influxdb: Start) -> None:
    address, _ = await start_influxdb()
    assert await influxdb.from_provider_spec(_spec(address)).is_online() is True


async def test_is_not_online_without_a_default_bucket(start_influxdb: Start) -> None:
    address, _ = await start_influxdb(buckets={"k8s"})
    backend = influxdb.from_provider_spec(_spec(address))
    with pytest.raises(influxdb.QueryError, match='could not find bucket "default"'):
        await backend.check_online()
    assert await backend.is_online() is False


async def test_is_not_online_when_nothing_listens() -> None:
    backend = influxdb.from_provider_spec(_spec(f"http://127.0.0.1:{_free_port()}"))
    assert await backend.is_online() is False


async def test_request_body_is_json_flux(start_influxdb: Start) -> None:
    address, app = await start_influxdb()
    await influxdb.from_provider_spec(_spec(address)).run_query(SUCCESS_RATE)
    request = app[REQUESTS][-1]
    assert json.loads(await request.read())["query"] == SUCCESS_RATE
