"""The Graphite backend without a server: render URLs, reading answers, configuration.

Matrix: how a template's query becomes the render URL (whitespace, parameter order, ``format``,
path prefix); answers (last non-null point, string values, nulls only, no series, several
series, HTTP errors, bad JSON); provider specs (address, Secret keys); the plugin hooks.
Requests against a real Graphite are in ``tests/integration/metrics``.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from flagger import plugins
from flagger.metrics.backends import graphite, prometheus
from tests.support.registered import registered


def _series(*points: Any, target: str = "app.requests") -> dict[str, Any]:
    return {"target": target, "datapoints": [[v, 1700000000 + i] for i, v in enumerate(points)]}


def _answer(*series: dict[str, Any]) -> bytes:
    return json.dumps(list(series)).encode()


def test_render_url_collapses_whitespace_sorts_and_asks_for_json() -> None:
    query = "\ntarget=sumSeries(\n  app.{a,b}.count\n)\n&\nfrom=-1m\n"
    url = graphite.render_url("http://graphite:8080", query)
    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "graphite:8080", "/render")
    assert urllib.parse.parse_qsl(parts.query) == [
        ("format", "json"),
        ("from", "-1m"),
        ("target", "sumSeries( app.{a,b}.count )"),
    ]


def test_render_url_keeps_the_address_path_and_replaces_a_format() -> None:
    url = graphite.render_url("https://example.org/graphite/", "target=a&format=png")
    assert url == "https://example.org/graphite/render?format=json&target=a"


def test_value_is_the_last_non_null_point() -> None:
    assert graphite.parse_response(200, _answer(_series(1.0, 7.5, None, None))) == 7.5


def test_string_values_are_read_as_numbers() -> None:
    assert graphite.parse_response(200, _answer(_series("12.25"))) == 12.25


@pytest.mark.parametrize("body", [_answer(), _answer(_series(None, None)), _answer(_series())])
def test_no_value_is_no_values_found(body: bytes) -> None:
    with pytest.raises(plugins.NoValuesFound):
        graphite.parse_response(200, body)


def test_several_series_are_an_error_naming_them() -> None:
    body = _answer(_series(1.0, target="a.count"), _series(2.0, target="b.count"))
    with pytest.raises(graphite.QueryError, match=r"2 series.*sumSeries.*a\.count, b\.count"):
        graphite.parse_response(200, body)


def test_http_error_carries_graphite_text() -> None:
    body = b"Invalid parameters (Received request for unknown function: nope)"
    with pytest.raises(graphite.QueryError, match="error response: Invalid parameters"):
        graphite.parse_response(400, body)


@pytest.mark.parametrize("body", [b"<html>", b'{"a": 1}', b'[{"datapoints": [[1]]}]'])
def test_unreadable_answers_are_errors(body: bytes) -> None:
    with pytest.raises(graphite.QueryError, match="unmarshaling"):
        graphite.parse_response(200, body)


def test_query_error_is_a_prometheus_query_error() -> None:
    assert issubclass(graphite.QueryError, prometheus.QueryError)


@pytest.mark.parametrize("address", ["", "graphite:8080", "ftp://graphite"])
def test_address_must_be_a_url(address: str) -> None:
    with pytest.raises(prometheus.ConfigError, match="is not a valid URL"):
        graphite.from_provider_spec({"type": "graphite", "address": address})


@pytest.mark.parametrize(
    ("data", "key"),
    [({"password": "p"}, "'username'"), ({"username": "u"}, "'password'"), ({"token": "t"}, "")],
)
def test_secret_needs_username_and_password(data: dict[str, str], key: str) -> None:
    spec = {
        "address": "http://g",
        "secretRef": {"name": "graphite"},
        prometheus.CREDENTIALS_KEY: data,
    }
    with pytest.raises(prometheus.ConfigError, match=f"graphite credentials does not .*{key}"):
        graphite.from_provider_spec(spec)


def test_hooks_answer_only_for_graphite() -> None:
    spec = {"type": "graphite", "address": "http://g"}
    context = plugins.PluginContext()
    assert graphite.flagger_metric_backend("prometheus", spec, context) is None
    backend = graphite.flagger_metric_backend("graphite", spec, context)
    assert isinstance(backend, graphite.GraphiteBackend)
    assert isinstance(backend, plugins.MetricBackend)
    assert registered(graphite) == {(plugins.Kind.METRIC_BACKEND, "graphite")}
