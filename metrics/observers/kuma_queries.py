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

from flagger.metrics.observers import REQUEST_DURATION, REQUEST_SUCCESS_RATE, QueryObserver

__all__ = ["KUMA", "PROVIDERS"]

#: The routing providers this observer serves.
PROVIDERS = ("kuma",)

_SERVICE = 'service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"'
_SUCCESS_RATE = (
    "\n\tsum(\n\t\trate(\n\t\t\tenvoy_cluster_upstream_rq{\n"
    f"\t\t\t\t{_SERVICE},\n"
    '\t\t\t\tenvoy_response_code!~"5.*"\n'
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t/ \n"
    "\tsum(\n\t\trate(\n\t\t\tenvoy_cluster_upstream_rq{\n"
    f"\t\t\t\t{_SERVICE},\n"
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t* 100"
)
_DURATION = (
    "\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n\t\t\trate(\n"
    "\t\t\t\tenvoy_cluster_upstream_rq_time_bucket{\n"
    f"\t\t\t\t\t{_SERVICE},\n"
    "\t\t\t\t}[{{ interval }}]\n\t\t\t)\n\t\t) by (le)\n\t)"
)

#: The Kuma observer; ``request-duration`` answers in milliseconds.
KUMA = QueryObserver("kuma", {REQUEST_SUCCESS_RATE: _SUCCESS_RATE, REQUEST_DURATION: _DURATION})
