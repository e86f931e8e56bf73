"""Built-in metrics for the ``linkerd`` provider (Flagger's ``LinkerdObserver``).

Linkerd's proxies publish ``response_total`` (with ``classification`` success/failure) and the
``response_latency_ms`` histogram, labelled with the ``deployment`` they run in and the
traffic ``direction``. Flagger measures the canary's inbound traffic:

- ``request-success-rate``: non-failure inbound responses over all inbound responses, x100;
- ``request-duration``: P99 of ``response_latency_ms_bucket``, already in milliseconds.

The texts below are Flagger's (``pkg/metrics/observers/linkerd.go``) byte for byte. Flagger uses
this observer only for the provider ``linkerd``; the ``smi:*`` providers fall back to Istio's.
"""

from __future__ import annotations

from flagger.metrics.observers import REQUEST_DURATION, REQUEST_SUCCESS_RATE, QueryObserver

__all__ = ["LINKERD", "PROVIDERS"]

#: The routing providers this observer serves (Flagger matches ``linkerd`` exactly).
PROVIDERS = ("linkerd",)

_SUCCESS_RATE = (
    "\n\tsum(\n\t\trate(\n\t\t\tresponse_total{\n"
    '\t\t\t\tnamespace="{{ namespace }}",\n'
    '\t\t\t\tdeployment=~"{{ target }}",\n'
    '\t\t\t\tclassification!="failure",\n'
    '\t\t\t\tdirection="inbound"\n'
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t/ \n"
    "\tsum(\n\t\trate(\n\t\t\tresponse_total{\n"
    '\t\t\t\tnamespace="{{ namespace }}",\n'
    '\t\t\t\tdeployment=~"{{ target }}",\n'
    '\t\t\t\tdirection="inbound"\n'
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t* 100"
)
_DURATION = (
    "\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n\t\t\trate(\n"
    "\t\t\t\tresponse_latency_ms_bucket{\n"
    '\t\t\t\t\tnamespace="{{ namespace }}",\n'
    '\t\t\t\t\tdeployment=~"{{ target }}",\n'
    '\t\t\t\t\tdirection="inbound"\n'
    "\t\t\t\t}[{{ interval }}]\n\t\t\t)\n\t\t) by (le)\n\t)"
)

#: The Linkerd observer; ``request-duration`` answers in milliseconds.
LINKERD = QueryObserver(
    "linkerd", {REQUEST_SUCCESS_RATE: _SUCCESS_RATE, REQUEST_DURATION: _DURATION}
)
