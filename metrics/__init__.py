"""Built-in metric backends and MetricTemplate query rendering (installed as ``flagger.metrics``).

This package module is a plugin (entry point ``flagger`` → ``metrics``): it serves the
``prometheus`` backend and declares the meshes with built-in observers. Every other backend
(Datadog, CloudWatch, New Relic, Graphite, InfluxDB, Dynatrace, Stackdriver, Splunk, Keptn,
external metrics) is a module of its own with its own entry point, exactly as an outside
package would register one.

- :mod:`~flagger.templating.queries` (and :mod:`~flagger.templating.gotemplate`): Flagger's query
  template syntax.
- :mod:`~flagger.metrics.backends.prometheus` and one module per other provider type.
- :mod:`~flagger.metrics.observers`: the built-in ``request-success-rate`` and
  ``request-duration`` queries per mesh.
"""

from __future__ import annotations

from flagger import plugins
from flagger.metrics import observers
from flagger.metrics.backends import prometheus

#: Every MetricTemplate provider type Flagger has (``reference/flagger.md`` §2); all are
#: implemented, each by its own module.
FLAGGER_METRIC_PROVIDERS = (
    "cloudwatch",
    "datadog",
    "dynatrace",
    "externalmetrics",
    "graphite",
    "influxdb",
    "keptn",
    "newrelic",
    "prometheus",
    "splunk",
    "stackdriver",
)

#: Routing providers with built-in observers in Flagger (knative included).
_OBSERVED_MESHES = (
    "apisix",
    "appmesh",
    "appmesh:v1beta2",
    "contour",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
    "gloo",
    "istio",
    "knative",
    "kubernetes",
    "kuma",
    "linkerd",
    "nginx",
    "osm",
    "skipper",
    "smi:v1alpha1",
    "smi:v1alpha2",
    "smi:v1alpha3",
    "traefik",
)

flagger_metric_backend = prometheus.flagger_metric_backend
flagger_observer = observers.flagger_observer


@plugins.hookimpl
def flagger_provides() -> list[plugins.Provided]:
    """Declare the Prometheus backend and the observers."""
    return [
        plugins.Provided(plugins.Kind.METRIC_BACKEND, prometheus.PROVIDER_TYPE),
        # Every mesh Flagger has built-in queries for; the ones not landed yet are declared so.
        *(
            plugins.Provided(plugins.Kind.OBSERVER, n, n in observers.SERVED)
            for n in _OBSERVED_MESHES
        ),
    ]
