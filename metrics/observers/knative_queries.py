"""Built-in metrics for the ``knative`` provider (Flagger's ``KnativeObserver``).

Knative's Envoy-based ingress publishes ``envoy_cluster_upstream_rq`` and the
``envoy_cluster_upstream_rq_time`` histogram per cluster ``<namespace>/<revision>``. Flagger
measures the canary: the Knative Service's latest revision, passed to the query as ``route``
(the daemon reads ``status.latestCreatedRevisionName`` before rendering):

- ``request-success-rate``: non-5xx upstream responses over all, x100;
- ``request-duration``: P99 of ``envoy_cluster_upstream_rq_time_bucket``, in milliseconds.

The texts are Flagger's (``pkg/metrics/observers/knative.go``) byte for byte.
"""

from __future__ import annotations

from flagger.metrics.observers import REQUEST_DURATION, REQUEST_SUCCESS_RATE, QueryObserver

__all__ = ["KNATIVE", "PROVIDERS"]

#: The routing providers this observer serves.
PROVIDERS = ("knative",)

_CLUSTER = 'envoy_cluster_name=~"{{ namespace }}/{{ route }}"'
_SUCCESS_RATE = (
    "\n\tsum(\n\t\trate(\n\t\t\tenvoy_cluster_upstream_rq{\n"
    f"\t\t\t\t{_CLUSTER},\n"
    '\t\t\t\tenvoy_response_code!~"5.*"\n'
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t/ \n"
    "\tsum(\n\t\trate(\n\t\t\tenvoy_cluster_upstream_rq{\n"
    f"\t\t\t\t{_CLUSTER},\n"
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t* 100"
)
_DURATION = (
    "\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n\t\t\trate(\n"
    "\t\t\t\tenvoy_cluster_upstream_rq_time_bucket{\n"
    f"\t\t\t\t\t{_CLUSTER},\n"
    "\t\t\t\t}[{{ interval }}]\n\t\t\t)\n\t\t) by (le)\n\t)"
)

#: The Knative observer; ``request-duration`` answers in milliseconds.
KNATIVE = QueryObserver(
    "knative", {REQUEST_SUCCESS_RATE: _SUCCESS_RATE, REQUEST_DURATION: _DURATION}
)
