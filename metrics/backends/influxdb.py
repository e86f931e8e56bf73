"""The InfluxDB metric backend: a Flux query in, one number out.

Flagger talks to InfluxDB 2 (or 1.8+ with Flux enabled) through its query API, as the official
Go client does; this module sends the same request with aiohttp::

    POST <address>/api/v2/query?org=<org>
    Authorization: Token <token>
    Content-Type: application/json
    {"query": "<flux>", "type": "flux",
     "dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",",
                 "header": true}}

and reads the answer, annotated CSV, as the client does: the value is the ``_value`` column.

- exactly one record: its ``_value`` (``double``, ``long`` or ``unsignedLong``);
- no record, an empty ``_value`` or ``NaN`` raises :class:`flagger.plugins.NoValuesFound`
  (Flagger answered 0 for an empty result; reference §2 says "no values found");
- several records raise :class:`QueryError` (reference §2; Flagger took the first record):
  aggregate, e.g. ``|> mean()`` or ``|> last()``, and ``|> group()`` across tables;
- an error answer (``{"code": "invalid", "message": "compilation failed: ..."}``) or an error
  table inside the CSV raises :class:`QueryError` carrying InfluxDB's message.

``spec.provider``: ``address`` (required) and ``secretRef`` whose Secret must hold ``token``
(an API token) and ``org`` (the organisation name). Without a ``secretRef`` the request goes
without credentials and with an empty ``org``, as Flagger's does. ``insecureSkipVerify``
disables TLS verification. Queries time out after 15 s (Flagger's). Availability
(:meth:`InfluxdbBackend.is_online`) runs Flagger's ``from(bucket: "default") |> range(start:
-2h)``: any successful answer means online, so an organisation without a ``default`` bucket is
reported offline, as by Flagger.

Exceptions: :class:`flagger.metrics.backends.prometheus.ConfigError` for an unusable spec;
:class:`QueryError` (a :class:`flagger.metrics.backends.prometheus.QueryError`) when a query fails.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import urllib.parse
from collections.abc import Mapping
from typing import Any

import aiohttp

from flagger import outgoing, plugins
from flagger.metrics.backends import backend_common, prometheus

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "ONLINE_QUERY",
    "PROVIDER_TYPE",
    "InfluxdbBackend",
    "QueryError",
    "Record",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "parse_annotated_csv",
    "parse_response",
    "request_body",
]

PROVIDER_TYPE = "influxdb"
DEFAULT_TIMEOUT_SECONDS = 15.0
#: Flagger's availability query.
ONLINE_QUERY = 'from(bucket: "default") |> range(start: -2h)'
NO_VALUES_FOUND = "no values found"
_NUMERIC_TYPES = frozenset({"double", "long", "unsignedLong"})


class QueryError(prometheus.QueryError):
    """An InfluxDB query failed; the message says why."""


@dataclasses.dataclass(frozen=True)
class Record:
    """One row of a Flux result: the table it belongs to and its ``_value`` cell."""

    result: str
    table: str
    value: str | None  # None when the table has no _value column
    datatype: str


def request_body(query: str) -> dict[str, Any]:
    """The JSON body of a Flux query request (the Go client's default dialect)."""
    return {
        "query": query,
        "type": "flux",
        "dialect": {
            "annotations": ["datatype", "group", "default"],
            "delimiter": ",",
            "header": True,
        },
    }


def parse_annotated_csv(text: str) -> list[Record]:
    """The records of an annotated CSV answer; :class:`QueryError` for an error table."""
    records: list[Record] = []
    datatypes: list[str] = []
    defaults: list[str] = []
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row or all(cell == "" for cell in row):
            header = None  # a blank line starts a new block of annotations
            continue
        first = row[0]
        if first.startswith("#"):
            if first == "#datatype":
                datatypes, header = row, None
            elif first == "#default":
                defaults = row
            continue
        if header is None:
            header = row
            continue
        cells = {name: _cell(row, i, defaults) for i, name in enumerate(header) if name}
        if header[1:2] == ["error"]:  # InfluxDB's error table: ",error,reference"
            raise QueryError(f"query error: {cells.get('error') or text.strip()[:300]}")
        index = header.index("_value") if "_value" in header else -1
        records.append(
            Record(
                result=cells.get("result", ""),
                table=cells.get("table", ""),
                value=_cell(row, index, defaults) if index >= 0 else None,
                datatype=datatypes[index] if 0 <= index < len(datatypes) else "",
            )
        )
    return records


def _cell(row: list[str], index: int, defaults: list[str]) -> str:
    value = row[index] if index < len(row) else ""
    if value == "" and index < len(defaults):
        return defaults[index]
    return value


def parse_response(status: int, body: bytes) -> float:
    """The single value of a query answer, with the rules of the module docstring."""
    text = body.decode(errors="replace")
    if status >= 400:
        raise QueryError(f"error accessing influxdb query api: {_error_text(status, text)}")
    records = parse_annotated_csv(text)
    if not records:
        raise plugins.NoValuesFound(NO_VALUES_FOUND)
    if len(records) > 1:
        tables = len({(r.result, r.table) for r in records})
        raise QueryError(
            f"query returned {len(records)} records in {tables} table(s), expected one "
            "(aggregate the query, e.g. with |> mean() or |> last(), and |> group())"
        )
    record = records[0]
    if record.value is None:
        raise QueryError("invalid response: the result has no _value column")
    if record.value == "":
        raise plugins.NoValuesFound(NO_VALUES_FOUND)
    if record.datatype and record.datatype not in _NUMERIC_TYPES:
        raise QueryError(
            f"invalid response: _value {record.value!r} is of type {record.datatype}, "
            "expected a number"
        )
    try:
        value = float(record.value)
    except ValueError as err:
        raise QueryError(f"invalid response: _value {record.value!r} is not a number") from err
    if math.isnan(value):
        raise plugins.NoValuesFound(NO_VALUES_FOUND)
    return value


def _error_text(status: int, text: str) -> str:
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("message"):
        code = answer.get("code")
        return f"{code}: {answer['message']}" if code else str(answer["message"])
    return f"HTTP {status}: {text.strip()[:500]}"


class InfluxdbBackend(plugins.OnlineCheck):
    """Runs Flux queries against one InfluxDB (a :class:`flagger.plugins.MetricBackend`).

    ``session``: an ``aiohttp.ClientSession`` to reuse (its owner closes it); without one, each
    query opens and closes its own.
    """

    def __init__(
        self,
        address: str,
        *,
        token: str = "",
        org: str = "",
        insecure_skip_verify: bool = False,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(address)
        if not address or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise prometheus.ConfigError(f"{PROVIDER_TYPE} address {address} is not a valid URL")
        self.address = address
        self.org = org
        self._token = token
        self.insecure_skip_verify = insecure_skip_verify
        self.timeout = timeout
        self._session = session

    def __repr__(self) -> str:
        return f"InfluxdbBackend({self.address!r}, org={self.org!r})"

    def query_url(self) -> str:
        """``<address>/api/v2/query?org=<org>``."""
        base = self.address.rstrip("/")
        return f"{base}/api/v2/query?" + urllib.parse.urlencode({"org": self.org})

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/csv"}
        if self._token:
            headers["Authorization"] = f"Token {self._token}"
        return headers

    async def run_query(self, query: str) -> float:
        """The single value of ``query``; :class:`flagger.plugins.NoValuesFound` when none."""
        status, body = await self._post(query)
        return parse_response(status, body)

    async def _post(self, query: str) -> tuple[int, bytes]:
        if self._session is not None:
            return await self._send(self._session, query)
        async with outgoing.client_session() as session:
            return await self._send(session, query)

    async def _send(self, session: aiohttp.ClientSession, query: str) -> tuple[int, bytes]:
        try:
            async with session.post(
                self.query_url(),
                json=request_body(query),
                headers=self._headers(),
                ssl=not self.insecure_skip_verify,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise QueryError(
                f"error accessing influxdb query api: timeout after {self.timeout:g}s"
            ) from err
        except aiohttp.ClientError as err:
            raise QueryError(f"error accessing influxdb query api: {err}") from err

    async def check_online(self) -> None:
        """Raise :class:`QueryError` (with the reason) unless the availability query succeeds."""
        status, body = await self._post(ONLINE_QUERY)
        text = body.decode(errors="replace")
        if status >= 400:
            raise QueryError(f"error accessing influxdb query api: {_error_text(status, text)}")
        parse_annotated_csv(text)  # an error table means not online


def from_provider_spec(
    spec: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
) -> InfluxdbBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping (wire form) with the decoded
    Secret data under :data:`flagger.metrics.backends.prometheus.CREDENTIALS_KEY`."""
    token = org = ""
    if spec.get("secretRef") is not None or spec.get(prometheus.CREDENTIALS_KEY) is not None:
        data = dict(spec.get(prometheus.CREDENTIALS_KEY) or {})
        token = backend_common.named_secret_value(
            data, PROVIDER_TYPE, "token", "an authentication token"
        )
        org = backend_common.named_secret_value(data, PROVIDER_TYPE, "org", "an organisation")
    return InfluxdbBackend(
        str(spec.get("address") or ""),
        token=token,
        org=org,
        insecure_skip_verify=bool(spec.get("insecureSkipVerify")),
        session=session,
    )


# --- plugin hooks ---------------------------------------------------------------------------


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``influxdb`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """An InfluxDB backend for ``spec`` (raises ``ConfigError`` when it is unusable)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec)
