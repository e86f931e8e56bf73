"""The Splunk (SignalFx) backend against a local server that speaks SignalFlow over WebSocket.

The server plays SignalFlow's WebSocket protocol as the real service and signalflow-client-go's
fake backend do: ``/v2/signalflow/connect``; an ``authenticate`` message with the token
(``{"type": "error", "error": 401, ...}`` and a close otherwise); an ``execute`` message that
must carry the program, ``start`` < ``stop`` (ms) and ``immediate: true``; then
``STREAM_START``, ``JOB_START``, a ``JOB_RUNNING_RESOLUTION`` message, ``metadata`` per time
series, binary data batches (version 1 header, optionally gzip-compressed) and
``END_OF_CHANNEL``; a program error is a channel ``error`` message. ``/v2/metric?limit=1`` checks
``X-SF-Token``. Matrix: the value (last point), the window, int and double values, compressed
batches, no data, several time series, a program error, a wrong token, availability, and the
plugin hook end to end.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from flagger import plugins
from flagger.metrics.backends import splunk
from tests.support.local_server import Handler, LocalServer

TOKEN = "sf-access-token"
PROGRAM = "data('service.request.count', filter=filter('sf_service', 'podinfo')).sum().publish()"

#: One batch: [(time-series id, value type, value)]; value type 1 long, 2 double.
Batch = list[tuple[int, int, float]]


def _data_frame(channel: str, timestamp: int, batch: Batch, *, compressed: bool) -> bytes:
    body = struct.pack(">QI", timestamp, len(batch))
    for tsid, kind, value in batch:
        raw = struct.pack(">q", int(value)) if kind == 1 else struct.pack(">d", value)
        body += struct.pack(">BQ", kind, tsid) + raw
    if compressed:
        body = gzip.compress(body)
    name = channel.encode().ljust(16, b"\0")
    return struct.pack(">BBBB16s", 1, 5, 1 if compressed else 0, 0, name) + body


class FakeSignalFlow(LocalServer):
    """``programs`` maps program text to its data batches; ``errors`` to an error message."""

    def __init__(self) -> None:
        super().__init__()
        self.programs: dict[str, list[Batch]] = {}
        self.errors: dict[str, str] = {}
        self.compressed = False
        self.executed: list[dict[str, Any]] = []
        self.validations: list[web.Request] = []

    async def connect(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        authenticated = False
        async for frame in ws:
            message = json.loads(frame.data)
            if message.get("type") == "authenticate":
                if message.get("token") != TOKEN:
                    await ws.send_json(
                        {"type": "error", "error": 401, "message": "Invalid auth token"}
                    )
                    await ws.close(code=4401, message=b"unauthorized")
                    break
                authenticated = True
                await ws.send_json({"type": "authenticated", "orgId": "org", "userId": "u"})
            elif message.get("type") == "execute":
                if not authenticated:
                    await ws.close(code=4401, message=b"not authenticated")
                    break
                self.executed.append(message)
                await self._execute(ws, message)
        return ws

    async def _execute(self, ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
        channel, program = message["channel"], message["program"]
        start, stop = message.get("start"), message.get("stop")
        if not (
            isinstance(start, int)
            and isinstance(stop, int)
            and start < stop
            and message.get("immediate") is True
        ):
            await ws.send_json(
                {
                    "type": "error",
                    "channel": channel,
                    "error": 400,
                    "errorType": "INVALID_PARAMETER",
                    "message": "start, stop and immediate are required",
                }
            )
            return
        if program in self.errors:
            await ws.send_json(
                {
                    "type": "error",
                    "channel": channel,
                    "error": 400,
                    "errorType": "ANALYTICS_PROGRAM_NAME_ERROR",
                    "message": self.errors[program],
                }
            )
            return
        await ws.send_json(
            {
                "type": "control-message",
                "channel": channel,
                "event": "STREAM_START",
                "timestampMs": stop,
            }
        )
        await ws.send_json(
            {
                "type": "control-message",
                "channel": channel,
                "event": "JOB_START",
                "handle": "HANDLE1",
            }
        )
        await ws.send_json(
            {
                "type": "message",
                "channel": channel,
                "logicalTimestampMs": start,
                "message": {
                    "messageCode": "JOB_RUNNING_RESOLUTION",
                    "contents": {"resolutionMs": 10_000},
                },
            }
        )
        batches = self.programs.get(program, [])
        for tsid in sorted({tsid for batch in batches for tsid, _, _ in batch}):
            await ws.send_json(
                {
                    "type": "metadata",
                    "channel": channel,
                    "tsId": str(tsid),
                    "properties": {"sf_metric": "service.request.count"},
                }
            )
        for i, batch in enumerate(batches):
            await ws.send_bytes(
                _data_frame(channel, start + i * 10_000, batch, compressed=self.compressed)
            )
        await ws.send_json(
            {
                "type": "control-message",
                "channel": channel,
                "event": "END_OF_CHANNEL",
                "handle": "HANDLE1",
            }
        )

    async def metric(self, request: web.Request) -> web.Response:
        self.validations.append(request)
        if request.headers.get("X-SF-Token") != TOKEN:
            return web.json_response({"code": 401, "message": "Unauthorized"}, status=401)
        return web.json_response({"count": 1, "results": [{"name": "cpu.utilization"}]})

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/v2/signalflow/connect", self.connect), ("GET", "/v2/metric", self.metric)]


@pytest.fixture
async def server() -> AsyncIterator[FakeSignalFlow]:
    fake = await FakeSignalFlow().start()
    yield fake
    await fake.stop()


def _backend(url: str, *, token: str = TOKEN, interval: str = "1m") -> splunk.SplunkBackend:
    return splunk.from_provider_spec(
        {
            "type": "splunk",
            "address": url,
            "secretRef": {"name": "splunk"},
            "credentials": {"sf_token_key": token},
            "metricInterval": interval,
        }
    )


async def test_value_is_the_last_point_over_ten_intervals(server: FakeSignalFlow) -> None:
    server.programs[PROGRAM] = [[(7, 2, 1.5)], [(7, 2, 2.5)], [(7, 2, 4.25)]]
    before = int(time.time() * 1000)
    assert await _backend(server.url, interval="30s").run_query(PROGRAM) == 4.25
    execute = server.executed[-1]
    assert execute["program"] == PROGRAM and execute["immediate"] is True
    assert execute["stop"] - execute["start"] == 300_000
    assert before <= execute["stop"] <= int(time.time() * 1000)


async def test_long_values_and_compressed_batches(server: FakeSignalFlow) -> None:
    server.compressed = True
    server.programs[PROGRAM] = [[(9, 1, 12)], [(9, 1, 1234567)]]
    assert await _backend(server.url).run_query(PROGRAM) == 1234567.0


async def test_no_data_is_no_values_found(server: FakeSignalFlow) -> None:
    server.programs[PROGRAM] = []
    with pytest.raises(plugins.NoValuesFound, match="no values found"):
        await _backend(server.url).run_query(PROGRAM)


async def test_several_time_series_are_an_error(server: FakeSignalFlow) -> None:
    server.programs[PROGRAM] = [[(1, 2, 1.0), (2, 2, 2.0), (3, 2, 3.0)]]
    with pytest.raises(splunk.common.QueryError, match=r"multiple values returned \(3 time"):
        await _backend(server.url).run_query(PROGRAM)


async def test_program_error_text_is_shown(server: FakeSignalFlow) -> None:
    server.errors["data("] = "Syntax error at line 1: unexpected end of input"
    with pytest.raises(
        splunk.common.QueryError,
        match=r"400 \(ANALYTICS_PROGRAM_NAME_ERROR\): Syntax error at line 1",
    ):
        await _backend(server.url).run_query("data(")


async def test_wrong_token_is_refused(server: FakeSignalFlow) -> None:
    with pytest.raises(
        splunk.common.QueryError, match="error authenticating: 401: Invalid auth token"
    ):
        await _backend(server.url, token="wrong").run_query(PROGRAM)
    assert server.executed == []


async def test_is_online(server: FakeSignalFlow) -> None:
    assert await _backend(server.url).is_online() is True
    request = server.validations[-1]
    assert (request.path, request.query.get("limit")) == ("/v2/metric", "1")
    assert await _backend(server.url, token="wrong").is_online() is False
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert await _backend(f"http://127.0.0.1:{closed}").is_online() is False


async def test_through_the_plugin_hook(server: FakeSignalFlow) -> None:
    server.programs[PROGRAM] = [[(5, 2, 0.5)]]
    spec = {
        "type": "splunk",
        "address": server.url,
        "secretRef": {"name": "sf"},
        "credentials": {"sf_token_key": TOKEN},
    }
    backend = plugins.load(extra=[splunk]).metric_backend("splunk", spec, plugins.PluginContext())
    assert await backend.run_query(PROGRAM) == 0.5
