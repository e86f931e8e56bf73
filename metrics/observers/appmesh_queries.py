"""The App Mesh observer: Flagger's built-in ``request-success-rate`` and ``request-duration``
queries for the ``appmesh`` routing providers (pkg/metrics/observers/appmesh.go).

Envoy sidecar statistics scraped from the pods: ``envoy_cluster_upstream_rq`` (and its
``_time_bucket`` histogram) labelled with ``kubernetes_namespace`` and the pod name, the target's
pods being matched as ``<target>-<hash>-<hash>`` (both the primary's and the canary's Envoy report
there, as in Flagger). Flagger's observer factory picks it for every provider starting with
``appmesh``.

The texts are Flagger's byte for byte, tabs, newlines and trailing spaces included; the Prometheus
backend collapses their whitespace before sending them, as Flagger's does.
"""

from __future__ import annotations

from flagger.metrics.observers.envoy import envoy_observer

__all__ = ["APPMESH", "PROVIDERS"]

#: The routing providers whose built-in metrics these are.
PROVIDERS = ("appmesh", "appmesh:v1beta2")

APPMESH = envoy_observer(
    "appmesh",
    [
        'kubernetes_namespace="{{ namespace }}"',
        'kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"',
    ],
    trailing_comma=False,
)
