"""Flagger's metrics, served on /metrics by a real server and parsed as Prometheus would.

Matrix: every metric family with Flagger's name, type and label names; status values per
phase; weights for ``<target>-primary`` and ``<target>``; strategy labels; ``forget``;
the probes (/healthz always, /readyz following the callback, sync or async, raising).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client import parser

from flagger.api import canary as canary_api
from flagger.observability import metrics as metrics_module
from flagger.observability import server as server_module

MakeCanary = Callable[..., canary_api.Canary]

Served = tuple[metrics_module.Metrics, server_module.Server, dict[str, Any]]
FLAGGER_FAMILIES = {
    "flagger_info": ("gauge", {"version", "mesh_provider"}),
    "flagger_canary_total": ("gauge", {"namespace"}),
    "flagger_canary_status": ("gauge", {"name", "namespace"}),
    "flagger_canary_weight": ("gauge", {"workload", "namespace"}),
    "flagger_canary_metric_analysis": ("gauge", {"name", "namespace", "metric"}),
    "flagger_canary_duration_seconds": ("histogram", {"name", "namespace"}),
    "flagger_canary_successes": (
        "counter",
        {"name", "namespace", "deployment_strategy", "analysis_status"},
    ),
    "flagger_canary_failures": (
        "counter",
        {"name", "namespace", "deployment_strategy", "analysis_status"},
    ),
}


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    metrics = metrics_module.Metrics()
    state: dict[str, Any] = {"ready": False}
    server = await server_module.start(metrics, lambda: state["ready"], host="127.0.0.1", port=0)
    try:
        yield metrics, server, state
    finally:
        await server.stop()


async def scrape(server: server_module.Server) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    return {family.name: family for family in parser.text_string_to_metric_families(text)}


#: The daemon's own saturation metrics, which Flagger does not have (never Flagger's names).
OPERATIONAL_FAMILIES = {
    "flagger_tick_lateness_seconds": "histogram",
    "flagger_kube_requests": "counter",
    "flagger_kube_client_throttled_seconds": "counter",
    "flagger_cache_objects": "gauge",
    "flagger_scheduler_queue_depth": "gauge",
    "flagger_scheduler_running_ticks": "gauge",
    "flagger_events_pending": "gauge",
    "flagger_events_dropped": "counter",
}


def record_a_rollout(metrics: metrics_module.Metrics, canary: canary_api.Canary) -> None:
    metrics.set_info("1.42.0", "istio")
    metrics.set_total("test", 2)
    metrics.set_status(canary, "Progressing")
    metrics.set_weight(canary, 90, 10)
    metrics.observe_analysis(canary, "request-success-rate", 99.5)
    metrics.observe_duration(canary, 0.042)
    metrics.count_success(canary)
    metrics.count_failure(canary)


async def test_exposes_exactly_flaggers_families_and_labels(
    served: Any, make_canary: MakeCanary
) -> None:
    metrics, server, _ = served
    record_a_rollout(metrics, make_canary())
    families = await scrape(server)
    flagger = {name: f for name, f in families.items() if name.startswith("flagger_")}
    # Flagger's families, and besides them only the daemon's own operational ones (docs/metrics.md).
    assert set(FLAGGER_FAMILIES) <= set(flagger)
    assert set(flagger) - set(FLAGGER_FAMILIES) <= set(OPERATIONAL_FAMILIES)
    for name, kind in OPERATIONAL_FAMILIES.items():
        assert name not in flagger or flagger[name].type == kind, name
    for name, (kind, labels) in FLAGGER_FAMILIES.items():
        family = flagger[name]
        assert family.type == kind, name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)
    sample_names = {s.name for f in flagger.values() for s in f.samples}
    assert {
        "flagger_canary_successes_total",
        "flagger_canary_failures_total",
        "flagger_canary_duration_seconds_bucket",
        "flagger_canary_duration_seconds_sum",
        "flagger_canary_duration_seconds_count",
    } <= sample_names
    assert set(families) - set(flagger) <= {n for n in families if n.startswith("process_")}


async def test_values_and_labels(served: Any, make_canary: MakeCanary) -> None:
    metrics, server, _ = served
    canary = make_canary(name="podinfo-canary", target="podinfo")
    record_a_rollout(metrics, canary)
    families = await scrape(server)

    def values(name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {
            tuple(sorted(s.labels.items())): s.value
            for s in families[name].samples
            if s.name in (name, f"{name}_total")
        }

    assert values("flagger_info") == {(("mesh_provider", "istio"), ("version", "1.42.0")): 1}
    # As in Flagger, ``name`` is the target's name.
    assert values("flagger_canary_status") == {(("name", "podinfo"), ("namespace", "test")): 0}
    assert values("flagger_canary_weight") == {
        (("namespace", "test"), ("workload", "podinfo-primary")): 90,
        (("namespace", "test"), ("workload", "podinfo")): 10,
    }
    assert values("flagger_canary_successes") == {
        (
            ("analysis_status", "completed"),
            ("deployment_strategy", "canary"),
            ("name", "podinfo"),
            ("namespace", "test"),
        ): 1
    }


@pytest.mark.parametrize(
    ("phase", "value"),
    [
        ("Progressing", 0),
        ("Failed", 2),
        ("Succeeded", 1),
        ("Initialized", 1),
        ("WaitingPromotion", 1),
        ("", 1),
        (None, 1),
    ],
)
def test_status_values(make_canary: MakeCanary, phase: str | None, value: int) -> None:
    metrics = metrics_module.Metrics(process_metrics=False)
    metrics.set_status(make_canary(), phase)
    assert metrics.status.labels("podinfo", "test")._value.get() == value


@pytest.mark.parametrize(
    ("analysis", "strategy"),
    [
        ({"interval": "1m", "stepWeight": 5}, "canary"),
        ({"interval": "1m", "iterations": 10}, "blue-green"),
        (
            {
                "interval": "1m",
                "iterations": 10,
                "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
            },
            "ab-testing",
        ),
    ],
)
def test_deployment_strategy_label(
    make_canary: MakeCanary, analysis: dict[str, Any], strategy: str
) -> None:
    metrics = metrics_module.Metrics(process_metrics=False)
    metrics.count_success(make_canary(analysis=analysis), "skipped")
    text = metrics.exposition().decode()
    assert (
        f'flagger_canary_successes_total{{analysis_status="skipped",deployment_strategy='
        f'"{strategy}",name="podinfo",namespace="test"}} 1.0'
    ) in text


def test_forget_drops_the_gauges_of_a_deleted_canary(make_canary: MakeCanary) -> None:
    metrics = metrics_module.Metrics(process_metrics=False)
    gone, kept = make_canary(), make_canary(name="backend")
    for canary in (gone, kept):
        record_a_rollout(metrics, canary)
    metrics.forget(gone)
    text = metrics.exposition().decode()
    assert 'name="podinfo"' in text  # counters and the histogram remain
    assert 'flagger_canary_status{name="podinfo"' not in text
    assert 'workload="podinfo-primary"' not in text
    assert 'flagger_canary_metric_analysis{metric="request-success-rate",name="podinfo"' not in text
    assert 'flagger_canary_status{name="backend"' in text


async def test_registries_are_independent(make_canary: MakeCanary) -> None:
    first, second = metrics_module.Metrics(), metrics_module.Metrics()
    first.set_status(make_canary(), "Failed")
    assert b"flagger_canary_status{" not in second.exposition()


async def test_healthz_and_readyz(served: Any) -> None:
    _, server, state = served
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200 and await response.text() == "OK"
        async with http.get(f"{server.url}/readyz") as response:
            assert response.status == 503
        state["ready"] = True
        async with http.get(f"{server.url}/readyz") as response:
            assert response.status == 200


async def test_readyz_with_async_and_failing_checks() -> None:
    async def ready() -> bool:
        return True

    def broken() -> bool:
        raise RuntimeError("caches not synced")

    metrics = metrics_module.Metrics(process_metrics=False)
    for check, status, text in ((ready, 200, "OK"), (broken, 503, "caches not synced")):
        server = await server_module.start(metrics, check, host="127.0.0.1", port=0)
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{server.url}/readyz") as response,
            ):
                assert response.status == status and text in await response.text()
        finally:
            await server.stop()


async def test_stop_closes_the_port() -> None:
    server = await server_module.start(
        metrics_module.Metrics(process_metrics=False), host="127.0.0.1", port=0
    )
    await server.stop()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{server.url}/healthz")
