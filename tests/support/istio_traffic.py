"""Simulated mesh traffic, exported with Istio's metric names and labels.

For each workload a test sets a request rate, an error ratio and a latency; a background thread
turns them, ten times a second, into what Istio's sidecars report with ``reporter="destination"``:

- ``istio_requests_total{reporter, destination_workload, destination_workload_namespace,
  response_code, ...}`` counters;
- ``istio_request_duration_milliseconds`` histogram with Istio's default buckets.

Served by a real ``prometheus_client`` exporter and scraped by a real Prometheus, so Flagger's
built-in Istio queries run unchanged.
"""

from __future__ import annotations

import dataclasses
import threading

import prometheus_client

from flagger.playground import mesh_telemetry

#: Istio's default buckets for request durations (milliseconds), as the playground exports them.
BUCKETS = mesh_telemetry.BUCKETS
LABELS = (
    "reporter",
    "source_workload",
    "destination_workload",
    "destination_workload_namespace",
    "destination_service",
    "response_code",
)
TICK_SECONDS = 0.1


@dataclasses.dataclass
class Load:
    """What one workload is receiving."""

    rps: float = 20.0
    error_ratio: float = 0.0
    latency_ms: float = 40.0
    sent: float = 0.0
    failed: float = 0.0


class IstioTraffic:
    """Traffic for many workloads, published on a registry of its own."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry()
        self.requests = prometheus_client.Counter(
            "istio_requests_total",
            "Requests seen by the destination sidecar",
            LABELS,
            registry=self.registry,
        )
        self.duration = prometheus_client.Histogram(
            "istio_request_duration_milliseconds",
            "Request durations",
            LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.loads: dict[tuple[str, str], Load] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="istio-traffic", daemon=True)

    def set(
        self,
        namespace: str,
        workload: str,
        *,
        rps: float | None = None,
        error_ratio: float | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Start or change the traffic to ``workload`` in ``namespace``."""
        with self._lock:
            load = self.loads.setdefault((namespace, workload), Load())
            if rps is not None:
                load.rps = rps
            if error_ratio is not None:
                load.error_ratio = error_ratio
            if latency_ms is not None:
                load.latency_ms = latency_ms

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            with self._lock:
                for (namespace, workload), load in self.loads.items():
                    self._send(namespace, workload, load)

    def _send(self, namespace: str, workload: str, load: Load) -> None:
        # Whole requests only, keeping the fractions, so the ratio over any window is exact.
        load.sent += load.rps * TICK_SECONDS
        load.failed += load.rps * TICK_SECONDS * load.error_ratio
        total, errors = int(load.sent), int(load.failed)
        load.sent -= total
        load.failed -= errors
        errors = min(errors, total)
        service = f"{workload}.{namespace}.svc.cluster.local"
        for code, count in (("200", total - errors), ("500", errors)):
            if count <= 0:
                continue
            labels = ("destination", "loadtester", workload, namespace, service, code)
            self.requests.labels(*labels).inc(count)
            for _ in range(count):
                self.duration.labels(*labels).observe(load.latency_ms)
