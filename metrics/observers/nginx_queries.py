"""The built-in metrics of the ``nginx`` provider: ingress-nginx's request counter and response
duration (Flagger's ``pkg/metrics/observers/nginx.go``).

Requests ingress-nginx routes to a canary backend carry the ``canary`` label (the upstream name
of the canary Service); requests served by the main backend carry ``canary=""``. Both built-in
queries select ``canary!=""``, so they measure the canary only, over the Ingress named by the
Canary's ``ingressRef`` (``{{ ingress }}``):

- ``request-success-rate``: non-5xx ``nginx_ingress_controller_requests`` over all of them, x100;
- ``request-duration``: the **mean** response time, ``nginx_ingress_controller_response_duration
  _seconds_sum`` over ``_count``, x1000 (so the result is already in milliseconds).

The texts are Flagger's byte for byte. :data:`NGINX` is a
:class:`~flagger.metrics.observers.QueryObserver`; this module is also a plugin of its own
(``flagger_observer`` answers for ``nginx`` and ``nginx:service``).
"""

from __future__ import annotations

from flagger import plugins
from flagger.metrics.observers import (
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    SERVICE_SUFFIX,
    QueryObserver,
)

__all__ = ["NGINX", "flagger_observer"]

_SELECTOR = (
    '\t\t\t\tnamespace="{{ namespace }}",\n\t\t\t\tingress="{{ ingress }}",\n\t\t\t\tcanary!=""'
)
_SUCCESS_RATE = (
    "\n\tsum(\n\t\trate(\n\t\t\tnginx_ingress_controller_requests{\n"
    f'{_SELECTOR},\n\t\t\t\tstatus!~"5.*"\n'
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t/ \n"
    "\tsum(\n\t\trate(\n\t\t\tnginx_ingress_controller_requests{\n"
    f"{_SELECTOR}\n"
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t* 100"
)
_DURATION = (
    "\n\tsum(\n\t\trate(\n\t\t\tnginx_ingress_controller_response_duration_seconds_sum{\n"
    f"{_SELECTOR}\n"
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t/ \n"
    "\tsum(\n\t\trate(\n\t\t\tnginx_ingress_controller_response_duration_seconds_count{\n"
    f"{_SELECTOR}\n"
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t* 1000"
)

#: The NGINX observer; its ``request-duration`` answers in milliseconds already.
NGINX = QueryObserver("nginx", {REQUEST_SUCCESS_RATE: _SUCCESS_RATE, REQUEST_DURATION: _DURATION})


def flagger_observer(provider: str, context: plugins.PluginContext) -> plugins.Observer | None:
    """The NGINX queries for the ``nginx`` provider (also with a Service target)."""
    return NGINX if provider.removesuffix(SERVICE_SUFFIX) == NGINX.name else None
