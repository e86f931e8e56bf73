"""The dashboard's charts read the daemon's own series from a real Prometheus.

The daemon's metrics registry (``flagger_canary_weight``, ``flagger_canary_metric_analysis``)
is scraped by Debian's Prometheus every second; the dashboard's range queries must return the
weight over time and each metric check's values, which the canary page then shows against the
thresholds. No control plane is needed.
"""

from __future__ import annotations

import json
import pathlib
import time
import urllib.parse
import urllib.request

import aiohttp

from flagger.api import canary as canary_api
from flagger.dashboard import history
from flagger.observability import metrics as metrics_api
from flagger.ops import views
from tests.support import prometheus_server


def _canary() -> canary_api.Canary:
    return canary_api.Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"interval": "10s", "threshold": 5, "stepWeight": 10},
            },
        }
    )


def _until_scraped(url: str, weight: int) -> None:
    query = urllib.parse.quote('flagger_canary_weight{workload="podinfo"}')
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/query?query={query}", timeout=5) as answer:
            result = json.loads(answer.read())["data"]["result"]
        if result and float(result[0]["value"][1]) == weight:
            return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus never scraped weight {weight}")


async def test_weights_and_metric_values_come_from_prometheus(tmp_path: pathlib.Path) -> None:
    import prometheus_client

    metrics = metrics_api.Metrics(prometheus_client.CollectorRegistry(), process_metrics=False)
    canary = _canary()
    exporter = prometheus_server.start_exporter(metrics.registry)
    prometheus = prometheus_server.start_prometheus([exporter.target], tmp_path / "prometheus")
    try:
        for weight, rate in ((10, 99.5), (20, 97.0), (30, 99.9)):
            metrics.set_weight(canary, 100 - weight, weight)
            metrics.observe_analysis(canary, "request-success-rate", rate)
            _until_scraped(prometheus.url, weight)
            time.sleep(4.2)  # two steps of the dashboard's range query (2s)
        async with aiohttp.ClientSession() as session:
            weights = await history.prometheus_series(
                session,
                prometheus.url,
                'flagger_canary_weight{workload="podinfo",namespace="test"}',
            )
            checks = await history.prometheus_series(
                session,
                prometheus.url,
                'flagger_canary_metric_analysis{name="podinfo",namespace="test"}',
            )
            unreachable = await history.prometheus_series(session, "http://127.0.0.1:9", "up")
    finally:
        prometheus.stop()
        exporter.stop()
    (points,) = weights.values()
    assert {10.0, 20.0, 30.0} <= {value for _, value in points}
    assert [v for _, v in points] == sorted(v for _, v in points), "the weight only went up"
    values = [value for _, value in checks["request-success-rate"]]
    assert {99.5, 97.0, 99.9} <= set(values)
    assert unreachable == {}, "no Prometheus: the chart falls back to the dashboard's samples"

    raw = {
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": "podinfo"},
            "analysis": {"metrics": [{"name": "request-success-rate", "threshold": 99}]},
        },
        "status": {"phase": "Progressing", "canaryWeight": 30},
    }
    (check,) = views.detail(raw, (), {"request-success-rate": values[-1]}).checks
    assert (check.threshold, check.last, check.minimum) == (">= 99%", "99.90", 99.0)
