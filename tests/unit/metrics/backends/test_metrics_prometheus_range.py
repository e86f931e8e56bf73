"""Range queries of the Prometheus backend, which the baseline comparison runs.

The matrix: the request URL, one series' samples (NaN dropped), no series (no values), several
series (an error asking to aggregate), and a Prometheus error answer.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest

from flagger import plugins
from flagger.metrics.backends import prometheus


def _matrix(*series: list[tuple[float, str]]) -> bytes:
    result = [
        {"metric": {"pod": f"p{i}"}, "values": [[t, v] for t, v in values]}
        for i, values in enumerate(series)
    ]
    return json.dumps(
        {"status": "success", "data": {"resultType": "matrix", "result": result}}
    ).encode()


def test_url_carries_the_window_and_step() -> None:
    backend = prometheus.PrometheusBackend("http://prom:9090/")
    url = backend.range_query_url("sum(x)\n  by (le)", 100.0, 160.5, 2.0)
    parsed = urllib.parse.urlsplit(url)
    assert parsed.path == "/api/v1/query_range"
    assert urllib.parse.parse_qs(parsed.query) == {
        "query": ["sum(x) by (le)"],
        "start": ["100.000"],
        "end": ["160.500"],
        "step": ["2s"],
    }


def test_one_series_gives_its_samples_without_nan() -> None:
    body = _matrix([(1, "1.5"), (2, "NaN"), (3, "2")])
    assert prometheus.parse_range_response(200, body) == [1.5, 2.0]


def test_no_series_is_no_values() -> None:
    with pytest.raises(plugins.NoValuesFound):
        prometheus.parse_range_response(200, _matrix())
    with pytest.raises(plugins.NoValuesFound):
        prometheus.parse_range_response(200, _matrix([(1, "NaN")]))


def test_several_series_ask_for_aggregation() -> None:
    with pytest.raises(prometheus.QueryError, match="returned 2 series, expected one"):
        prometheus.parse_range_response(200, _matrix([(1, "1")], [(1, "2")]))


def test_error_answer_carries_prometheus_text() -> None:
    body = json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"})
    with pytest.raises(prometheus.QueryError, match="error response: bad_data: parse error"):
        prometheus.parse_range_response(400, body.encode())
