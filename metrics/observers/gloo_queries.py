"""The Gloo observer: Flagger's built-in ``request-success-rate`` and ``request-duration``
queries for the ``gloo`` routing provider (pkg/metrics/observers/gloo.go).

Envoy cluster statistics of Gloo's gateway proxy: the canary Upstream
``<namespace>-<target>-canaryupstream-<port>`` becomes the Envoy cluster
``<upstream>_<upstream namespace>``.

The texts are Flagger's byte for byte, tabs, newlines and trailing spaces included; the Prometheus
backend collapses their whitespace before sending them, as Flagger's does.
"""

from __future__ import annotations

from flagger.metrics.observers.envoy import envoy_observer

__all__ = ["GLOO", "PROVIDERS"]

#: The routing providers whose built-in metrics these are.
PROVIDERS = ("gloo",)

GLOO = envoy_observer(
    "gloo",
    [
        'envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-'
        '[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"'
    ],
    trailing_comma=True,
)
