"""The OSM observer: Flagger's query texts, rendered for podinfo.default over 1m.

Matrix: metric (request-success-rate, request-duration) x (rendered and compacted as Prometheus
receives it, raw template layout); unknown metrics have no query.
"""

from __future__ import annotations

import pytest

from flagger import plugins
from flagger.api.canary import Canary
from flagger.metrics import observers
from flagger.metrics.backends import prometheus
from flagger.metrics.observers import osm_queries

# Flagger's pkg/metrics/observers/osm_test.go, verbatim.
SUCCESS_RATE = (
    ' sum( rate( osm_request_total{ destination_namespace="default", '
    'destination_kind="Deployment", destination_name="podinfo", response_code!~"5.*" }[1m] ) ) '
    '/ sum( rate( osm_request_total{ destination_namespace="default", '
    'destination_kind="Deployment", destination_name="podinfo" }[1m] ) ) * 100'
)
DURATION = (
    " histogram_quantile( 0.99, sum( rate( osm_request_duration_ms_bucket{ "
    'destination_namespace="default", destination_kind="Deployment", '
    'destination_name="podinfo" }[1m] ) ) by (le) )'
)


def _canary() -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": {
                "provider": "osm",
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
    rendered = observers.render(osm_queries.OSM, metric, _canary(), "1m")
    assert prometheus.compact_query(rendered) == expected


def test_template_layout_and_units() -> None:
    observer = osm_queries.OSM
    assert isinstance(observer, plugins.Observer)
    success = observer.query("request-success-rate")
    assert success is not None
    # Flagger's text mixes four-space and tab indentation; keep it as is.
    assert success.startswith("\n    sum(\n        rate(\n            osm_request_total{\n\t\t\t\t")
    assert success.endswith("            }[{{ interval }}]\n        )\n    )\n\t* 100")
    assert observer.query("request-count") is None
    assert observer.duration_ms(99.9) == 99
