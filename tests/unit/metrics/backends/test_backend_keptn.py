"""The Keptn backend without a cluster: reading queries as Flagger does, and the hooks.

Matrix: keptnmetric and analysis queries (singular and plural, upper case, trailing newline),
the analysis defaults (``1m``, no arguments), argument pairs (malformed ones skipped), too few
parts, an unknown kind, no Kubernetes client.
"""

from __future__ import annotations

import pytest

from flagger import plugins
from flagger.metrics.backends import backend_common as common
from flagger.metrics.backends import keptn
from tests.support.registered import registered


def test_keptn_metric_queries() -> None:
    for text in ("keptnmetric/default/my-metric", "KeptnMetrics/Default/My-Metric\n"):
        query = keptn.parse_query(text)
        assert (query.kind, query.namespace, query.name) == ("KeptnMetric", "default", "my-metric")


def test_analysis_queries() -> None:
    query = keptn.parse_query("analysis/default/my-analysis/5m/foo=bar;bar=foo;broken;a=b=c")
    assert (query.kind, query.namespace, query.name) == ("Analysis", "default", "my-analysis")
    assert query.duration == "5m"
    assert query.arguments == {"foo": "bar", "bar": "foo"}
    defaults = keptn.parse_query("analyses/ns/def")
    assert (defaults.duration, defaults.arguments) == ("1m", {})
    # Flagger reads the whole query in lower case, argument values included.
    assert keptn.parse_query("analysis/ns/def/1m/Env=PROD").arguments == {"env": "prod"}


def test_bad_queries() -> None:
    with pytest.raises(common.QueryError, match="unexpected query format"):
        keptn.parse_query("keptnmetric/default")
    with pytest.raises(common.QueryError, match=r"must be one of: \['keptnmetric', 'analysis'\]"):
        keptn.parse_query("invalid/default/my-metric")


async def test_hooks_and_availability() -> None:
    assert registered(keptn) == {(plugins.Kind.METRIC_BACKEND, "keptn")}
    assert keptn.flagger_metric_backend("datadog", {}, plugins.PluginContext()) is None
    with pytest.raises(common.ConfigError, match="no Kubernetes client"):
        keptn.flagger_metric_backend("keptn", {"type": "keptn"}, plugins.PluginContext())
    backend = keptn.KeptnBackend(object())  # type: ignore[arg-type]
    assert await backend.is_online() is True
