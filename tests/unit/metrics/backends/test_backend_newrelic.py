"""The New Relic backend without a server: configuration, the NRQL sent, reading answers, hooks.

Matrix: default (US) and EU addresses; each missing Secret key named with the MetricTemplate
field; the SINCE clause from the interval; answer shapes (``result``, a single named number,
null, none, several, FACET, an object without a number, Insights' ``error`` on HTTP errors).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import plugins
from flagger.metrics.backends import backend_common as common
from flagger.metrics.backends import newrelic
from tests.support.registered import registered

KEYS = {"newrelic_account_id": "51312", "newrelic_query_key": "query-key"}


def _spec(**extra: Any) -> dict[str, Any]:
    return {
        "type": "newrelic",
        "secretRef": {"name": "newrelic"},
        "credentials": dict(KEYS),
        **extra,
    }


def _answer(body: Any, status: int = 200) -> common.HttpAnswer:
    return common.HttpAnswer(status, json.dumps(body).encode())


def test_defaults_match_flagger() -> None:
    backend = newrelic.from_provider_spec(_spec(metricInterval="100s"))
    assert backend.query_endpoint == "https://insights-api.newrelic.com/v1/accounts/51312/query"
    assert backend.from_delta == 100
    assert backend.nrql("SELECT 1 FROM Metric") == "SELECT 1 FROM Metric SINCE 100 seconds ago"
    eu = newrelic.from_provider_spec(_spec(address="https://insights-api.eu.newrelic.com"))
    assert eu.query_endpoint.startswith("https://insights-api.eu.newrelic.com/v1/accounts/")


@pytest.mark.parametrize("missing", sorted(KEYS))
def test_missing_secret_key_is_named(missing: str) -> None:
    spec = _spec()
    del spec["credentials"][missing]
    with pytest.raises(
        common.ConfigError,
        match=f"newrelic credentials does not contain {missing}: .*"
        r"spec.provider.secretRef",
    ):
        newrelic.from_provider_spec(spec)


def test_answers() -> None:
    assert newrelic.parse_response(_answer({"results": [{"result": 1.5}]})) == 1.5
    assert newrelic.parse_response(_answer({"results": [{"count": 12}]})) == 12.0
    for body in (
        {"results": []},
        {},
        {"results": [{"result": None}]},
        {"results": [{"events": []}]},
    ):
        with pytest.raises(plugins.NoValuesFound):
            newrelic.parse_response(_answer(body))
    with pytest.raises(common.QueryError, match="2 results"):
        newrelic.parse_response(_answer({"results": [{"result": 1}, {"result": 2}]}))
    with pytest.raises(common.QueryError, match="1 facets"):
        newrelic.parse_response(_answer({"facets": [{"name": "a", "results": []}]}))
    with pytest.raises(common.QueryError, match="HTTP 400: NRQL Syntax Error"):
        newrelic.parse_response(_answer({"error": "NRQL Syntax Error: Error at line 1"}, 400))


def test_hooks() -> None:
    assert registered(newrelic) == {(plugins.Kind.METRIC_BACKEND, "newrelic")}
    context = plugins.PluginContext()
    assert newrelic.flagger_metric_backend("datadog", _spec(), context) is None
    assert isinstance(
        newrelic.flagger_metric_backend("newrelic", _spec(), context), plugins.MetricBackend
    )
