"""The Prometheus backend without a server: reading answers, building requests, configuration.

Matrix: answer shapes (vector of 0/1/many samples, scalar, NaN, matrix, error JSON, non-JSON
error); credentials from Secret data (token, basic, incomplete); provider specs (address,
headers, insecureSkipVerify); the plugin hooks. Requests against real servers are in
``tests/integration/metrics``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from flagger import plugins
from flagger.metrics.backends import prometheus


def _answer(kind: str, result: Any) -> bytes:
    return json.dumps(
        {"status": "success", "data": {"resultType": kind, "result": result}}
    ).encode()


def _sample(value: str, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [1700000000.123, value]}


def test_one_sample_gives_its_value() -> None:
    assert prometheus.parse_response(200, _answer("vector", [_sample("99.5")])) == 99.5


def test_scalar_gives_its_value() -> None:
    assert prometheus.parse_response(200, _answer("scalar", [1700000000, "1"])) == 1.0


@pytest.mark.parametrize(
    "body",
    [_answer("vector", []), _answer("vector", [_sample("NaN")]), _answer("scalar", [1, "NaN"])],
    ids=["empty", "nan-vector", "nan-scalar"],
)
def test_empty_or_nan_is_no_values_found(body: bytes) -> None:
    with pytest.raises(plugins.NoValuesFound, match=r"^no values found$"):
        prometheus.parse_response(200, body)


def test_several_samples_are_an_error_naming_the_series() -> None:
    body = _answer("vector", [_sample("1", pod="a"), _sample("2", pod="b")])
    with pytest.raises(prometheus.QueryError) as raised:
        prometheus.parse_response(200, body)
    assert str(raised.value) == (
        "query returned 2 values, expected one (aggregate the query, e.g. with sum()): "
        '{pod="a"}, {pod="b"}'
    )


def test_range_result_is_an_error() -> None:
    with pytest.raises(prometheus.QueryError, match="unsupported result type 'matrix'"):
        prometheus.parse_response(200, _answer("matrix", []))


def test_prometheus_error_text_is_kept() -> None:
    body = json.dumps(
        {"status": "error", "errorType": "bad_data", "error": '1:5: parse error: unexpected "}"'}
    ).encode()
    with pytest.raises(prometheus.QueryError) as raised:
        prometheus.parse_response(400, body)
    assert str(raised.value) == 'error response: bad_data: 1:5: parse error: unexpected "}"'


def test_non_json_error_shows_status_and_body() -> None:
    with pytest.raises(prometheus.QueryError, match=r"^error response: HTTP 502: bad gateway$"):
        prometheus.parse_response(502, b"bad gateway\n")


def test_query_url_collapses_whitespace_and_joins_the_path() -> None:
    backend = prometheus.PrometheusBackend("http://prom.example:9090/prefix/")
    url = backend.query_url('sum(\n\trate(x{a="b"}[1m])\n)')
    assert url == (
        "http://prom.example:9090/prefix/api/v1/query?query="
        "sum%28+rate%28x%7Ba%3D%22b%22%7D%5B1m%5D%29+%29"
    )


def test_token_means_bearer_and_wins_over_basic() -> None:
    creds = prometheus.Credentials.from_secret_data(
        {"token": "t0k", "username": "u", "password": "p"}
    )
    assert creds.authorization() == "Bearer t0k"
    assert "t0k" not in repr(creds)


def test_username_and_password_mean_basic_auth() -> None:
    creds = prometheus.Credentials.from_secret_data({"username": b"admin", "password": b"s3cret"})
    assert creds.authorization() == "Basic " + base64.b64encode(b"admin:s3cret").decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "prometheus credentials does not contain either a username or token"),
        ({"username": "admin"}, "prometheus credentials does not contain a password"),
    ],
)
def test_incomplete_credentials_are_refused(data: dict[str, str], message: str) -> None:
    with pytest.raises(prometheus.ConfigError, match=f"^{message}$"):
        prometheus.Credentials.from_secret_data(data)


def test_secret_data_is_base64_decoded() -> None:
    encoded = {"username": base64.b64encode(b"admin").decode()}
    assert prometheus.decode_secret_data(encoded) == {"username": "admin"}
    with pytest.raises(prometheus.ConfigError, match="secret key 'token' is not base64"):
        prometheus.decode_secret_data({"token": "not base64!"})


def test_provider_spec_builds_a_configured_backend() -> None:
    backend = prometheus.from_provider_spec(
        {
            "type": "prometheus",
            "address": "https://prom.example",
            "insecureSkipVerify": True,
            "headers": {"X-Scope-OrgID": ["tenant-a"], "X-Multi": ["1", "2"]},
            "secretRef": {"name": "prom-auth"},
            prometheus.CREDENTIALS_KEY: {"token": "abc"},
        }
    )
    assert backend.insecure_skip_verify
    assert backend.request_headers() == [
        ("X-Scope-OrgID", "tenant-a"),
        ("X-Multi", "1"),
        ("X-Multi", "2"),
        ("Authorization", "Bearer abc"),
    ]


def test_secret_ref_without_credentials_is_refused() -> None:
    with pytest.raises(prometheus.ConfigError, match="does not contain either a username"):
        prometheus.from_provider_spec(
            {"type": "prometheus", "address": "http://p:9090", "secretRef": {"name": "x"}}
        )


@pytest.mark.parametrize("address", ["", "prometheus:9090", "ftp://p", "http://"])
def test_invalid_address_is_refused(address: str) -> None:
    with pytest.raises(prometheus.ConfigError, match=f"^prometheus address {address} is not a"):
        prometheus.from_provider_spec({"type": "prometheus", "address": address})


def test_hooks_serve_prometheus_through_the_plugin_manager() -> None:
    installed = plugins.load(extra=[prometheus])
    spec = {"type": "prometheus", "address": "http://127.0.0.1:9090"}
    backend = installed.metric_backend("prometheus", spec, plugins.PluginContext())
    assert isinstance(backend, prometheus.PrometheusBackend)
    assert isinstance(backend, plugins.MetricBackend)
    assert "prometheus" in installed.names(plugins.Kind.METRIC_BACKEND)
    assert prometheus.flagger_metric_backend("datadog", spec, plugins.PluginContext()) is None
