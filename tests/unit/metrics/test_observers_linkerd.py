"""The Linkerd observer: Flagger's query texts, rendered for podinfo.default over 1m.

Matrix: metric (request-success-rate, request-duration) x (rendered and compacted as Prometheus
receives it, raw template layout); unknown metrics have no query.
"""

from __future__ import annotations

import pytest

from flagger import plugins
from flagger.api.canary import Canary
from flagger.metrics import observers
from flagger.metrics.backends import prometheus
from flagger.metrics.observers import linkerd_queries

# What Flagger's pkg/metrics/observers/linkerd_test.go expects Prometheus to receive.
SUCCESS_RATE = (
    ' sum( rate( response_total{ namespace="default", deployment=~"podinfo", '
    'classification!="failure", direction="inbound" }[1m] ) ) / sum( rate( response_total{ '
    'namespace="default", deployment=~"podinfo", direction="inbound" }[1m] ) ) * 100'
)
DURATION = (
    ' histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{ namespace="default", '
    'deployment=~"podinfo", direction="inbound" }[1m] ) ) by (le) )'
)


def _canary() -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": {
                "provider": "linkerd",
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
    rendered = observers.render(linkerd_queries.LINKERD, metric, _canary(), "1m")
    assert prometheus.compact_query(rendered) == expected


def test_template_layout_and_units() -> None:
    observer = linkerd_queries.LINKERD
    assert isinstance(observer, plugins.Observer)
    duration = observer.query("request-duration")
    assert duration is not None
    assert duration.startswith("\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n\t\t\trate(\n")
    assert duration.endswith("\t\t\t\t}[{{ interval }}]\n\t\t\t)\n\t\t) by (le)\n\t)")
    assert observer.query("request-count") is None
    assert observer.duration_ms(2415.9) == 2415
    assert linkerd_queries.PROVIDERS == ("linkerd",)
