"""Built-in metric backends and MetricTemplate query rendering (installed as ``flagger.metrics``).

This package module is a plugin (entry point ``flagger`` → ``metrics``) declaring every
MetricTemplate ``spec.provider.type`` Flagger has. Types whose backend has not landed yet are
declared with ``implemented=False`` so that manifests using them validate.
"""

from __future__ import annotations

from flagger import plugins

#: Every MetricTemplate provider type Flagger has (``reference/flagger.md`` §2).
FLAGGER_METRIC_PROVIDERS = (
    "cloudwatch", "datadog", "dynatrace", "externalmetrics", "graphite", "influxdb", "keptn",
    "newrelic", "prometheus", "splunk", "stackdriver",
)

#: Backends whose implementation is installed in this package.
IMPLEMENTED: frozenset[str] = frozenset()


@plugins.hookimpl
def flagger_provides() -> list[plugins.Provided]:
    """Declare the built-in metric provider types."""
    return [
        plugins.Provided(plugins.Kind.METRIC_BACKEND, n, n in IMPLEMENTED)
        for n in FLAGGER_METRIC_PROVIDERS
    ]
