"""The Traefik observer: Flagger's built-in ``request-success-rate`` and ``request-duration``
queries for the ``traefik`` routing provider (pkg/metrics/observers/traefik.go).

Traefik's own service metrics: ``traefik_service_request_duration_seconds_bucket`` for the
Kubernetes CRD service ``<namespace>-<target>-canary-<port>@kubernetescrd``. The success rate
counts the ``le="+Inf"`` bucket; the duration query multiplies the seconds quantile by 1000,
so its result is already in milliseconds.

The texts are Flagger's byte for byte, tabs, newlines and trailing spaces included; the Prometheus
backend collapses their whitespace before sending them, as Flagger's does.
"""

from __future__ import annotations

from flagger.metrics.observers import REQUEST_DURATION, REQUEST_SUCCESS_RATE, QueryObserver

__all__ = ["PROVIDERS", "TRAEFIK"]

#: The routing providers whose built-in metrics these are.
PROVIDERS = ("traefik",)

_SUCCESS_RATE = (
    "\n"
    "\tsum(\n"
    "\t\trate(\n"
    "\t\t\ttraefik_service_request_duration_seconds_bucket{\n"
    '\t\t\t\tservice=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd",\n'
    '\t\t\t\tcode!~"5..",\n'
    '\t\t\t\tle="+Inf"\n'
    "\t\t\t}[{{ interval }}]\n"
    "\t\t)\n"
    "\t)\n"
    "\t/\n"
    "\tsum(\n"
    "\t\trate(\n"
    "\t\t\ttraefik_service_request_duration_seconds_bucket{\n"
    '\t\t\t\tservice=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd",\n'
    '\t\t\t\tle="+Inf"\n'
    "\t\t\t}[{{ interval }}]\n"
    "\t\t)\n"
    "\t) * 100"
)
_DURATION = (
    "\n"
    "\thistogram_quantile(\n"
    "\t\t0.99,\n"
    "\t\tsum(\n"
    "\t\t\trate(\n"
    "\t\t\t\ttraefik_service_request_duration_seconds_bucket{\n"
    '\t\t\t\t\tservice=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"\n'
    "\t\t\t\t}[{{ interval }}]\n"
    "\t\t\t)\n"
    "\t\t) by (le)\n"
    "\t) * 1000"
)

TRAEFIK = QueryObserver(
    "traefik", {REQUEST_SUCCESS_RATE: _SUCCESS_RATE, REQUEST_DURATION: _DURATION}
)
