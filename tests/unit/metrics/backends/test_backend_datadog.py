"""The Datadog backend without a server: configuration from the provider spec, endpoints and
the window, reading answers, the plugin hooks.

Matrix: default and custom address; each missing Secret key (and no Secret at all) named with
the MetricTemplate field; a bad interval; answer shapes (one series, none, empty, null point,
several, ``status: error``, HTTP errors with and without Datadog's ``errors`` list, non-JSON).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import plugins
from flagger.metrics.backends import backend_common as common
from flagger.metrics.backends import datadog
from tests.support.registered import registered

KEYS = {"datadog_api_key": "api", "datadog_application_key": "app"}


def _spec(**extra: Any) -> dict[str, Any]:
    return {"type": "datadog", "secretRef": {"name": "datadog"}, "credentials": dict(KEYS), **extra}


def _answer(body: Any, status: int = 200) -> common.HttpAnswer:
    return common.HttpAnswer(status, json.dumps(body).encode())


def test_defaults_match_flagger() -> None:
    backend = datadog.from_provider_spec(_spec(metricInterval="100s"))
    assert backend.query_endpoint == "https://api.datadoghq.com/api/v1/query"
    assert backend.validate_endpoint == "https://api.datadoghq.com/api/v1/validate"
    assert backend.from_delta == 1000
    assert datadog.from_provider_spec(_spec()).from_delta == 600  # default interval 1m


def test_custom_address() -> None:
    backend = datadog.from_provider_spec(_spec(address="https://api.datadoghq.eu/"))
    assert backend.query_endpoint == "https://api.datadoghq.eu/api/v1/query"


@pytest.mark.parametrize("missing", sorted(KEYS))
def test_missing_secret_key_is_named(missing: str) -> None:
    spec = _spec()
    del spec["credentials"][missing]
    with pytest.raises(common.ConfigError) as caught:
        datadog.from_provider_spec(spec)
    message = str(caught.value)
    assert message.startswith(f"datadog credentials does not contain {missing}")
    assert "'datadog'" in message and "spec.provider.secretRef" in message


def test_no_secret_at_all_names_the_field() -> None:
    with pytest.raises(common.ConfigError, match=r"set spec.provider.secretRef.*datadog_api_key"):
        datadog.from_provider_spec({"type": "datadog"})


def test_bad_interval() -> None:
    with pytest.raises(common.ConfigError, match="error parsing metric interval"):
        datadog.from_provider_spec(_spec(metricInterval="soon"))


def test_answers() -> None:
    def series(*points: list[Any]) -> dict[str, Any]:
        return {"pointlist": list(points), "scope": "*"}

    assert datadog.parse_response(_answer({"series": [series([1, 3.0], [2, 4.0])]})) == 3.0
    for body in ({"series": []}, {}, {"series": [series()]}, {"series": [series([1, None])]}):
        with pytest.raises(plugins.NoValuesFound):
            datadog.parse_response(_answer(body))
    with pytest.raises(common.QueryError, match="2 series"):
        datadog.parse_response(_answer({"series": [series([1, 1.0]), series([1, 2.0])]}))
    with pytest.raises(common.QueryError, match="error response: bad query"):
        datadog.parse_response(_answer({"status": "error", "error": "bad query"}))
    with pytest.raises(common.QueryError, match="HTTP 403: Forbidden"):
        datadog.parse_response(_answer({"errors": ["Forbidden"]}, 403))
    with pytest.raises(common.QueryError, match="HTTP 502: <html>"):
        datadog.parse_response(common.HttpAnswer(502, b"<html>bad gateway</html>"))
    with pytest.raises(common.QueryError, match="error unmarshaling"):
        datadog.parse_response(common.HttpAnswer(200, b"not json"))


def test_hooks() -> None:
    assert registered(datadog) == {(plugins.Kind.METRIC_BACKEND, "datadog")}
    context = plugins.PluginContext()
    assert datadog.flagger_metric_backend("prometheus", _spec(), context) is None
    backend = datadog.flagger_metric_backend("datadog", _spec(), context)
    assert isinstance(backend, plugins.MetricBackend)
