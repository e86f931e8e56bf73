"""Flagger's own Prometheus metrics, with Flagger's names, labels and help texts.

Dashboards and alerts written for Flagger (its Grafana dashboard, ``flagger_canary_status > 1``)
keep working because every series is the one Flagger's ``pkg/metrics/recorder.go`` exposes::

    flagger_info{version, mesh_provider}                    1
    flagger_canary_total{namespace}                         canaries in the namespace
    flagger_canary_status{name, namespace}                  0 Progressing, 2 Failed, 1 otherwise
    flagger_canary_weight{workload, namespace}              <target>-primary and <target> weights
    flagger_canary_metric_analysis{name, namespace, metric} last value of each metric check
    flagger_canary_duration_seconds{name, namespace}        histogram of the time a tick takes
    flagger_canary_successes_total{name, namespace, deployment_strategy, analysis_status}
    flagger_canary_failures_total{name, namespace, deployment_strategy, analysis_status}

and, beyond Flagger's, the daemon's saturation (so a dashboard shows it coming)::

    flagger_tick_lateness_seconds                   histogram: tick start - when it was due
    flagger_kube_requests_total{verb}               API requests sent (WATCH for watches)
    flagger_kube_client_throttled_seconds_total     time requests waited for -kubeconfig-qps
    flagger_cache_objects{kind}                     objects held by the watch caches
    flagger_scheduler_queue_depth                   due ticks waiting for a slot
    flagger_scheduler_running_ticks                 ticks running now

As in Flagger, ``name`` is the canary's ``targetRef.name`` (usually equal to the Canary's own
name), ``deployment_strategy`` is ``canary``, ``blue-green`` or ``ab-testing`` and
``analysis_status`` is ``completed``, or ``skipped`` for a promotion with ``skipAnalysis``.
The duration histogram uses Prometheus' default buckets (5 ms to 10 s), as Flagger does.

The collectors live in a registry of their own (not the process-wide default), so several
daemons can run in one test process; the process collector (``process_*``, as Go's client
exposes) is added to it. The Python client's extra ``*_created`` series are not exposed, so the
families are exactly Flagger's.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Literal

import prometheus_client
from prometheus_client import metrics_core
from prometheus_client import registry as registry_module

from flagger.api import canary as canary_api
from flagger.api import status as status_api

__all__ = ["ANALYSIS_COMPLETED", "ANALYSIS_SKIPPED", "CONTENT_TYPE", "Metrics"]

ANALYSIS_COMPLETED: Final = "completed"
ANALYSIS_SKIPPED: Final = "skipped"
#: Prometheus' classic text format, which every Prometheus version scrapes (and Go's client serves).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

AnalysisStatus = Literal["completed", "skipped"]
LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclasses.dataclass(frozen=True)
class Saturation:
    """Where the daemon's saturation figures are read from at scrape time."""

    requests: Callable[[], Mapping[str, int]]
    throttled_seconds: Callable[[], float]
    cached: Callable[[], Mapping[str, int]]
    queued: Callable[[], int]
    running: Callable[[], int]
    events_pending: Callable[[], int] = lambda: 0
    events_dropped: Callable[[], int] = lambda: 0


def _target(canary: canary_api.Canary) -> str:
    return canary.spec.target_ref.name


def _strategy(canary: canary_api.Canary, given: canary_api.Strategy | None) -> str:
    return given if given is not None else canary_api.strategy_for(canary.spec)


def status_value(phase: str | None) -> int:
    """Flagger's ``flagger_canary_status`` value: 0 Progressing, 2 Failed, 1 otherwise."""
    if phase == status_api.CanaryPhase.PROGRESSING:
        return 0
    if phase == status_api.CanaryPhase.FAILED:
        return 2
    return 1


class Metrics:
    """The daemon's metrics, with a method for each thing the controller reports."""

    def __init__(
        self,
        registry: prometheus_client.CollectorRegistry | None = None,
        *,
        process_metrics: bool = True,
    ) -> None:
        self.registry = registry if registry is not None else prometheus_client.CollectorRegistry()
        if process_metrics:
            prometheus_client.ProcessCollector(registry=self.registry)
        # The collectors live in an inner registry whose ``*_created`` series (a Python client
        # addition that Flagger's Go client does not have) are left out of the exposition.
        r = prometheus_client.CollectorRegistry(auto_describe=True)
        self.registry.register(_WithoutCreated(r))
        self.info = prometheus_client.Gauge(
            "flagger_info",
            "Flagger version and mesh provider information",
            ["version", "mesh_provider"],
            registry=r,
        )
        self.duration = prometheus_client.Histogram(
            "flagger_canary_duration_seconds",
            "Seconds spent performing canary analysis.",
            ["name", "namespace"],
            registry=r,
        )
        self.total = prometheus_client.Gauge(
            "flagger_canary_total", "Total number of canary object", ["namespace"], registry=r
        )
        self.status = prometheus_client.Gauge(
            "flagger_canary_status",
            "Last canary analysis result",
            ["name", "namespace"],
            registry=r,
        )
        self.weight = prometheus_client.Gauge(
            "flagger_canary_weight",
            "The virtual service destination weight current value",
            ["workload", "namespace"],
            registry=r,
        )
        self.analysis = prometheus_client.Gauge(
            "flagger_canary_metric_analysis",
            "Last canary analysis result per metric",
            ["name", "namespace", "metric"],
            registry=r,
        )
        outcome_labels = ["name", "namespace", "deployment_strategy", "analysis_status"]
        self.successes = prometheus_client.Counter(
            "flagger_canary_successes",
            "Total number of canary successes",
            outcome_labels,
            registry=r,
        )
        self.failures = prometheus_client.Counter(
            "flagger_canary_failures",
            "Total number of canary failures",
            outcome_labels,
            registry=r,
        )

        self.lateness = prometheus_client.Histogram(
            "flagger_tick_lateness_seconds",
            "Seconds a canary tick started after it was due.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )

    def observe_lateness(self, seconds: float) -> None:
        """Record how late a tick started against when it was due."""
        self.lateness.observe(seconds)

    def track(self, saturation: Saturation) -> None:
        """Expose the API request counts, throttling, cache sizes and queue depth."""
        self.registry.register(_SaturationCollector(saturation))

    def set_info(self, version: str, mesh_provider: str) -> None:
        """Publish the daemon's version and default mesh provider."""
        self.info.labels(version, mesh_provider).set(1)

    def set_total(self, namespace: str, count: int) -> None:
        """Set the number of canaries in ``namespace``."""
        self.total.labels(namespace).set(count)

    def set_status(self, canary: canary_api.Canary, phase: str | None) -> None:
        """Publish the canary's phase (0 Progressing, 2 Failed, 1 otherwise)."""
        self.status.labels(_target(canary), canary.namespace).set(status_value(phase))

    def set_weight(self, canary: canary_api.Canary, primary: int, canary_weight: int) -> None:
        """Publish the traffic weights of ``<target>-primary`` and ``<target>``."""
        target = _target(canary)
        self.weight.labels(f"{target}-primary", canary.namespace).set(primary)
        self.weight.labels(target, canary.namespace).set(canary_weight)

    def observe_analysis(self, canary: canary_api.Canary, metric: str, value: float) -> None:
        """Publish the last value of the metric check named ``metric``."""
        self.analysis.labels(_target(canary), canary.namespace, metric).set(value)

    def observe_duration(self, canary: canary_api.Canary, seconds: float) -> None:
        """Record how long one tick of the canary's analysis took."""
        self.duration.labels(_target(canary), canary.namespace).observe(seconds)

    def count_success(
        self,
        canary: canary_api.Canary,
        analysis_status: AnalysisStatus = ANALYSIS_COMPLETED,
        strategy: canary_api.Strategy | None = None,
    ) -> None:
        """Count a promotion (``skipped`` when ``skipAnalysis`` promoted it); ``strategy`` is the
        engine's (``RecordOutcome.deployment_strategy``), else ``strategy_for(canary.spec)``."""
        self.successes.labels(
            _target(canary), canary.namespace, _strategy(canary, strategy), analysis_status
        ).inc()

    def count_failure(
        self,
        canary: canary_api.Canary,
        analysis_status: AnalysisStatus = ANALYSIS_COMPLETED,
        strategy: canary_api.Strategy | None = None,
    ) -> None:
        """Count a rollback (``strategy`` as for :meth:`count_success`)."""
        self.failures.labels(
            _target(canary), canary.namespace, _strategy(canary, strategy), analysis_status
        ).inc()

    def forget(self, canary: canary_api.Canary) -> None:
        """Drop the status, weight and analysis series of a deleted canary.

        Counters and the histogram are kept, so rates over past rollouts stay correct.
        """
        target, namespace = _target(canary), canary.namespace
        pairs: tuple[tuple[prometheus_client.Gauge, tuple[str, ...]], ...] = (
            (self.status, (target, namespace)),
            (self.weight, (f"{target}-primary", namespace)),
            (self.weight, (target, namespace)),
        )
        for gauge, labels in pairs:
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)
        for series in _series(self.analysis):
            if series[:2] == (target, namespace):
                self.analysis.remove(*series)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return prometheus_client.generate_latest(self.registry)


class _SaturationCollector(registry_module.Collector):
    def __init__(self, source: Saturation) -> None:
        self.source = source

    def collect(self) -> Iterable[metrics_core.Metric]:
        requests = metrics_core.CounterMetricFamily(
            "flagger_kube_requests", "Kubernetes API requests sent, by verb.", labels=["verb"]
        )
        for verb, count in sorted(self.source.requests().items()):
            requests.add_metric([verb], count)
        yield requests
        yield metrics_core.CounterMetricFamily(
            "flagger_kube_client_throttled_seconds",
            "Seconds API requests waited for the client-side rate limit.",
            value=self.source.throttled_seconds(),
        )
        cached = metrics_core.GaugeMetricFamily(
            "flagger_cache_objects", "Objects held by the watch caches.", labels=["kind"]
        )
        for kind, count in sorted(self.source.cached().items()):
            cached.add_metric([kind], count)
        yield cached
        yield metrics_core.GaugeMetricFamily(
            "flagger_scheduler_queue_depth",
            "Canary ticks that are due and wait for a slot.",
            value=self.source.queued(),
        )
        yield metrics_core.GaugeMetricFamily(
            "flagger_scheduler_running_ticks",
            "Canary ticks running now.",
            value=self.source.running(),
        )
        yield metrics_core.GaugeMetricFamily(
            "flagger_events_pending",
            "Kubernetes Events recorded and not yet written.",
            value=self.source.events_pending(),
        )
        yield metrics_core.CounterMetricFamily(
            "flagger_events_dropped",
            "Kubernetes Events dropped because too many were pending.",
            value=self.source.events_dropped(),
        )


class _WithoutCreated(registry_module.Collector):
    """Exposes a registry's families without their ``*_created`` samples."""

    def __init__(self, inner: prometheus_client.CollectorRegistry) -> None:
        self.inner = inner

    def collect(self) -> Iterable[metrics_core.Metric]:
        for family in self.inner.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


def _series(gauge: prometheus_client.Gauge) -> list[tuple[str, ...]]:
    """The label values of every series of a labelled gauge."""
    return [
        tuple(sample.labels[name] for name in ("name", "namespace", "metric"))
        for family in gauge.collect()
        for sample in family.samples
    ]
