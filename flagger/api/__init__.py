"""The flagger.app/v1beta1 API: Canary, MetricTemplate and AlertProvider models and validation.

Modules (import the module, e.g. ``from flagger.api import canary``):

- :mod:`~flagger.api.canary`, :mod:`~flagger.api.analysis`, :mod:`~flagger.api.service`,
  :mod:`~flagger.api.status`: the Canary and its parts; :mod:`~flagger.api.istio_types` and
  :mod:`~flagger.api.gatewayapi_types`: pass-through routing structures.
- :mod:`~flagger.api.metric_template`, :mod:`~flagger.api.alert_provider`: the other kinds.
- :mod:`~flagger.api.common`: conventions (wire names, ``effective_<field>`` defaults, CRD
  metadata) and shared types.
- :mod:`~flagger.api.documents`: YAML loading and ``parse_object``.
- :mod:`~flagger.api.validation` and :mod:`~flagger.api.problems`: semantic checks and the
  problems they report. :mod:`~flagger.api.durations`: Go durations.
"""
