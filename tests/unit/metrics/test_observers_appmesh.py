"""The appmesh observer's built-in queries: Flagger's appmesh_test.go expectations.

Matrix: metric (request-success-rate, request-duration) rendered for podinfo.default over 1m and
compacted as the Prometheus backend sends it; the template layout; the unit of the duration.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagger import plugins
from flagger.api.canary import Canary
from flagger.metrics import observers
from flagger.metrics.backends import prometheus
from flagger.metrics.observers import appmesh_queries

SUCCESS_RATE = (
    ' sum( rate( envoy_cluster_upstream_rq{ kubernetes_namespace="default",'
    ' kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",'
    ' envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{'
    ' kubernetes_namespace="default",'
    ' kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) * 100'
)
DURATION = (
    " histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{"
    ' kubernetes_namespace="default",'
    ' kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) by (le) )'
)


def _canary() -> Canary:
    spec: dict[str, Any] = {
        "provider": "appmesh",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 5},
    }
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": spec,
        }
    )


@pytest.mark.parametrize(
    ("metric", "expected"),
    [(observers.REQUEST_SUCCESS_RATE, SUCCESS_RATE), (observers.REQUEST_DURATION, DURATION)],
)
def test_rendered_queries_are_flaggers(metric: str, expected: str) -> None:
    rendered = observers.render(appmesh_queries.APPMESH, metric, _canary(), "1m")
    assert prometheus.compact_query(rendered) == expected


def test_templates_keep_flaggers_layout() -> None:
    for metric in (observers.REQUEST_SUCCESS_RATE, observers.REQUEST_DURATION):
        template = appmesh_queries.APPMESH.query(metric)
        assert template is not None and template.startswith("\n\t")
        assert "[{{ interval }}]" in template


def test_duration_is_already_milliseconds() -> None:
    assert appmesh_queries.APPMESH.duration_ms(2415.9) == 2415
    assert appmesh_queries.APPMESH.query("error-rate") is None


def test_observer_satisfies_the_plugin_protocol() -> None:
    assert isinstance(appmesh_queries.APPMESH, plugins.Observer)
    assert appmesh_queries.PROVIDERS == ("appmesh", "appmesh:v1beta2")
