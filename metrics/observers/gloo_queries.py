"""The Gloo observer: Flagger's built-in ``request-success-rate`` and ``request-duration``
queries for the ``gloo`` routing provider (pkg/metrics/observers/gloo.go).

Envoy cluster statistics of Gloo's gateway proxy: the canary Upstream
``<namespace>-<target>-canaryupstream-<port>`` becomes the Envoy cluster
``<upstream>_<upstream namespace>``.

The texts are Flagger's byte for byte, tabs, newlines and trailing spaces included; the Prometheus
backend collapses their whitespace before sending them, as Flagger's does.
"""

from __future__ import annotations

from flagger.metrics.observers import REQUEST_DURATION, REQUEST_SUCCESS_RATE, QueryObserver

__all__ = ["GLOO", "PROVIDERS"]

#: The routing providers whose built-in metrics these are.
PROVIDERS = ("gloo",)

_SUCCESS_RATE = (
    "\n"
    "\tsum(\n"
    "\t\trate(\n"
    "\t\t\tenvoy_cluster_upstream_rq{\n"
    '\t\t\t\tenvoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-'
    '[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",\n'
    '\t\t\t\tenvoy_response_code!~"5.*"\n'
    "\t\t\t}[{{ interval }}]\n"
    "\t\t)\n"
    "\t) \n"
    "\t/ \n"
    "\tsum(\n"
    "\t\trate(\n"
    "\t\t\tenvoy_cluster_upstream_rq{\n"
    '\t\t\t\tenvoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-'
    '[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",\n'
    "\t\t\t}[{{ interval }}]\n"
    "\t\t)\n"
    "\t) \n"
    "\t* 100"
)
_DURATION = (
    "\n"
    "\thistogram_quantile(\n"
    "\t\t0.99,\n"
    "\t\tsum(\n"
    "\t\t\trate(\n"
    "\t\t\t\tenvoy_cluster_upstream_rq_time_bucket{\n"
    '\t\t\t\t\tenvoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-'
    '[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",\n'
    "\t\t\t\t}[{{ interval }}]\n"
    "\t\t\t)\n"
    "\t\t) by (le)\n"
    "\t)"
)

GLOO = QueryObserver("gloo", {REQUEST_SUCCESS_RATE: _SUCCESS_RATE, REQUEST_DURATION: _DURATION})
