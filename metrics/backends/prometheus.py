"""The Prometheus metric backend: one PromQL query in, one number out.

Flagger runs every metric check as an instant query (``GET <address>/api/v1/query``) and
expects exactly one sample back:

- a vector with one sample, or a scalar, gives its value;
- an empty vector, or ``NaN`` (e.g. ``0/0`` when the canary gets no traffic), raises
  :class:`flagger.plugins.NoValuesFound` -- the check fails with Flagger's "no values found";
- several samples raise :class:`QueryError` (a query for a check must aggregate);
- an HTTP error or a Prometheus error answer raises :class:`QueryError` whose message carries
  Prometheus's own error text, e.g. ``error response: bad_data: 1:5: parse error: ...``; the
  daemon prints it as Flagger does (``Prometheus query failed: %v``).

Queries are sent with their whitespace collapsed to single spaces (Flagger's ``trimQuery``), so
multi-line templates arrive as one line. Each request has a timeout (5 s, as Flagger's).
Availability (checked once while a canary initializes) is ``vector(1)`` answering 1:
:meth:`PrometheusBackend.is_online` says yes or no, :meth:`PrometheusBackend.check_online`
raises with the reason for the Canary's event.

**Configuration.** A MetricTemplate's ``spec.provider`` (wire form, camelCase) configures the
backend: ``address``, ``headers`` (``{name: [values]}``), ``insecureSkipVerify`` and
``secretRef``. This module does no Kubernetes I/O: whoever builds the backend resolves the
Secret named by ``secretRef`` (in the MetricTemplate's namespace) and passes its data, decoded,
in the same mapping under :data:`CREDENTIALS_KEY`::

    spec = {**template.spec.provider.to_dict(),
            prometheus.CREDENTIALS_KEY: prometheus.decode_secret_data(secret["data"])}
    backend = plugins.metric_backend("prometheus", spec, context)

The credentials follow Flagger's rules: a ``token`` key means ``Authorization: Bearer <token>``,
otherwise ``username`` and ``password`` mean basic auth; a ``secretRef`` whose data has neither
is a :class:`ConfigError`, raised when the backend is built.

Exceptions::

    ConfigError (ValueError)   the provider spec or credentials are unusable
    QueryError (PluginError)   the query failed (HTTP, Prometheus error, unexpected result)
    flagger.plugins.NoValuesFound   the query answered no value
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from flagger import outgoing, plugins

__all__ = [
    "CREDENTIALS_KEY",
    "DEFAULT_TIMEOUT_SECONDS",
    "ONLINE_QUERY",
    "PROVIDER_TYPE",
    "ConfigError",
    "Credentials",
    "PrometheusBackend",
    "QueryError",
    "compact_query",
    "decode_secret_data",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "parse_range_response",
    "parse_response",
]

PROVIDER_TYPE = "prometheus"
#: The query ``is_online`` runs; Prometheus answers 1.
ONLINE_QUERY = "vector(1)"
DEFAULT_TIMEOUT_SECONDS = 5.0
#: Key of the provider spec mapping under which the caller passes the decoded Secret data.
CREDENTIALS_KEY = plugins.CREDENTIALS_KEY
NO_VALUES_FOUND = "no values found"

_WHITESPACE = re.compile(r"\s+")


#: The provider spec or its credentials cannot make a working backend
#: (:class:`flagger.plugins.ConfigError`, a ``ValueError``).
ConfigError = plugins.ConfigError
#: A query failed; the message is what Flagger shows after ``Prometheus query failed:``
#: (:class:`flagger.plugins.QueryError`).
QueryError = plugins.QueryError


@dataclasses.dataclass(frozen=True)
class Credentials:
    """How requests authenticate: a bearer ``token``, or basic ``username``/``password``."""

    token: str = ""
    username: str = ""
    password: str = ""

    def __repr__(self) -> str:  # never print secrets in logs
        kind = "token" if self.token else "basic" if self.username else "none"
        return f"Credentials(<{kind}>)"

    @classmethod
    def from_secret_data(
        cls, data: Mapping[str, str | bytes], provider_type: str = PROVIDER_TYPE
    ) -> Credentials:
        """Flagger's reading of a provider Secret: ``token``, else ``username`` + ``password``.

        ``data`` holds decoded values (see :func:`decode_secret_data`).
        """
        values = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        if "token" in values:
            return cls(token=values["token"])
        if "username" not in values:
            raise ConfigError(
                f"{provider_type} credentials does not contain either a username or token"
            )
        if "password" not in values:
            raise ConfigError(f"{provider_type} credentials does not contain a password")
        return cls(username=values["username"], password=values["password"])

    def authorization(self) -> str | None:
        """The ``Authorization`` header value, or ``None`` without credentials."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username and self.password:
            pair = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return None


def decode_secret_data(data: Mapping[str, str] | None) -> dict[str, str]:
    """Decode a Secret's ``data`` (base64 values, as the API returns them) to text."""
    decoded: dict[str, str] = {}
    for key, value in (data or {}).items():
        try:
            decoded[key] = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as err:
            raise ConfigError(f"secret key {key!r} is not base64-encoded text: {err}") from err
    return decoded


def compact_query(query: str) -> str:
    """Collapse every run of whitespace to one space, as Flagger does before sending."""
    return _WHITESPACE.sub(" ", query)


def parse_response(status: int, body: bytes) -> float:
    """The single value of a ``/api/v1/query`` answer, with Flagger's rules (see module doc)."""
    text = body.decode(errors="replace")
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if status >= 400 or not isinstance(answer, dict) or answer.get("status") == "error":
        raise QueryError(_error_text(status, answer, text))
    data = answer.get("data")
    if not isinstance(data, dict):
        raise QueryError(f"error unmarshaling result: no data in {text!r}")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list):
        return _sample_value(result)
    if kind != "vector" or not isinstance(result, list):
        raise QueryError(
            f"unsupported result type {kind!r}: a metric query must return a vector or scalar"
        )
    if not result:
        raise plugins.NoValuesFound(NO_VALUES_FOUND)
    if len(result) > 1:
        series = ", ".join(_labels(sample.get("metric")) for sample in result[:5])
        raise QueryError(
            f"query returned {len(result)} values, expected one (aggregate the query, e.g. "
            f"with sum()): {series}"
        )
    return _sample_value(result[0].get("value"))


def parse_range_response(status: int, body: bytes) -> list[float]:
    """The samples of a ``/api/v1/query_range`` answer: one series, NaN samples dropped.

    An empty matrix raises :class:`flagger.plugins.NoValuesFound`; several series raise
    :class:`QueryError` (the query must aggregate to one series per workload).
    """
    text = body.decode(errors="replace")
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if status >= 400 or not isinstance(answer, dict) or answer.get("status") == "error":
        raise QueryError(_error_text(status, answer, text))
    data = answer.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        kind = data.get("resultType") if isinstance(data, dict) else None
        raise QueryError(f"unsupported result type {kind!r}: a range query must return a matrix")
    result = data.get("result")
    if not isinstance(result, list) or not result:
        raise plugins.NoValuesFound(NO_VALUES_FOUND)
    if len(result) > 1:
        series = ", ".join(_labels(s.get("metric")) for s in result[:5])
        raise QueryError(
            f"query returned {len(result)} series, expected one (aggregate the query, e.g. "
            f"with sum()): {series}"
        )
    values = result[0].get("values")
    if not isinstance(values, list):
        raise QueryError(f"error unmarshaling result: no values in {text[:200]!r}")
    samples: list[float] = []
    for pair in values:
        try:
            samples.append(_sample_value(pair))
        except plugins.NoValuesFound:
            continue
    if not samples:
        raise plugins.NoValuesFound(NO_VALUES_FOUND)
    return samples


def _sample_value(pair: Any) -> float:
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
        raise QueryError(f"error unmarshaling result: unexpected sample {pair!r}")
    try:
        value = float(pair[1])
    except ValueError as err:
        raise QueryError(f"error parsing value {pair[1]!r}: {err}") from err
    if math.isnan(value):
        raise plugins.NoValuesFound(NO_VALUES_FOUND)
    return value


def _labels(metric: Any) -> str:
    if not isinstance(metric, dict) or not metric:
        return "{}"
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _error_text(status: int, answer: Any, text: str) -> str:
    if isinstance(answer, dict) and answer.get("error"):
        kind = answer.get("errorType")
        return (
            f"error response: {kind}: {answer['error']}"
            if kind
            else (f"error response: {answer['error']}")
        )
    return f"error response: HTTP {status}: {text.strip()[:500]}"


class PrometheusBackend(plugins.OnlineCheck):
    """Runs instant queries against one Prometheus (implements
    :class:`flagger.plugins.MetricBackend`).

    ``session``: an ``aiohttp.ClientSession`` to reuse (its owner closes it); without one,
    each query opens and closes its own.
    """

    def __init__(
        self,
        address: str,
        *,
        credentials: Credentials | None = None,
        headers: Mapping[str, Sequence[str]] | None = None,
        insecure_skip_verify: bool = False,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(address)
        if not address or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"{PROVIDER_TYPE} address {address} is not a valid URL")
        self.address = address
        self.credentials = credentials or Credentials()
        self.headers = {k: list(v) for k, v in (headers or {}).items()}
        self.insecure_skip_verify = insecure_skip_verify
        self.timeout = timeout
        self._session = session

    def __repr__(self) -> str:
        return f"PrometheusBackend({self.address!r})"

    def query_url(self, query: str) -> str:
        """The request URL: ``<address>/api/v1/query?query=<compacted query>``."""
        base = self.address.rstrip("/")
        return f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": compact_query(query)})

    def range_query_url(self, query: str, start: float, end: float, step: float) -> str:
        """``<address>/api/v1/query_range?query=...&start=...&end=...&step=...``."""
        base = self.address.rstrip("/")
        params = {"query": compact_query(query), "start": f"{start:.3f}", "end": f"{end:.3f}"}
        params["step"] = f"{step:g}s"
        return f"{base}/api/v1/query_range?" + urllib.parse.urlencode(params)

    def request_headers(self) -> list[tuple[str, str]]:
        """Custom headers (every value of each) plus ``Authorization`` from the credentials,
        which replaces a custom one."""
        authorization = self.credentials.authorization()
        out = [
            (name, value)
            for name, values in self.headers.items()
            for value in values
            if authorization is None or name.lower() != "authorization"
        ]
        if authorization is not None:
            out.append(("Authorization", authorization))
        return out

    async def run_query(self, query: str) -> float:
        """The single value of ``query``; :class:`flagger.plugins.NoValuesFound` when none."""
        if self._session is not None:
            return await self._get(self._session, query)
        async with outgoing.client_session() as session:
            return await self._get(session, query)

    async def run_range_query(
        self, query: str, start: float, end: float, step: float
    ) -> list[float]:
        """The samples of ``query`` from ``start`` to ``end`` (Unix seconds) every ``step``
        seconds; :class:`flagger.plugins.NoValuesFound` when there are none."""
        url = self.range_query_url(query, start, end, step)
        if self._session is not None:
            status, body = await self._fetch(self._session, url)
        else:
            async with aiohttp.ClientSession() as session:
                status, body = await self._fetch(session, url)
        return parse_range_response(status, body)

    async def _get(self, session: aiohttp.ClientSession, query: str) -> float:
        status, body = await self._fetch(session, self.query_url(query))
        return parse_response(status, body)

    async def _fetch(self, session: aiohttp.ClientSession, url: str) -> tuple[int, bytes]:
        try:
            async with session.get(
                url,
                headers=self.request_headers(),
                ssl=not self.insecure_skip_verify,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError as err:
            raise QueryError(f"request failed: timeout after {self.timeout:g}s") from err
        except aiohttp.ClientError as err:
            raise QueryError(f"request failed: {err}") from err
        return status, body

    async def check_online(self) -> None:
        """Raise (with the reason) unless Prometheus answers ``vector(1)`` with 1."""
        try:
            value = await self.run_query(ONLINE_QUERY)
        except (QueryError, plugins.NoValuesFound) as err:
            raise QueryError(f"running query failed: {err}") from err
        if value != 1:
            raise QueryError(f"value is not 1 for query: {ONLINE_QUERY}")


def from_provider_spec(
    spec: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
) -> PrometheusBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping (wire form) with the decoded
    Secret data under :data:`CREDENTIALS_KEY` (see the module docstring)."""
    credentials = None
    if spec.get("secretRef") is not None or spec.get(CREDENTIALS_KEY) is not None:
        credentials = Credentials.from_secret_data(spec.get(CREDENTIALS_KEY) or {})
    headers = spec.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in headers.values()
    ):
        raise ConfigError(f"{PROVIDER_TYPE} headers must map names to lists of strings")
    return PrometheusBackend(
        str(spec.get("address") or ""),
        credentials=credentials,
        headers=headers,
        insecure_skip_verify=bool(spec.get("insecureSkipVerify")),
        session=session,
    )


# --- plugin hooks ---------------------------------------------------------------------------


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``prometheus`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """A Prometheus backend for ``spec`` (raises :class:`ConfigError` when it is unusable)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec, session=context.session)
