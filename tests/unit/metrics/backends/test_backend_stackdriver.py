"""The Stackdriver backend without a server: answers, configuration, the extra.

Matrix: ``timeSeries:query`` answers (one series with double or int64 points, newest first; no
series, no point, NaN; several series; other value kinds; Google error bodies); provider specs
and Secret keys (``project``, ``serviceAccountKey``); google-auth missing; the plugin hooks.
Authenticated requests against a server are in ``tests/integration/metrics``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from flagger import plugins
from flagger.metrics.backends import prometheus, stackdriver
from tests.support.registered import registered


def _answer(*series: list[dict[str, Any]]) -> bytes:
    data = [
        {"labelValues": [{"stringValue": f"s{i}"}], "pointData": [{"values": [v]} for v in points]}
        for i, points in enumerate(series)
    ]
    return json.dumps({"timeSeriesDescriptor": {}, "timeSeriesData": data}).encode()


def test_value_is_the_first_point_of_the_series() -> None:
    body = _answer([{"doubleValue": 99.5}, {"doubleValue": 12.0}])
    assert stackdriver.parse_response(200, body) == 99.5


def test_int64_values_are_numbers() -> None:
    assert stackdriver.parse_response(200, _answer([{"int64Value": "42"}])) == 42.0


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        _answer([]),
        _answer([{"doubleValue": "NaN"}]),
        json.dumps({"timeSeriesData": [{"pointData": [{"values": []}]}]}).encode(),
    ],
)
def test_nothing_or_nan_is_no_values_found(body: bytes) -> None:
    with pytest.raises(plugins.NoValuesFound):
        stackdriver.parse_response(200, body)


def test_several_series_are_an_error() -> None:
    body = _answer([{"doubleValue": 1.0}], [{"doubleValue": 2.0}])
    with pytest.raises(stackdriver.QueryError, match=r"2 time series.*group_by \[\]\): s0; s1"):
        stackdriver.parse_response(200, body)


def test_other_value_kinds_are_an_error() -> None:
    with pytest.raises(stackdriver.QueryError, match="value of kind boolValue"):
        stackdriver.parse_response(200, _answer([{"boolValue": True}]))


def test_google_error_is_reported_with_status_and_message() -> None:
    body = json.dumps(
        {
            "error": {
                "code": 400,
                "status": "INVALID_ARGUMENT",
                "message": "Line 1: Expected table operation.",
            }
        }
    ).encode()
    with pytest.raises(
        stackdriver.QueryError,
        match=("error requesting stackdriver: INVALID_ARGUMENT: Line 1: Expected"),
    ):
        stackdriver.parse_response(400, body)


def _spec(**data: str) -> dict[str, Any]:
    return {
        "type": "stackdriver",
        "secretRef": {"name": "gcloud"},
        prometheus.CREDENTIALS_KEY: data,
    }


def test_secret_needs_a_project() -> None:
    with pytest.raises(prometheus.ConfigError, match=r"does not contain a project id .*'project'"):
        stackdriver.from_provider_spec(_spec(serviceAccountKey="{}"))


def test_service_account_key_must_be_json() -> None:
    with pytest.raises(prometheus.ConfigError, match="'serviceAccountKey' is not JSON"):
        stackdriver.from_provider_spec(_spec(project="p", serviceAccountKey="not json"))


def test_service_account_key_must_be_a_service_account() -> None:
    pytest.importorskip("google.auth", reason="the stackdriver extra is not installed")
    with pytest.raises(prometheus.ConfigError, match="not a usable service account key"):
        stackdriver.from_provider_spec(_spec(project="p", serviceAccountKey='{"type": "x"}'))


def test_missing_google_auth_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "google.auth" or n.startswith("google.auth.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "google.auth", None)  # what an absent package looks like
    with pytest.raises(stackdriver.MissingExtra, match=r"pip install 'flagger\[stackdriver\]'"):
        stackdriver.from_provider_spec(_spec(project="p"))


def test_hooks_answer_only_for_stackdriver() -> None:
    pytest.importorskip("google.auth", reason="the stackdriver extra is not installed")
    context = plugins.PluginContext()
    assert stackdriver.flagger_metric_backend("cloudwatch", _spec(project="p"), context) is None
    backend = stackdriver.flagger_metric_backend("stackdriver", _spec(project="p"), context)
    assert isinstance(backend, stackdriver.StackdriverBackend) and backend.project == "p"
    assert backend.endpoint == stackdriver.DEFAULT_ENDPOINT
    assert registered(stackdriver) == {(plugins.Kind.METRIC_BACKEND, "stackdriver")}
