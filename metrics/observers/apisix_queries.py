"""The APISIX observer: Flagger's built-in ``request-success-rate`` and ``request-duration``
queries for the ``apisix`` routing provider (pkg/metrics/observers/apisix.go).

APISIX's Prometheus plugin: ``apisix_http_status`` and ``apisix_http_latency_bucket``
(``type="request"``) for the canary route Flagger clones, which the APISIX ingress controller
names ``<namespace>_<routeRef>-<target>-canary_<http route>``; ``{{ route }}`` is the Canary's
``routeRef`` name.

The texts are Flagger's byte for byte, tabs, newlines and trailing spaces included; the Prometheus
backend collapses their whitespace before sending them, as Flagger's does.
"""

from __future__ import annotations

from flagger.metrics.observers import REQUEST_DURATION, REQUEST_SUCCESS_RATE, QueryObserver

__all__ = ["APISIX", "PROVIDERS"]

#: The routing providers whose built-in metrics these are.
PROVIDERS = ("apisix",)

_SUCCESS_RATE = (
    "\n"
    "\tsum(\n"
    "\t\trate(\n"
    "\t\t\tapisix_http_status{\n"
    '\t\t\t\troute=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+",\n'
    '\t\t\t\tcode!~"5.."\n'
    "\t\t\t}[{{ interval }}]\n"
    "\t\t)\n"
    "\t)\n"
    "\t/\n"
    "\tsum(\n"
    "\t\trate(\n"
    "\t\t\tapisix_http_status{\n"
    '\t\t\t\troute=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"\n'
    "\t\t\t}[{{ interval }}]\n"
    "\t\t)\n"
    "\t) * 100"
)
_DURATION = (
    "\n"
    "\thistogram_quantile(\n"
    "\t\t0.99, \n"
    "\t\tsum(\n"
    "\t\t\trate(\n"
    "\t\t\t\tapisix_http_latency_bucket{\n"
    '\t\t\t\t\ttype=~"request",\n'
    '\t\t\t\t\troute=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"\n'
    "\t\t\t\t}[{{ interval }}]\n"
    "\t\t\t)\n"
    "\t\t) by (le)\n"
    "\t)"
)

APISIX = QueryObserver("apisix", {REQUEST_SUCCESS_RATE: _SUCCESS_RATE, REQUEST_DURATION: _DURATION})
