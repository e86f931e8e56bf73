"""The external metrics backend without a cluster: queries, quantities, configuration, hooks.

Matrix: queries as Flagger reads them (namespace and metric, metric only, ``/metric``, a
url-encoded label selector, surrounding whitespace; empty names, too many slashes);
Kubernetes quantities (plain, milli, micro/nano, SI, binary, exponent, invalid); no client.
"""

from __future__ import annotations

import pytest

from flagger import plugins
from flagger.metrics.backends import backend_common as common
from flagger.metrics.backends import externalmetrics
from tests.support.registered import registered


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "default/myMetric?labelSelector=label1%3Dvalue1",
            ("default", "myMetric", "label1=value1"),
        ),
        ("default/myMetric", ("default", "myMetric", "")),
        ("myMetric", ("default", "myMetric", "")),
        ("/metric_only", ("default", "metric_only", "")),
        (
            "  keda/s0-rabbitmq-orders?labelSelector=scaledobject.keda.sh%2Fname%3Dpodinfo\n",
            ("keda", "s0-rabbitmq-orders", "scaledobject.keda.sh/name=podinfo"),
        ),
    ],
)
def test_queries(query: str, expected: tuple[str, str, str]) -> None:
    assert externalmetrics.parse_query(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("namespaceonly/", "metric name cannot be empty"),
        ("/", "metric name cannot be empty"),
        ("", "metric name cannot be empty"),
        ("a/b/c", "too many slashes"),
    ],
)
def test_bad_queries(query: str, message: str) -> None:
    with pytest.raises(common.QueryError, match=message):
        externalmetrics.parse_query(query)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42.0),
        ("1500m", 1.5),
        ("11111e-4", 1.1111),
        ("250u", 0.00025),
        ("5n", 5e-9),
        ("2k", 2000.0),
        ("3M", 3e6),
        ("2Ki", 2048.0),
        ("1Gi", 2.0**30),
        ("-0.5", -0.5),
        ("1.5E3", 1500.0),
    ],
)
def test_quantities(text: str, value: float) -> None:
    assert externalmetrics.parse_quantity(text) == pytest.approx(value)


def test_invalid_quantity() -> None:
    with pytest.raises(common.QueryError, match="is not a quantity"):
        externalmetrics.parse_quantity("12 apples")


def test_hooks_and_configuration() -> None:
    assert registered(externalmetrics) == {(plugins.Kind.METRIC_BACKEND, "externalmetrics")}
    assert externalmetrics.flagger_metric_backend("keptn", {}, plugins.PluginContext()) is None
    with pytest.raises(common.ConfigError, match="Not in a kubernetes cluster"):
        externalmetrics.flagger_metric_backend(
            "externalmetrics", {"type": "externalmetrics"}, plugins.PluginContext()
        )
    with pytest.raises(common.ConfigError, match="not a valid URL"):
        externalmetrics.from_provider_spec({"address": "metrics-server"}, object())  # type: ignore[arg-type]
