"""The baseline judge against a real Prometheus, with generated series.

An exporter publishes ``feat_latency_ms{workload=...}`` for three canaries and their primaries;
every scrape (each second) draws a new value: the primaries around 100 ms, the canaries around
100 ms (``equal``), 105 ms (``slight``: 5% worse, inside the 10% tolerance) and 125 ms
(``worse``). A MetricTemplate annotated for a baseline comparison is answered by the daemon's
own :class:`~flagger.controller.answers.Answers` (range queries for ``{{ target }}`` = canary and
primary), and one tick of the state machine turns the samples into its verdict: equal and slight
pass with an Event naming both medians and the p-value, worse halts the advancement.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import random
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import aiohttp
import prometheus_client
import pytest
from prometheus_client.core import GaugeMetricFamily

from flagger import plugins
from flagger.analysis import checks, decision, engine, observation
from flagger.api import canary as canary_api
from flagger.controller import answers
from tests.support.prometheus_server import Exporter, PrometheusServer

WINDOW_SECONDS = 20
MEANS = {"equal": 100.0, "slight": 105.0, "worse": 125.0}
TEMPLATE = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "MetricTemplate",
    "metadata": {
        "name": "latency",
        "namespace": "test",
        "annotations": {
            "flagger.app/baseline-comparison": "higher-is-worse",
            "flagger.app/baseline-tolerance": "10%",
            "flagger.app/baseline-step": "1s",
        },
    },
    "spec": {
        "provider": {"type": "prometheus", "address": "ADDRESS"},
        "query": 'max(feat_latency_ms{workload="{{ target }}"})',
    },
}


class LatencyCollector:
    """A new value per series at every scrape (seeded, so a run is reproducible)."""

    def __init__(self) -> None:
        self.random = random.Random(15)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("feat_latency_ms", "generated latency", labels=["workload"])
        for name, mean in MEANS.items():
            family.add_metric([name], self.random.gauss(mean, 4.0))
            family.add_metric([f"{name}-primary"], self.random.gauss(100.0, 4.0))
        yield family


class TemplateStore:
    """The one call Answers makes to the API server for a MetricTemplate."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template

    async def get(self, api_version: str, kind: str, name: str, namespace: str) -> Any:
        if kind == "MetricTemplate" and name == "latency":
            return self.template
        return None


@pytest.fixture(scope="module")
def prometheus_url(
    prometheus_server: Callable[[Sequence[str]], PrometheusServer],
    exporter_server: Callable[[prometheus_client.CollectorRegistry], Exporter],
) -> str:
    registry = prometheus_client.CollectorRegistry()
    registry.register(LatencyCollector())  # type: ignore[arg-type]
    server = prometheus_server([exporter_server(registry).target])
    query = f'count_over_time(feat_latency_ms{{workload="worse"}}[{WINDOW_SECONDS}s])'
    deadline = time.monotonic() + WINDOW_SECONDS + 30
    while time.monotonic() < deadline:
        url = f"{server.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        with urllib.request.urlopen(url, timeout=5) as response:
            result = json.load(response)["data"]["result"]
        if result and float(result[0]["value"][1]) >= WINDOW_SECONDS - 1:
            return server.url
        time.sleep(1)
    raise AssertionError(f"Prometheus did not collect {WINDOW_SECONDS} samples:\n{server.log()}")


def _canary(target: str) -> canary_api.Canary:
    return canary_api.Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": target, "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "service": {"port": 9898},
                "analysis": {
                    "interval": "30s",
                    "threshold": 2,
                    "maxWeight": 50,
                    "stepWeight": 25,
                    "metrics": [
                        {
                            "name": "latency",
                            "templateRef": {"name": "latency"},
                            "interval": f"{WINDOW_SECONDS}s",
                        }
                    ],
                },
            },
            "status": {
                "phase": "Progressing",
                "canaryWeight": 25,
                "lastAppliedSpec": "rev-2",
                "lastPromotedSpec": "rev-1",
                "trackedConfigs": {},
            },
        }
    )


async def _judge(address: str, target: str) -> tuple[checks.Samples, decision.Decision]:
    template = json.loads(json.dumps(TEMPLATE).replace("ADDRESS", address))
    canary = _canary(target)
    async with aiohttp.ClientSession() as session:
        answering = answers.Answers(
            cast(Any, TemplateStore(template)),
            plugins.load(),
            plugins.PluginContext(),
            session,
            metrics_server=address,
            mesh_provider="istio",
        )
        seen: list[checks.Response] = []

        async def answer(request: checks.Request) -> checks.Response:
            found = await answering.answer(canary, request)
            seen.append(found)
            return found

        obs = observation.Observation(
            now=datetime.datetime.now(datetime.UTC),
            revision=observation.Revision("rev-2", {}),
            routes=observation.Routes(75, 25),
        )
        ticking = engine.tick(canary, obs)
        try:
            request = next(ticking)
            while True:
                request = ticking.send(await answer(request))
        except StopIteration as done:
            result: decision.Decision = done.value
    samples = seen[0]
    assert isinstance(samples, checks.Samples), samples
    return samples, result


def _events(result: decision.Decision) -> list[decision.Event]:
    return [a for a in result.actions if isinstance(a, decision.Event)]


@pytest.mark.parametrize(("case", "passes"), [("equal", True), ("slight", True), ("worse", False)])
def test_judge_on_generated_series(prometheus_url: str, case: str, passes: bool) -> None:
    samples, result = asyncio.run(_judge(prometheus_url, case))
    assert len(samples.canary) >= WINDOW_SECONDS - 1
    assert len(samples.primary) >= WINDOW_SECONDS - 1
    assert samples.baseline == f"{case}-primary"
    judged = [e for e in _events(result) if "baseline comparison latency" in e.message]
    assert len(judged) == 1, _events(result)
    counts = f"{len(samples.canary)}/{len(samples.primary)} samples"
    print(f"\n{case} ({counts}): {judged[0].message}")  # the figures (pytest -s)
    if passes:
        assert judged[0].severity == "info"
        assert "canary is not significantly worse" in judged[0].message
        assert any("Advance " in e.message for e in _events(result))
        assert result.status is None or not result.status.failed_checks
    else:
        assert judged[0].severity == "warning"
        assert "canary is significantly worse" in judged[0].message
        assert result.status is not None and result.status.failed_checks == 1
