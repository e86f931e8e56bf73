"""The New Relic metric backend: NRQL through the Insights query API.

As Flagger's (``pkg/metrics/providers/newrelic.go``):

- address: ``spec.provider.address``, default ``https://insights-api.newrelic.com`` (EU accounts:
  ``https://insights-api.eu.newrelic.com``);
- Secret keys ``newrelic_account_id`` and ``newrelic_query_key``; the key is sent as the
  ``X-Query-Key`` header;
- a query is ``GET <address>/v1/accounts/<account id>/query?nrql=<query> SINCE <interval
  seconds> seconds ago``;
- the value is ``results[0].result`` -- write the NRQL as an arithmetic expression, as in
  Flagger's docs (``SELECT filter(sum(x), WHERE ...) / sum(x) * 100 FROM Metric ...``);
  beyond Flagger, a single result holding exactly one number under another name (``count``,
  ``average``, ...) is taken too;
- availability is the query ``SELECT * FROM Metric`` answering 200.

No result, or a ``null`` result, is "no values found"; several results are an error.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import aiohttp

from flagger import plugins
from flagger.metrics.backends import backend_common as common

__all__ = [
    "ACCOUNT_ID_SECRET_KEY",
    "DEFAULT_ADDRESS",
    "ONLINE_QUERY",
    "PROVIDER_TYPE",
    "QUERY_KEY_HEADER",
    "QUERY_KEY_SECRET_KEY",
    "NewRelicBackend",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "parse_response",
]

PROVIDER_TYPE = "newrelic"
DEFAULT_ADDRESS = "https://insights-api.newrelic.com"
ACCOUNT_ID_SECRET_KEY = "newrelic_account_id"
QUERY_KEY_SECRET_KEY = "newrelic_query_key"
QUERY_KEY_HEADER = "X-Query-Key"
ONLINE_QUERY = "SELECT * FROM Metric"


def parse_response(answer: common.HttpAnswer) -> float:
    """The value of an Insights query answer (see the module docstring)."""
    if answer.status != 200:
        raise common.QueryError(f"error response: {_error_text(answer)}")
    body = answer.json()
    if not isinstance(body, dict):
        raise common.QueryError(f"error unmarshaling result: {answer.text!r}")
    if "facets" in body and "results" not in body:
        raise common.QueryError(
            f"query returned {len(body.get('facets') or [])} facets, expected one value "
            f"(remove FACET from the NRQL)"
        )
    results = body.get("results") or []
    if not isinstance(results, list) or not results:
        raise common.no_values("the query returned no results")
    if len(results) > 1:
        raise common.QueryError(
            f"query returned {len(results)} results, expected one (select a single "
            f"expression): {answer.text[:300]}"
        )
    first = results[0]
    if not isinstance(first, dict):
        raise common.QueryError(f"invalid response: {answer.text}")
    if "result" in first:
        return common.number(first["result"], "result")
    if len(first) == 1:
        ((name, value),) = first.items()
        if value is None or isinstance(value, int | float):
            return common.number(value, name)
    raise common.no_values(f"the result has no single number: {answer.text[:300]}")


def _error_text(answer: common.HttpAnswer) -> str:
    try:
        body = answer.json()
    except common.QueryError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return f"HTTP {answer.status}: {body['error']}"
    return f"HTTP {answer.status}: {answer.text}"


class NewRelicBackend(plugins.OnlineCheck):
    """Runs NRQL queries (implements :class:`flagger.plugins.MetricBackend`)."""

    def __init__(
        self,
        address: str,
        account_id: str,
        query_key: str,
        *,
        interval_seconds: float = 60.0,
        timeout: float = common.DEFAULT_TIMEOUT_SECONDS,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.address = address.rstrip("/")
        self.query_endpoint = (
            f"{self.address}/v1/accounts/{urllib.parse.quote(account_id, safe='')}/query"
        )
        self.from_delta = int(interval_seconds)
        self._query_key = query_key
        self._http = common.HttpClient(timeout=timeout, session=session)

    def __repr__(self) -> str:
        return f"NewRelicBackend({self.query_endpoint!r})"

    def nrql(self, query: str) -> str:
        """The NRQL sent: the query with Flagger's ``SINCE <interval> seconds ago``."""
        return f"{query} SINCE {self.from_delta} seconds ago"

    async def _get(self, query: str) -> common.HttpAnswer:
        return await self._http.request(
            "GET",
            self.query_endpoint,
            headers={QUERY_KEY_HEADER: self._query_key},
            params=[("nrql", self.nrql(query))],
        )

    async def run_query(self, query: str) -> float:
        """The single result of the NRQL query over the last metric interval."""
        return parse_response(await self._get(query))

    async def check_online(self) -> None:
        """Raise with the reason unless the Insights API accepts the key and account."""
        answer = await self._get(ONLINE_QUERY)
        if answer.status != 200:
            raise common.QueryError(f"error response: {_error_text(answer)}")


def from_provider_spec(
    spec: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
) -> NewRelicBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping (see
    :mod:`~flagger.metrics.backends.backend_common` for the credentials and interval keys)."""
    address = common.address(spec, PROVIDER_TYPE, DEFAULT_ADDRESS)
    account_id = common.secret_value(spec, PROVIDER_TYPE, ACCOUNT_ID_SECRET_KEY)
    query_key = common.secret_value(spec, PROVIDER_TYPE, QUERY_KEY_SECRET_KEY)
    return NewRelicBackend(
        address,
        account_id,
        query_key,
        interval_seconds=common.interval_seconds(spec),
        session=session,
    )


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``newrelic`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """A New Relic backend for ``spec`` (raises
    :class:`~flagger.metrics.backends.backend_common.ConfigError` when it is unusable)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec)
