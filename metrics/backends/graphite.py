"""The Graphite metric backend: a render API query in, the latest value out.

A MetricTemplate's ``spec.query`` for Graphite is the query string of a render request, as in
Flagger's documentation::

    query: |
      target=summarize(
        asPercent(
          sumSeries(stats.timers.app.{{target}}.outcome.{INFORMATIONAL,SUCCESS}.count),
          sumSeries(stats.timers.app.{{target}}.outcome.*.count)
        ),
        '{{interval}}', 'avg'
      )
      &from=-{{interval}}

As Flagger does, whitespace runs are collapsed to one space, the parameters are parsed as a URL
query (surrounding whitespace dropped from each name and value), ``format=json`` is set,
and ``GET <address>/render?<parameters sorted by name>`` is sent (``address`` may carry a path
prefix: ``http://host/graphite`` gives ``/graphite/render``).

Note that Graphite spells minutes ``min``: with the usual metric interval ``1m``,
``from=-{{interval}}`` is answered ``Invalid offset unit 'm'`` (by Flagger's Graphite too);
write the window in Graphite's units, e.g. a template variable ``from=-{{variables.window}}``.

The answer is Graphite's JSON: a list of series ``{"target", "datapoints": [[value, ts], ...]}``.

- the value is the **last non-null** datapoint of the series (Flagger's rule);
- no series, or only nulls, raises :class:`flagger.plugins.NoValuesFound`;
- several series raise :class:`QueryError` (reference §2: several values is an error; Flagger
  itself silently took the last series): wrap the target in ``sumSeries()`` or similar;
- an HTTP status >= 400 raises :class:`QueryError` with Graphite's own text
  (``error response: Invalid parameters ...``).

``spec.provider``: ``address`` (required), ``insecureSkipVerify``, and ``secretRef`` whose
Secret must hold ``username`` and ``password`` (basic auth; Graphite has no token scheme). The
decoded Secret data is passed under :data:`flagger.metrics.backends.prometheus.CREDENTIALS_KEY`,
as for Prometheus. Each request has a 5 s timeout. Availability
(:meth:`GraphiteBackend.is_online`) is the query ``target=test``: any answer but an error,
including "no values", means online.

Exceptions: :class:`flagger.metrics.backends.prometheus.ConfigError` for an unusable spec;
:class:`QueryError` (a :class:`flagger.metrics.backends.prometheus.QueryError`) when a query fails.
"""

from __future__ import annotations

import base64
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
    "GraphiteBackend",
    "QueryError",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "parse_response",
    "render_url",
]

PROVIDER_TYPE = "graphite"
DEFAULT_TIMEOUT_SECONDS = 5.0
#: The query ``is_online`` runs (Flagger's): any non-error answer means online.
ONLINE_QUERY = "target=test"
NO_VALUES_FOUND = "no values found"


class QueryError(prometheus.QueryError):
    """A Graphite query failed; the message says why."""


def render_url(address: str, query: str) -> str:
    """The render request for ``query`` (Flagger's construction, see the module docstring)."""
    pairs = urllib.parse.parse_qsl(prometheus.compact_query(query), keep_blank_values=True)
    # Whitespace around names and values (a template's line breaks) is dropped: Graphite
    # would read " from" as an unknown parameter.
    params = [(k.strip(), v.strip()) for k, v in pairs if k.strip() != "format"]
    params.append(("format", "json"))
    params.sort(key=lambda kv: kv[0])  # Go's url.Values.Encode sorts by key, stable per key
    base = urllib.parse.urlsplit(address)
    path = base.path.rstrip("/") + "/render"
    return urllib.parse.urlunsplit(
        (base.scheme, base.netloc, path, urllib.parse.urlencode(params), "")
    )


def parse_response(status: int, body: bytes) -> float:
    """The value of a render answer, with the rules of the module docstring."""
    text = body.decode(errors="replace")
    if status >= 400:
        raise QueryError(f"error response: {text.strip()[:500]}")
    try:
        series = json.loads(text)
    except ValueError as err:
        raise QueryError(f"error unmarshaling result: {err}, {text[:200]!r}") from err
    if not isinstance(series, list) or not all(isinstance(s, dict) for s in series):
        raise QueryError(f"error unmarshaling result: not a list of series: {text[:200]!r}")
    if len(series) > 1:
        names = ", ".join(str(s.get("target")) for s in series[:5])
        raise QueryError(
            f"query returned {len(series)} series, expected one (combine them, e.g. with "
            f"sumSeries()): {names}"
        )
    points = (series[0].get("datapoints") or []) if series else []
    value: float | None = None
    for point in points:
        found = _point_value(point)
        if found is not None:
            value = found
    if value is None or math.isnan(value):
        raise plugins.NoValuesFound(NO_VALUES_FOUND)
    return value


def _point_value(point: Any) -> float | None:
    if not isinstance(point, list) or len(point) != 2:
        raise QueryError(f"error unmarshaling data point: {point!r}")
    raw = point[0]
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise QueryError(f"error unmarshaling value: {raw!r}")
    try:
        return float(raw)
    except ValueError as err:
        raise QueryError(f"error unmarshaling value: {raw!r}") from err


class GraphiteBackend(plugins.OnlineCheck):
    """Runs render API queries against one Graphite (a :class:`flagger.plugins.MetricBackend`).

    ``session``: an ``aiohttp.ClientSession`` to reuse (its owner closes it); without one, each
    query opens and closes its own.
    """

    def __init__(
        self,
        address: str,
        *,
        username: str = "",
        password: str = "",
        insecure_skip_verify: bool = False,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(address)
        if not address or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise prometheus.ConfigError(f"{PROVIDER_TYPE} address {address} is not a valid URL")
        self.address = address
        self._username, self._password = username, password
        self.insecure_skip_verify = insecure_skip_verify
        self.timeout = timeout
        self._session = session

    def __repr__(self) -> str:
        return f"GraphiteBackend({self.address!r})"

    def _headers(self) -> dict[str, str]:
        if not (self._username and self._password):  # Flagger sends basic auth only with both
            return {}
        pair = f"{self._username}:{self._password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    async def run_query(self, query: str) -> float:
        """The latest value of ``query``; :class:`flagger.plugins.NoValuesFound` when none."""
        if self._session is not None:
            return await self._get(self._session, query)
        async with outgoing.client_session() as session:
            return await self._get(session, query)

    async def _get(self, session: aiohttp.ClientSession, query: str) -> float:
        try:
            async with session.get(
                render_url(self.address, query),
                headers=self._headers(),
                ssl=not self.insecure_skip_verify,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                body, status = await response.read(), response.status
        except TimeoutError as err:
            raise QueryError(f"request failed: timeout after {self.timeout:g}s") from err
        except aiohttp.ClientError as err:
            raise QueryError(f"request failed: {err}") from err
        return parse_response(status, body)

    async def check_online(self) -> None:
        """Raise :class:`QueryError` (with the reason) unless Graphite answers a render query."""
        try:
            await self.run_query(ONLINE_QUERY)
        except plugins.NoValuesFound:
            return
        except QueryError as err:
            raise QueryError(f"running query failed: {err}") from err


def from_provider_spec(
    spec: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
) -> GraphiteBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping (wire form) with the decoded
    Secret data under :data:`flagger.metrics.backends.prometheus.CREDENTIALS_KEY`."""
    username = password = ""
    if spec.get("secretRef") is not None or spec.get(prometheus.CREDENTIALS_KEY) is not None:
        data = dict(spec.get(prometheus.CREDENTIALS_KEY) or {})
        username = backend_common.named_secret_value(data, PROVIDER_TYPE, "username", "a username")
        password = backend_common.named_secret_value(data, PROVIDER_TYPE, "password", "a password")
    return GraphiteBackend(
        str(spec.get("address") or ""),
        username=username,
        password=password,
        insecure_skip_verify=bool(spec.get("insecureSkipVerify")),
        session=session,
    )


# --- plugin hooks ---------------------------------------------------------------------------


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``graphite`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """A Graphite backend for ``spec`` (raises ``ConfigError`` when it is unusable)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec)
