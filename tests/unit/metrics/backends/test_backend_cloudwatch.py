"""The CloudWatch backend without a server: queries, answers, configuration, the extra.

Matrix: the ``MetricDataQueries`` JSON (exact and case-insensitive field names, unknown fields,
null, not a list, bad JSON); ``GetMetricData`` answers (one result newest first, no result, no
values, several results); provider specs (region, metric interval); the AWS SDK missing; the
plugin hooks. Signed requests against a server are in ``tests/integration/metrics``.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from flagger import plugins
from flagger.metrics.backends import cloudwatch, prometheus
from tests.support.registered import registered


@pytest.fixture
def shape() -> Any:
    botocore_session = pytest.importorskip(
        "botocore.session", reason="the cloudwatch extra (botocore) is not installed"
    )
    model = botocore_session.get_session().get_service_model("cloudwatch")
    return model.operation_model("GetMetricData").input_shape.members["MetricDataQueries"].member


def test_query_is_matched_to_the_sdk_field_names_without_regard_to_case(shape: Any) -> None:
    query = """[{"id": "e1", "expression": "m1 / m2", "returndata": true, "Colour": "red"},
                {"ID": "m1", "ReturnData": false, "metricStat": {"metric": {
                  "namespace": "App", "metricName": "errors",
                  "dimensions": [{"name": "service", "value": "podinfo"}]},
                  "period": 60, "stat": "Sum"}}]"""
    assert cloudwatch.parse_query(query, shape) == [
        {"Id": "e1", "Expression": "m1 / m2", "ReturnData": True},
        {
            "Id": "m1",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "App",
                    "MetricName": "errors",
                    "Dimensions": [{"Name": "service", "Value": "podinfo"}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        },
    ]


def test_null_query_is_no_queries(shape: Any) -> None:
    assert cloudwatch.parse_query("null", shape) == []


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("[{", "error unmarshaling query"),
        ('{"Id": "e1"}', "expected a JSON list"),
        ('[{"Id": "m1", "MetricStat": []}]', r"\[0\]\.MetricStat must be an object"),
    ],
)
def test_unreadable_query_is_an_error(shape: Any, query: str, text: str) -> None:
    with pytest.raises(cloudwatch.QueryError, match=text):
        cloudwatch.parse_query(query, shape)


def test_value_is_the_first_newest_value() -> None:
    answer = {"MetricDataResults": [{"Id": "e1", "Values": [0.25, 0.5, 0.75]}]}
    assert cloudwatch.parse_response(answer) == 0.25


@pytest.mark.parametrize(
    "answer", [{}, {"MetricDataResults": []}, {"MetricDataResults": [{"Id": "e1", "Values": []}]}]
)
def test_nothing_is_no_values_found(answer: dict[str, Any]) -> None:
    with pytest.raises(plugins.NoValuesFound):
        cloudwatch.parse_response(answer)


def test_several_results_are_an_error_naming_return_data() -> None:
    answer = {"MetricDataResults": [{"Id": "e1", "Values": [1.0]}, {"Id": "m1", "Values": [2.0]}]}
    with pytest.raises(cloudwatch.QueryError, match=r'2 results \(e1, m1\).*"ReturnData": false'):
        cloudwatch.parse_response(answer)


def test_region_is_required() -> None:
    with pytest.raises(prometheus.ConfigError, match="cloudwatch region not specified"):
        cloudwatch.from_provider_spec({"type": "cloudwatch"})


def test_bad_metric_interval_is_a_config_error() -> None:
    spec = {"region": "eu-west-1", cloudwatch.INTERVAL_KEY: "a minute"}
    with pytest.raises(prometheus.ConfigError, match="error parsing metric interval"):
        cloudwatch.from_provider_spec(spec)


def test_query_window_is_ten_metric_intervals(shape: Any) -> None:
    backend = cloudwatch.from_provider_spec(
        {"region": "eu-west-1", cloudwatch.INTERVAL_KEY: "2m30s"}
    )
    assert backend.start_delta.total_seconds() == 1500
    default = cloudwatch.from_provider_spec({"region": "eu-west-1"})
    assert default.start_delta.total_seconds() == 600


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "botocore" or n.startswith("botocore.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "botocore", None)  # what an absent package looks like
    with pytest.raises(cloudwatch.MissingExtra, match=r"pip install 'flagger\[cloudwatch\]'"):
        cloudwatch.from_provider_spec({"region": "eu-west-1"})
    assert issubclass(cloudwatch.MissingExtra, prometheus.ConfigError)


def test_hooks_answer_only_for_cloudwatch(shape: Any) -> None:
    spec = {"type": "cloudwatch", "region": "eu-west-1"}
    context = plugins.PluginContext()
    assert cloudwatch.flagger_metric_backend("prometheus", spec, context) is None
    backend = cloudwatch.flagger_metric_backend("cloudwatch", spec, context)
    assert isinstance(backend, cloudwatch.CloudWatchBackend)
    assert isinstance(backend, plugins.MetricBackend)
    assert registered(cloudwatch) == {(plugins.Kind.METRIC_BACKEND, "cloudwatch")}
