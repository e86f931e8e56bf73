"""The Dynatrace metric backend: a metric selector through the Metrics API v2.

As Flagger's (``pkg/metrics/providers/dynatrace.go``):

- address: ``spec.provider.address`` is required (``https://<environment>.live.dynatrace.com``
  or a Managed ``https://<domain>/e/<environment>``);
- Secret key ``dynatrace_token``, sent as ``Authorization: Api-Token <token>``;
- a query is ``GET <address>/api/v2/metrics/query?metricSelector=<query>&resolution=Inf&from=
  <now - 10 x interval>&to=<now>`` (Unix milliseconds): ``resolution=Inf`` folds the window into
  one value per series;
- the value is the first value of the (single) series of the first metric result;
- availability is ``GET <address>/api/v2/metrics?pageSize=1`` answering 200.

No result, no series, no value or a ``null`` value is "no values found"; several series (a
selector that splits by a dimension) are an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from flagger import plugins
from flagger.metrics.backends import backend_common as common

__all__ = [
    "AUTHORIZATION_SCHEME",
    "PROVIDER_TYPE",
    "TOKEN_SECRET_KEY",
    "DynatraceBackend",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "parse_response",
]

PROVIDER_TYPE = "dynatrace"
QUERY_PATH = "/api/v2/metrics/query"
VALIDATION_PATH = "/api/v2/metrics"
VALIDATION_PARAMS = (("pageSize", "1"),)
TOKEN_SECRET_KEY = "dynatrace_token"
AUTHORIZATION_SCHEME = "Api-Token"
RESOLUTION = "Inf"
#: The query window is this many metric intervals.
FROM_DELTA_MULTIPLIER = 10


def parse_response(answer: common.HttpAnswer) -> float:
    """The value of a ``/api/v2/metrics/query`` answer (see the module docstring)."""
    if answer.status != 200:
        raise common.QueryError(f"error response: {_error_text(answer)}")
    body = answer.json()
    if not isinstance(body, dict):
        raise common.QueryError(f"error unmarshaling result: {answer.text!r}")
    results = body.get("result") or []
    if not isinstance(results, list) or not results:
        raise common.no_values("the query returned no metric result")
    first = results[0] if isinstance(results[0], dict) else {}
    data = first.get("data") or []
    if not isinstance(data, list) or not data:
        raise common.no_values(f"no data for {first.get('metricId', 'the metric')}")
    if len(data) > 1:
        dims = ", ".join(str(d.get("dimensionMap") or d.get("dimensions")) for d in data[:5])
        raise common.QueryError(
            f"query returned {len(data)} series, expected one (aggregate the selector, e.g. "
            f"with :splitBy()): {dims}"
        )
    values = data[0].get("values") or []
    if not isinstance(values, list) or not values:
        raise common.no_values("the series has no values")
    return common.number(values[0], "the value")


def _error_text(answer: common.HttpAnswer) -> str:
    try:
        body = answer.json()
    except common.QueryError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"HTTP {error.get('code', answer.status)}: {error.get('message', answer.text)}"
    return f"HTTP {answer.status}: {answer.text}"


class DynatraceBackend(plugins.OnlineCheck):
    """Runs Dynatrace metric selectors (implements :class:`flagger.plugins.MetricBackend`)."""

    def __init__(
        self,
        address: str,
        token: str,
        *,
        interval_seconds: float = 60.0,
        timeout: float = common.DEFAULT_TIMEOUT_SECONDS,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address.rstrip("/")
        self.query_endpoint = self.address + QUERY_PATH
        self.validation_endpoint = self.address + VALIDATION_PATH
        self.from_delta_ms = int(FROM_DELTA_MULTIPLIER * interval_seconds * 1000)
        self._token = token
        self._http = common.HttpClient(timeout=timeout, session=session)
        self._clock = clock

    def __repr__(self) -> str:
        return f"DynatraceBackend({self.address!r})"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"{AUTHORIZATION_SCHEME} {self._token}"}

    async def run_query(self, query: str) -> float:
        """The selector's value over ``[now - 10 x interval, now]`` at resolution ``Inf``."""
        now_ms = int(self._clock()) * 1000
        params = [
            ("metricSelector", query),
            ("resolution", RESOLUTION),
            ("from", str(now_ms - self.from_delta_ms)),
            ("to", str(now_ms)),
        ]
        answer = await self._http.request(
            "GET", self.query_endpoint, headers=self._headers(), params=params
        )
        return parse_response(answer)

    async def check_online(self) -> None:
        """Raise with the reason unless the Metrics API accepts the token."""
        answer = await self._http.request(
            "GET", self.validation_endpoint, headers=self._headers(), params=list(VALIDATION_PARAMS)
        )
        if answer.status != 200:
            raise common.QueryError(f"error response: {_error_text(answer)}")


def from_provider_spec(
    spec: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
) -> DynatraceBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping (see
    :mod:`~flagger.metrics.backends.backend_common` for the credentials and interval keys)."""
    return DynatraceBackend(
        common.address(spec, PROVIDER_TYPE),
        common.secret_value(spec, PROVIDER_TYPE, TOKEN_SECRET_KEY),
        interval_seconds=common.interval_seconds(spec),
        session=session,
    )


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``dynatrace`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """A Dynatrace backend for ``spec`` (raises
    :class:`~flagger.metrics.backends.backend_common.ConfigError` when it is unusable)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec)
