"""The Dynatrace backend without a server: configuration, endpoints, reading answers, hooks.

Matrix: the address is required (error names the field); the missing token named with the
MetricTemplate field; endpoints and the window in ms; answer shapes (a value, no result, no
series, no values, null, several series, Dynatrace's ``error`` object on HTTP errors).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import plugins
from flagger.metrics.backends import backend_common as common
from flagger.metrics.backends import dynatrace
from tests.support.registered import registered

ADDRESS = "https://mySampleEnv.live.dynatrace.com"


def _spec(**extra: Any) -> dict[str, Any]:
    return {
        "type": "dynatrace",
        "address": ADDRESS,
        "secretRef": {"name": "dynatrace"},
        "credentials": {"dynatrace_token": "token"},
        **extra,
    }


def _answer(data: Any, status: int = 200) -> common.HttpAnswer:
    body = data if status != 200 else {"totalCount": 1, "result": data}
    return common.HttpAnswer(status, json.dumps(body).encode())


def test_endpoints_match_flagger() -> None:
    backend = dynatrace.from_provider_spec(_spec(metricInterval="100s"))
    assert backend.query_endpoint == f"{ADDRESS}/api/v2/metrics/query"
    assert backend.validation_endpoint == f"{ADDRESS}/api/v2/metrics"
    assert backend.from_delta_ms == 1_000_000


def test_address_is_required() -> None:
    spec = _spec()
    del spec["address"]
    with pytest.raises(
        common.ConfigError, match=r"dynatrace endpoint is not set: set spec\.provider\.address"
    ):
        dynatrace.from_provider_spec(spec)


def test_missing_token_is_named() -> None:
    with pytest.raises(
        common.ConfigError,
        match=r"does not contain dynatrace_token: add the key 'dynatrace_token' "
        r"to the Secret 'dt' named by the MetricTemplate's "
        r"spec.provider.secretRef",
    ):
        dynatrace.from_provider_spec(_spec(secretRef={"name": "dt"}, credentials={"x": "y"}))


def test_answers() -> None:
    def series(*values: Any) -> dict[str, Any]:
        return {"dimensions": [], "timestamps": [1] * len(values), "values": list(values)}

    assert dynatrace.parse_response(_answer([{"metricId": "m", "data": [series(0.5)]}])) == 0.5
    for result in (
        [],
        [{"metricId": "m", "data": []}],
        [{"metricId": "m", "data": [series()]}],
        [{"metricId": "m", "data": [series(None)]}],
    ):
        with pytest.raises(plugins.NoValuesFound):
            dynatrace.parse_response(_answer(result))
    with pytest.raises(common.QueryError, match="2 series"):
        dynatrace.parse_response(_answer([{"metricId": "m", "data": [series(1), series(2)]}]))
    with pytest.raises(common.QueryError, match="HTTP 400: Constraints violated"):
        dynatrace.parse_response(
            _answer({"error": {"code": 400, "message": "Constraints violated"}}, 400)
        )


def test_hooks() -> None:
    assert registered(dynatrace) == {(plugins.Kind.METRIC_BACKEND, "dynatrace")}
    context = plugins.PluginContext()
    assert dynatrace.flagger_metric_backend("datadog", _spec(), context) is None
    assert isinstance(
        dynatrace.flagger_metric_backend("dynatrace", _spec(), context), plugins.MetricBackend
    )
