"""Built-in metrics: the Prometheus queries behind ``request-success-rate`` and
``request-duration`` for each mesh (Flagger's observers).

A Canary may list the two built-in metrics without any MetricTemplate. Flagger then picks an
*observer* from the routing provider and runs the observer's query, rendered with the canary's
model (:mod:`flagger.templating.queries`), against the metrics server (``-metrics-server`` or
the canary's ``metricsServer``):

- ``request-success-rate``: the percentage of non-5xx responses over ``interval``;
- ``request-duration``: the P99 latency, which the check compares in milliseconds.

The query texts below are Flagger's, byte for byte (the Prometheus backend collapses their
whitespace before sending them, as Flagger's does). Observers implemented here:

- ``istio`` (Istio's ``istio_requests_total`` and ``istio_request_duration_milliseconds``,
  reporter ``destination``), which is also Flagger's fallback for provider names it does not
  know;
- the app-level observer (``http_request_duration_seconds_*`` published by the app itself,
  pods matched by ``<target>-<hash>-<hash>``), used by the ``kubernetes`` provider and the
  Gateway API providers.

Flagger's other meshes (App Mesh, Linkerd, NGINX, Knative, ...) have observers of their own,
each in a module of this package loaded on first use; a provider listed in
``_NOT_IMPLEMENTED_PREFIXES`` (none today) gets ``None`` from :func:`observer_for`, so that the
daemon reports the missing observer instead of silently running another mesh's query.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Mapping

from flagger import plugins
from flagger.api import canary as canary_api
from flagger.templating import queries

__all__ = [
    "APP_HTTP",
    "ISTIO",
    "REQUEST_DURATION",
    "REQUEST_SUCCESS_RATE",
    "QueryObserver",
    "flagger_observer",
    "flagger_register",
    "observer_for",
    "render",
    "request_duration_ms",
]

REQUEST_SUCCESS_RATE = "request-success-rate"
REQUEST_DURATION = "request-duration"
#: Appended to the provider name when the canary's target is a Service (Flagger's
#: ``MetricsProviderServiceSuffix``).
SERVICE_SUFFIX = ":service"


@dataclasses.dataclass(frozen=True)
class QueryObserver:
    """The built-in queries of one mesh (implements :class:`flagger.plugins.Observer`).

    ``duration_unit_ms`` is how many milliseconds one unit of the ``request-duration`` result
    is: 1 for Istio (already in ms), 1000 for the app-level observer (seconds).
    """

    name: str
    queries: Mapping[str, str]
    duration_unit_ms: float = 1.0

    def query(self, metric: str) -> str | None:
        """The query template for a built-in metric, or ``None`` for any other name."""
        return self.queries.get(metric)

    def duration_ms(self, value: float) -> int:
        """A ``request-duration`` result in whole milliseconds, truncated as Flagger's
        ``time.Duration(int64(v)) * time.Millisecond`` does (2415.9 ms is 2.415s)."""
        return math.trunc(value * self.duration_unit_ms)


# pkg/metrics/observers/istio.go
_ISTIO_SUCCESS_RATE = (
    '\n\tsum(\n\t\trate(\n\t\t\tistio_requests_total{\n\t\t\t\treporter="destination",\n'
    '\t\t\t\tdestination_workload_namespace="{{ namespace }}",\n'
    '\t\t\t\tdestination_workload=~"{{ target }}",\n\t\t\t\tresponse_code!~"5.*"\n'
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t/ \n"
    '\tsum(\n\t\trate(\n\t\t\tistio_requests_total{\n\t\t\t\treporter="destination",\n'
    '\t\t\t\tdestination_workload_namespace="{{ namespace }}",\n'
    '\t\t\t\tdestination_workload=~"{{ target }}"\n'
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t* 100"
)
_ISTIO_DURATION = (
    "\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n\t\t\trate(\n"
    "\t\t\t\tistio_request_duration_milliseconds_bucket{\n"
    '\t\t\t\t\treporter="destination",\n'
    '\t\t\t\t\tdestination_workload_namespace="{{ namespace }}",\n'
    '\t\t\t\t\tdestination_workload=~"{{ target }}"\n'
    "\t\t\t\t}[{{ interval }}]\n\t\t\t)\n\t\t) by (le)\n\t)"
)

# pkg/metrics/observers/http.go
_POD_NAME = 'kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"'
_HTTP_SUCCESS_RATE = (
    "\n\tsum(\n\t\trate(\n\t\t\thttp_request_duration_seconds_count{\n"
    '\t\t\t\tkubernetes_namespace="{{ namespace }}",\n'
    f'\t\t\t\t{_POD_NAME},\n\t\t\t\tstatus!~"5.*"\n'
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t/ \n"
    "\tsum(\n\t\trate(\n\t\t\thttp_request_duration_seconds_count{\n"
    '\t\t\t\tkubernetes_namespace="{{ namespace }}",\n'
    f"\t\t\t\t{_POD_NAME}\n"
    "\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t* 100"
)
_HTTP_DURATION = (
    "\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n\t\t\trate(\n"
    "\t\t\t\thttp_request_duration_seconds_bucket{\n"
    '\t\t\t\t\tkubernetes_namespace="{{ namespace }}",\n'
    f"\t\t\t\t\t{_POD_NAME}\n"
    "\t\t\t\t}[{{ interval }}]\n\t\t\t)\n\t\t) by (le)\n\t)"
)

ISTIO = QueryObserver(
    "istio", {REQUEST_SUCCESS_RATE: _ISTIO_SUCCESS_RATE, REQUEST_DURATION: _ISTIO_DURATION}
)
APP_HTTP = QueryObserver(
    "http",
    {REQUEST_SUCCESS_RATE: _HTTP_SUCCESS_RATE, REQUEST_DURATION: _HTTP_DURATION},
    duration_unit_ms=1000.0,
)

#: Meshes with observers of their own, by provider name prefix: module and attribute, imported
#: when first asked for (the modules import this one).
_MESH_OBSERVERS: dict[str, tuple[str, str]] = {
    "linkerd": ("linkerd_queries", "LINKERD"),
    "osm": ("osm_queries", "OSM"),
    "kuma": ("kuma_queries", "KUMA"),
    "appmesh": ("appmesh_queries", "APPMESH"),
    "gloo": ("gloo_queries", "GLOO"),
    "nginx": ("nginx_queries", "NGINX"),
    "skipper": ("skipper_queries", "SKIPPER"),
    "knative": ("knative_queries", "KNATIVE"),
}
#: Meshes whose observer Flagger picks on the exact name only (``contour:service`` is Istio's).
_EXACT_OBSERVERS: dict[str, tuple[str, str]] = {
    "contour": ("contour_queries", "CONTOUR"),
    "traefik": ("traefik_queries", "TRAEFIK"),
    "apisix": ("apisix_queries", "APISIX"),
}
#: Routing providers (or name prefixes) whose Flagger observer is not implemented here.
_NOT_IMPLEMENTED_PREFIXES: tuple[str, ...] = ()


def observer_for(provider: str) -> QueryObserver | None:
    """The observer Flagger uses for a (metrics) provider name, as its observer factory
    chooses it: ``istio`` → Istio, ``kubernetes`` and ``gatewayapi*`` → the app-level
    observer, a mesh with its own observer → that one (``None`` while not implemented here),
    any other name → Istio (Flagger's default)."""
    if provider == "istio":
        return ISTIO
    if provider == "kubernetes" or provider.startswith("gatewayapi"):
        return APP_HTTP
    for prefix, (module, attribute) in _MESH_OBSERVERS.items():
        if provider.startswith(prefix):
            return _load(module, attribute)
    if provider in _EXACT_OBSERVERS:
        return _load(*_EXACT_OBSERVERS[provider])
    if provider.startswith(_NOT_IMPLEMENTED_PREFIXES):
        return None
    return ISTIO


def _load(module: str, attribute: str) -> QueryObserver:
    found: QueryObserver = getattr(
        importlib.import_module(f"flagger.metrics.observers.{module}"), attribute
    )
    return found


#: Kept here for the plugins and tests that call them; the daemon uses the core's.
render = queries.render_observer_query
request_duration_ms = queries.request_duration_ms


# --- plugin hooks ---------------------------------------------------------------------------


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """Serve the built-in metrics of every Flagger routing provider that has an observer here
    (all of them today; see :func:`observer_for`)."""
    served = [n for n in canary_api.PROVIDERS if observer_for(n) is not None]
    registry.observer(served, flagger_observer)


def flagger_observer(provider: str, context: plugins.PluginContext) -> plugins.Observer | None:
    """The built-in queries for one of Flagger's routing providers (``None`` when not
    implemented here, and for names Flagger does not know, which other plugins may serve)."""
    base = provider.removesuffix(SERVICE_SUFFIX)
    if base not in canary_api.PROVIDERS and not base.startswith("gatewayapi"):
        return None
    return observer_for(provider)
