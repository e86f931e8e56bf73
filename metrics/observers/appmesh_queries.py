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

from flagger.metrics.observers import REQUEST_DURATION, REQUEST_SUCCESS_RATE, QueryObserver

__all__ = ["APPMESH", "PROVIDERS"]

#: The routing providers whose built-in metrics these are.
PROVIDERS = ("appmesh", "appmesh:v1beta2")

_SUCCESS_RATE = (
    "\n"
    "\tsum(\n"
    "\t\trate(\n"
    "\t\t\tenvoy_cluster_upstream_rq{\n"
    '\t\t\t\tkubernetes_namespace="{{ namespace }}",\n'
    '\t\t\t\tkubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",\n'
    '\t\t\t\tenvoy_response_code!~"5.*"\n'
    "\t\t\t}[{{ interval }}]\n"
    "\t\t)\n"
    "\t) \n"
    "\t/ \n"
    "\tsum(\n"
    "\t\trate(\n"
    "\t\t\tenvoy_cluster_upstream_rq{\n"
    '\t\t\t\tkubernetes_namespace="{{ namespace }}",\n'
    '\t\t\t\tkubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"\n'
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
    '\t\t\t\t\tkubernetes_namespace="{{ namespace }}",\n'
    '\t\t\t\t\tkubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"\n'
    "\t\t\t\t}[{{ interval }}]\n"
    "\t\t\t)\n"
    "\t\t) by (le)\n"
    "\t)"
)

APPMESH = QueryObserver(
    "appmesh", {REQUEST_SUCCESS_RATE: _SUCCESS_RATE, REQUEST_DURATION: _DURATION}
)
