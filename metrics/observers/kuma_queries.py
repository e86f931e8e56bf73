"""Built-in metrics for the ``kuma`` provider (Flagger's ``KumaObserver``).

Kuma's Envoy sidecars publish ``envoy_cluster_upstream_rq`` and the
``envoy_cluster_upstream_rq_time`` histogram per upstream ``service`` tag, which Kuma spells
``<service>_<namespace>_svc_<port>``. Flagger measures the traffic sent to the canary Service
(``<target>-canary``):

- ``request-success-rate``: non-5xx upstream responses over all, x100;
- ``request-duration``: P99 of ``envoy_cluster_upstream_rq_time_bucket``, in milliseconds.

The texts below are Flagger's (``pkg/metrics/observers/kuma.go``) byte for byte, including the
trailing commas inside the label matchers, which PromQL accepts.
"""

from __future__ import annotations

from flagger.metrics.observers.envoy import envoy_observer

__all__ = ["KUMA", "PROVIDERS"]

#: The routing providers this observer serves.
PROVIDERS = ("kuma",)

#: The Kuma observer; ``request-duration`` answers in milliseconds.
KUMA = envoy_observer(
    "kuma",
    ['service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"'],
    trailing_comma=True,
)
