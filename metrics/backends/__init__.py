"""Built-in metric backends, one module per MetricTemplate provider type (installed as
``flagger.metrics.backends``); :mod:`~flagger.metrics.backends.backend_common` holds what the
HTTP backends share."""
