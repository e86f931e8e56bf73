"""Built-in metric backends and observers (installed as ``flagger.metrics``).

Every backend (Prometheus, Datadog, CloudWatch, New Relic, Graphite, InfluxDB, Dynatrace,
Stackdriver, Splunk, Keptn, external metrics) is a module of its own with its own entry point,
exactly as an outside package would register one; so are the observers
(:mod:`flagger.metrics.observers`, entry point ``observers``).

- :mod:`~flagger.metrics.backends.prometheus` and one module per other provider type.
- :mod:`~flagger.metrics.observers`: the built-in ``request-success-rate`` and
  ``request-duration`` queries per mesh.
"""
