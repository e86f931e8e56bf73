"""Istio's standard metrics, as the mesh proxy's sidecar role reports them.

Istio's sidecars export ``istio_requests_total`` (a counter) and
``istio_request_duration_milliseconds`` (a histogram with Istio's default buckets) with the same
labels, twice per request: once by the caller's sidecar (``reporter="source"``) and once by the
callee's (``reporter="destination"``). Flagger's built-in Istio queries read the destination
reports, so the proxy records one destination report for every try that reached a pod (a retried
try and a mirrored copy each count, as the destination sidecar would see them) and one source
report per request with its final answer.

The labels keep Istio's names and conventions: workloads are Deployment names (``unknown`` when
the caller is not a pod), ``destination_service`` is the Service's FQDN, ``response_flags`` is
Envoy's (``-``, ``UT`` upstream timeout, ``UF`` connection failure, ``UH`` no healthy upstream,
``NR`` no route, ``URX`` retries exhausted), and ``connection_security_policy`` is ``none`` for
destination reports (the playground has no mTLS) and ``unknown`` for source reports.
"""

from __future__ import annotations

import dataclasses

import prometheus_client

__all__ = ["BUCKETS", "LABELS", "Report", "Telemetry"]

#: Istio's default buckets for ``istio_request_duration_milliseconds``.
BUCKETS = (
    0.5,
    1,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    300000,
    600000,
    1800000,
    3600000,
)
LABELS = (
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "source_app",
    "source_version",
    "destination_workload",
    "destination_workload_namespace",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "request_protocol",
    "response_code",
    "response_flags",
    "connection_security_policy",
)
UNKNOWN = "unknown"


@dataclasses.dataclass
class Report:
    """One request (or one try) as a sidecar reports it."""

    source_workload: str = UNKNOWN
    source_workload_namespace: str = UNKNOWN
    source_app: str = UNKNOWN
    source_version: str = UNKNOWN
    destination_workload: str = UNKNOWN
    destination_workload_namespace: str = UNKNOWN
    destination_app: str = UNKNOWN
    destination_version: str = UNKNOWN
    destination_service: str = UNKNOWN
    destination_service_name: str = UNKNOWN
    destination_service_namespace: str = UNKNOWN
    response_code: int = 0
    response_flags: str = "-"


class Telemetry:
    """The two metrics on a registry of their own (served on the proxy's metrics port)."""

    def __init__(self, registry: prometheus_client.CollectorRegistry | None = None) -> None:
        self.registry = registry or prometheus_client.CollectorRegistry()
        self.requests = prometheus_client.Counter(
            "istio_requests_total",
            "Requests, as Istio's sidecars count them",
            LABELS,
            registry=self.registry,
        )
        self.duration = prometheus_client.Histogram(
            "istio_request_duration_milliseconds",
            "Request durations in milliseconds",
            LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )

    def record(self, reporter: str, report: Report, duration_ms: float) -> None:
        """Count one request and observe its duration."""
        values = dataclasses.asdict(report)
        labels = {name: str(values.get(name, "")) for name in LABELS}
        labels["reporter"] = reporter
        labels["request_protocol"] = "http"
        labels["response_code"] = str(report.response_code)
        labels["connection_security_policy"] = "none" if reporter == "destination" else UNKNOWN
        self.requests.labels(**labels).inc()
        self.duration.labels(**labels).observe(max(duration_ms, 0.0))

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return prometheus_client.generate_latest(self.registry)
