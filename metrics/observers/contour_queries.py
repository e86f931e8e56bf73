"""The Contour observer: Flagger's built-in ``request-success-rate`` and ``request-duration``
queries for the ``contour`` routing provider (pkg/metrics/observers/contour.go).

Envoy cluster statistics of Contour's Envoy: the canary Service's cluster is named
``<namespace>_<target>-canary_<port>``, so the queries select
``envoy_cluster_name=~"<ns>_<target>-canary_..."``
(note the trailing comma inside the selector braces: Flagger's text, which Prometheus accepts).

The texts are Flagger's byte for byte, tabs, newlines and trailing spaces included; the Prometheus
backend collapses their whitespace before sending them, as Flagger's does.
"""

from __future__ import annotations

from flagger.metrics.observers.envoy import envoy_observer

__all__ = ["CONTOUR", "PROVIDERS"]

#: The routing providers whose built-in metrics these are.
PROVIDERS = ("contour",)

CONTOUR = envoy_observer(
    "contour",
    ['envoy_cluster_name=~"{{ namespace }}_{{ target }}-canary_[0-9a-zA-Z-]+"'],
    trailing_comma=True,
)
