"""The Splunk Observability (SignalFx) metric backend: a SignalFlow program over a WebSocket.

As Flagger's (``pkg/metrics/providers/splunk.go``, which uses signalflow-client-go):

- address: ``spec.provider.address`` is required, the realm's API address
  (``https://api.<realm>.signalfx.com``) or its stream address
  (``wss://stream.<realm>.signalfx.com``); each is turned into the other as Flagger does
  (first ``http`` -> ``ws`` and first ``api`` -> ``stream`` for the stream, the reverse for the
  API);
- Secret key ``sf_token_key``: the access token, sent in SignalFlow's ``authenticate`` message
  and as the ``X-SF-Token`` header;
- a query is a SignalFlow program executed once (``immediate: true``) over
  ``[now - 10 x interval, now]`` on ``<stream>/v2/signalflow/connect``; the value is the
  **last** data point received;
- availability is ``GET <api>/v2/metric?limit=1`` answering 200.

The SignalFlow WebSocket protocol: text frames carry JSON (``authenticated``,
``control-message`` events such as ``STREAM_START``, ``JOB_START``, ``END_OF_CHANNEL``,
``CHANNEL_ABORT``, ``metadata``, ``message``, ``error``); binary frames carry data batches: a
20-byte header (version, message type, flags -- 1 gzip, 2 JSON --, reserved, 16-byte channel
name), then the logical timestamp (int64 ms; version 2 adds int64 max delay), the element
count (uint32) and 17-byte elements (value type: 1 int64, 2 float64, 3 int32; 8-byte
time-series id; 8-byte value).

No data point is "no values found"; data for several time series (the program publishes more
than one stream, or does not aggregate) is an error, as in Flagger.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import struct
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from flagger import outgoing, plugins
from flagger.metrics.backends import backend_common as common

__all__ = [
    "PROVIDER_TYPE",
    "TOKEN_HEADER",
    "TOKEN_SECRET_KEY",
    "DataPoint",
    "SplunkBackend",
    "decode_binary_message",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "single_value",
]

PROVIDER_TYPE = "splunk"
SIGNALFLOW_PATH = "/v2/signalflow"
CONNECT_PATH = SIGNALFLOW_PATH + "/connect"
VALIDATION_PATH = "/v2/metric?limit=1"
TOKEN_SECRET_KEY = "sf_token_key"
TOKEN_HEADER = "X-SF-Token"
FROM_DELTA_MULTIPLIER = 10
#: How long one computation may take from connecting to its last message.
COMPUTATION_TIMEOUT_SECONDS = 30.0
CHANNEL = "ch-1"

_FLAG_COMPRESSED = 1
_FLAG_JSON = 2
_ELEMENT = struct.Struct(">BQ8s")

#: One data point: (time-series id, value); value is None for an unknown value type.
DataPoint = tuple[int, float | None]


def stream_url(address: str) -> str:
    """The SignalFlow endpoint for an address, exactly as Flagger derives it."""
    return (address + SIGNALFLOW_PATH).replace("http", "ws", 1).replace("api", "stream", 1)


def api_validation_url(address: str) -> str:
    """The availability endpoint for an address, exactly as Flagger derives it."""
    return (address + VALIDATION_PATH).replace("ws", "http", 1).replace("stream", "api", 1)


def decode_binary_message(frame: bytes) -> tuple[str, list[DataPoint]] | dict[str, Any]:
    """A binary frame: ``(channel, data points)``, or the JSON message it wraps."""
    if len(frame) <= 20:
        raise common.QueryError(
            f"expected SignalFlow message of at least 21 bytes, got {len(frame)} bytes"
        )
    version, flags = frame[0], frame[2]
    channel = frame[4:20].split(b"\0", 1)[0].decode(errors="replace")
    rest = frame[20:]
    if flags & _FLAG_COMPRESSED:
        try:
            rest = gzip.decompress(rest)
        except (OSError, EOFError) as err:
            raise common.QueryError(f"invalid compressed SignalFlow message: {err}") from err
    if flags & _FLAG_JSON:
        message = json.loads(rest)
        if not isinstance(message, dict):
            raise common.QueryError("invalid SignalFlow JSON message")
        message.setdefault("channel", channel)
        return message
    header = 20 if version >= 2 else 12  # timestamp [, max delay], element count
    if len(rest) < header:
        raise common.QueryError("truncated SignalFlow data message")
    (count,) = struct.unpack_from(">I", rest, header - 4)
    points: list[DataPoint] = []
    for i in range(count):
        offset = header + i * _ELEMENT.size
        if offset + _ELEMENT.size > len(rest):
            raise common.QueryError("truncated SignalFlow data message")
        kind, tsid, raw = _ELEMENT.unpack_from(rest, offset)
        points.append((tsid, _value(kind, raw)))
    return channel, points


def _value(kind: int, raw: bytes) -> float | None:
    if kind == 1:
        return float(struct.unpack(">q", raw)[0])
    if kind == 2:
        return float(struct.unpack(">d", raw)[0])
    if kind == 3:
        return float(struct.unpack(">i", raw[:4])[0])
    return None


def single_value(points: list[DataPoint]) -> float:
    """The last point's value; "no values found" without points, an error for several series."""
    known = [(tsid, value) for tsid, value in points if value is not None]
    if not known:
        raise common.no_values("the SignalFlow program produced no data")
    series = {tsid for tsid, _ in known}
    if len(series) > 1:
        raise common.QueryError(
            f"invalid response: multiple values returned ({len(series)} time series; publish "
            f"one aggregated stream)"
        )
    value = known[-1][1]
    assert value is not None
    if math.isnan(value):
        raise common.no_values("the value is NaN")
    return value


class SplunkBackend(plugins.OnlineCheck):
    """Runs SignalFlow programs (implements :class:`flagger.plugins.MetricBackend`)."""

    def __init__(
        self,
        address: str,
        token: str,
        *,
        interval_seconds: float = 60.0,
        timeout: float = common.DEFAULT_TIMEOUT_SECONDS,
        computation_timeout: float = COMPUTATION_TIMEOUT_SECONDS,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address.rstrip("/")
        self.stream_endpoint = stream_url(self.address)
        self.validation_endpoint = api_validation_url(self.address)
        self.from_delta_ms = int(FROM_DELTA_MULTIPLIER * interval_seconds * 1000)
        self.computation_timeout = computation_timeout
        self._token = token
        self._session = session
        self._http = common.HttpClient(timeout=timeout, session=session)
        self._clock = clock

    def __repr__(self) -> str:
        return f"SplunkBackend({self.address!r})"

    def execute_request(self, program: str) -> dict[str, Any]:
        """The ``execute`` message for ``program`` over the last ten metric intervals."""
        now_ms = int(self._clock() * 1000)
        return {
            "type": "execute",
            "channel": CHANNEL,
            "program": program,
            "start": now_ms - self.from_delta_ms,
            "stop": now_ms,
            "immediate": True,
        }

    async def run_query(self, query: str) -> float:
        """Execute the SignalFlow program and return its single series' last value."""
        try:
            async with asyncio.timeout(self.computation_timeout):
                if self._session is not None:
                    points = await self._compute(self._session, query)
                else:
                    async with outgoing.client_session() as session:
                        points = await self._compute(session, query)
        except TimeoutError as err:
            raise common.QueryError(
                f"error executing query: no end of the computation after "
                f"{self.computation_timeout:g}s"
            ) from err
        return single_value(points)

    async def _compute(self, session: aiohttp.ClientSession, program: str) -> list[DataPoint]:
        url = self.stream_endpoint + "/connect"
        try:
            async with session.ws_connect(url, autoping=True) as ws:
                await ws.send_str(json.dumps({"type": "authenticate", "token": self._token}))
                await self._until_authenticated(ws)
                await ws.send_str(json.dumps(self.execute_request(program)))
                return await self._collect(ws)
        except aiohttp.ClientError as err:
            raise common.QueryError(f"error executing query: {err}") from err

    async def _until_authenticated(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            message = await self._next(ws)
            if isinstance(message, tuple):
                continue
            if message.get("type") == "authenticated":
                return
            if message.get("type") == "error":
                raise common.QueryError(f"error authenticating: {_error_text(message)}")

    async def _collect(self, ws: aiohttp.ClientWebSocketResponse) -> list[DataPoint]:
        points: list[DataPoint] = []
        while True:
            message = await self._next(ws)
            if isinstance(message, tuple):
                channel, batch = message
                if channel == CHANNEL:
                    points += batch
                continue
            if message.get("channel") not in (None, CHANNEL):
                continue
            kind = message.get("type")
            if kind == "error":
                raise common.QueryError(f"error executing query: {_error_text(message)}")
            if kind == "data":
                points += [
                    (_tsid(d.get("tsId")), _json_value(d.get("value")))
                    for d in message.get("data") or []
                ]
            elif kind == "control-message":
                event = message.get("event")
                if event == "END_OF_CHANNEL":
                    return points
                if event in ("CHANNEL_ABORT", "ABORT_CHANNEL"):
                    info = message.get("abortInfo") or {}
                    reason = info.get("sf_job_abortReason") or info or "aborted"
                    raise common.QueryError(f"error executing query: {reason}")

    async def _next(
        self,
        ws: aiohttp.ClientWebSocketResponse,
    ) -> tuple[str, list[DataPoint]] | dict[str, Any]:
        frame = await ws.receive()
        if frame.type == aiohttp.WSMsgType.TEXT:
            try:
                message = json.loads(frame.data)
            except ValueError as err:
                raise common.QueryError(f"invalid SignalFlow message: {err}") from err
            if not isinstance(message, dict):
                raise common.QueryError(f"invalid SignalFlow message: {frame.data[:200]!r}")
            return message
        if frame.type == aiohttp.WSMsgType.BINARY:
            return decode_binary_message(frame.data)
        if frame.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
        ):
            raise common.QueryError(
                f"error executing query: SignalFlow closed the connection "
                f"({ws.close_code}{': ' + str(frame.extra) if frame.extra else ''})"
            )
        if frame.type == aiohttp.WSMsgType.ERROR:
            raise common.QueryError(f"error executing query: {ws.exception()}")
        return {}

    async def check_online(self) -> None:
        """Raise with the reason unless the API accepts the token."""
        answer = await self._http.request(
            "GET", self.validation_endpoint, headers={TOKEN_HEADER: self._token}
        )
        if answer.status != 200:
            raise common.QueryError(f"error response: HTTP {answer.status}: {answer.text}")


def _error_text(message: Mapping[str, Any]) -> str:
    code, kind, text = message.get("error"), message.get("errorType"), message.get("message")
    head = f"{code} ({kind})" if code and kind else str(code or kind or "error")
    return f"{head}: {text}" if text else head


def _tsid(value: Any) -> int:
    return hash(value)


def _json_value(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def from_provider_spec(
    spec: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
) -> SplunkBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping (see
    :mod:`~flagger.metrics.backends.backend_common` for the credentials and interval keys)."""
    return SplunkBackend(
        common.address(spec, PROVIDER_TYPE, schemes=("http", "https", "ws", "wss")),
        common.secret_value(spec, PROVIDER_TYPE, TOKEN_SECRET_KEY),
        interval_seconds=common.interval_seconds(spec),
        session=session,
    )


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``splunk`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """A SignalFx backend for ``spec`` (raises
    :class:`~flagger.metrics.backends.backend_common.ConfigError` when it is unusable)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec)
