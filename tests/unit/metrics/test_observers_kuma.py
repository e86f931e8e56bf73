"""The Kuma observer: Flagger's query texts, rendered for podinfo.default over 1m.

Matrix: metric (request-success-rate, request-duration) x (rendered and compacted as Prometheus
receives it, raw template layout with Flagger's trailing commas); unknown metrics have no query.
"""

from __future__ import annotations

import pytest

from flagger import plugins
from flagger.api.canary import Canary
from flagger.metrics import observers
from flagger.metrics.backends import prometheus
from flagger.metrics.observers import kuma_queries

# Flagger's pkg/metrics/observers/kuma_test.go, verbatim.
SUCCESS_RATE = (
    ' sum( rate( envoy_cluster_upstream_rq{ service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+",'
    ' envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{ '
    'service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+", }[1m] ) ) * 100'
)
DURATION = (
    " histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
    'service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+", }[1m] ) ) by (le) )'
)


def _canary() -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": {
                "provider": "kuma",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"interval": "1m", "threshold": 5},
            },
        }
    )


@pytest.mark.parametrize(
    ("metric", "expected"),
    [("request-success-rate", SUCCESS_RATE), ("request-duration", DURATION)],
)
def test_rendered_queries_are_flaggers(metric: str, expected: str) -> None:
    rendered = observers.render(kuma_queries.KUMA, metric, _canary(), "1m")
    assert prometheus.compact_query(rendered) == expected


def test_template_layout_and_units() -> None:
    observer = kuma_queries.KUMA
    assert isinstance(observer, plugins.Observer)
    duration = observer.query("request-duration")
    assert duration is not None
    assert '_svc_[0-9a-zA-Z-]+",\n\t\t\t\t}[{{ interval }}]' in duration
    assert observer.query("request-count") is None
    assert observer.duration_ms(100.0) == 100
