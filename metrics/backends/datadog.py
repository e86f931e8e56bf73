"""The Datadog metric backend: one metrics query over the last ten metric intervals.

As Flagger's (``pkg/metrics/providers/datadog.go``):

- address: ``spec.provider.address``, default ``https://api.datadoghq.com`` (other sites:
  ``https://api.datadoghq.eu``, ``https://api.us5.datadoghq.com``, ...);
- Secret keys ``datadog_api_key`` and ``datadog_application_key``, sent as the ``DD-API-KEY`` and
  ``DD-APPLICATION-KEY`` headers;
- a query is ``GET <address>/api/v1/query?query=...&from=<now - 10 x interval>&to=<now>``
  (Unix seconds); the value is the **first** (oldest) point of the series, because the newest
  bucket is almost always incomplete;
- availability is ``GET <address>/api/v1/validate`` answering 200.

No series, an empty ``pointlist`` or a ``null`` point is "no values found". Several series are
an error here (Flagger silently takes the first): a check needs one number, so aggregate the
query (``avg:...{...}`` without ``by {...}``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from flagger import plugins
from flagger.metrics.backends import backend_common as common

__all__ = [
    "API_KEY_HEADER",
    "API_KEY_SECRET_KEY",
    "APPLICATION_KEY_HEADER",
    "APPLICATION_KEY_SECRET_KEY",
    "DEFAULT_ADDRESS",
    "PROVIDER_TYPE",
    "DatadogBackend",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "parse_response",
]

PROVIDER_TYPE = "datadog"
DEFAULT_ADDRESS = "https://api.datadoghq.com"
QUERY_PATH = "/api/v1/query"
VALIDATE_PATH = "/api/v1/validate"
API_KEY_SECRET_KEY = "datadog_api_key"
API_KEY_HEADER = "DD-API-KEY"
APPLICATION_KEY_SECRET_KEY = "datadog_application_key"
APPLICATION_KEY_HEADER = "DD-APPLICATION-KEY"
#: The query window is this many metric intervals.
FROM_DELTA_MULTIPLIER = 10


def parse_response(answer: common.HttpAnswer) -> float:
    """The value of a ``/api/v1/query`` answer (see the module docstring)."""
    if answer.status != 200:
        raise common.QueryError(f"error response: {_errors(answer)}")
    body = answer.json()
    if not isinstance(body, dict):
        raise common.QueryError(f"error unmarshaling result: {answer.text!r}")
    if body.get("status") == "error" or body.get("error"):
        raise common.QueryError(f"error response: {body.get('error') or answer.text}")
    series = body.get("series") or []
    if not isinstance(series, list) or not series:
        raise common.no_values(f"no series for query {body.get('query', '')!r}".rstrip())
    if len(series) > 1:
        names = ", ".join(str(s.get("scope") or s.get("expression") or "?") for s in series[:5])
        raise common.QueryError(
            f"query returned {len(series)} series, expected one (aggregate the query, e.g. "
            f"without 'by {{...}}'): {names}"
        )
    points = series[0].get("pointlist") or []
    if not isinstance(points, list) or not points:
        raise common.no_values("the series has no points")
    first = points[0]
    if not isinstance(first, list) or len(first) < 2:
        raise common.no_values("the first point has no value")
    return common.number(first[1], "the first point's value")


def _errors(answer: common.HttpAnswer) -> str:
    try:
        body = answer.json()
    except common.QueryError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        return f"HTTP {answer.status}: " + "; ".join(str(e) for e in body["errors"])
    return f"HTTP {answer.status}: {answer.text}"


class DatadogBackend(plugins.OnlineCheck):
    """Runs Datadog metric queries (implements :class:`flagger.plugins.MetricBackend`)."""

    def __init__(
        self,
        address: str,
        api_key: str,
        application_key: str,
        *,
        interval_seconds: float = 60.0,
        timeout: float = common.DEFAULT_TIMEOUT_SECONDS,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address.rstrip("/")
        self.query_endpoint = self.address + QUERY_PATH
        self.validate_endpoint = self.address + VALIDATE_PATH
        self.from_delta = int(FROM_DELTA_MULTIPLIER * interval_seconds)
        self._api_key, self._application_key = api_key, application_key
        self._http = common.HttpClient(timeout=timeout, session=session)
        self._clock = clock

    def __repr__(self) -> str:
        return f"DatadogBackend({self.address!r})"

    def _headers(self) -> dict[str, str]:
        return {API_KEY_HEADER: self._api_key, APPLICATION_KEY_HEADER: self._application_key}

    async def run_query(self, query: str) -> float:
        """The first point of the query's single series over ``[now - 10 x interval, now]``."""
        now = int(self._clock())
        params = [("query", query), ("from", str(now - self.from_delta)), ("to", str(now))]
        answer = await self._http.request(
            "GET", self.query_endpoint, headers=self._headers(), params=params
        )
        return parse_response(answer)

    async def check_online(self) -> None:
        """Raise with the reason unless ``/api/v1/validate`` accepts the keys."""
        answer = await self._http.request("GET", self.validate_endpoint, headers=self._headers())
        if answer.status != 200:
            raise common.QueryError(f"error response: {_errors(answer)}")


def from_provider_spec(
    spec: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
) -> DatadogBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping (see
    :mod:`~flagger.metrics.backends.backend_common` for the credentials and interval keys)."""
    return DatadogBackend(
        common.address(spec, PROVIDER_TYPE, DEFAULT_ADDRESS),
        common.secret_value(spec, PROVIDER_TYPE, API_KEY_SECRET_KEY),
        common.secret_value(spec, PROVIDER_TYPE, APPLICATION_KEY_SECRET_KEY),
        interval_seconds=common.interval_seconds(spec),
        session=session,
    )


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``datadog`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """A Datadog backend for ``spec`` (raises
    :class:`~flagger.metrics.backends.backend_common.ConfigError` when it is unusable)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec)
