"""The built-in metrics of the ``skipper`` provider: Skipper's per-route histograms (Flagger's
``pkg/metrics/observers/skipper.go``).

Skipper names the routes it builds from an Ingress ``kube_<namespace>__<ingress>__<host>__<path>
__<service>`` (``kubeew_`` for east-west routes), every non-word character replaced by ``_``. The
canary Ingress's route to the canary Service is therefore matched by::

    kube(ew)?_<namespace>__<ingress>_canary__.*__<service>_canary(_[0-9]+)?

- ``request-success-rate``: non-5xx responses over all (``le="+Inf"`` buckets of
  ``skipper_response_duration_seconds``), x100;
- ``request-duration``: the mean of ``skipper_serve_route_duration_seconds``, x1000 (ms).

Flagger's texts (:data:`FLAGGER_QUERIES`) bind the pattern to a template variable
(``{{- $route := printf ... }}``), and render them with the namespace, ingress and service names
encoded as Skipper encodes them. The templates served here (:data:`SKIPPER`) call the same
``printf`` inline, which renders to the same text; :meth:`SkipperObserver.encode_model` is the
encoding, and :func:`render` applies both.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from flagger import plugins
from flagger.metrics.observers import (
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    SERVICE_SUFFIX,
    QueryObserver,
)
from flagger.templating import queries

__all__ = [
    "FLAGGER_QUERIES",
    "SKIPPER",
    "SkipperObserver",
    "encode",
    "flagger_observer",
    "render",
]

_ROUTE_FORMAT = '"kube(ew)?_%s__%s_canary__.*__%s_canary(_[0-9]+)?" namespace ingress service'
_ROUTE_PATTERN = "{{- $route := printf " + _ROUTE_FORMAT + " }}"
_SUCCESS_RATE = (
    '\n\tsum(rate(skipper_response_duration_seconds_bucket{route=~"{{ $route }}",'
    'code!~"5..",le="+Inf"}[{{ interval }}])) / \n'
    '\tsum(rate(skipper_response_duration_seconds_bucket{route=~"{{ $route }}",'
    'le="+Inf"}[{{ interval }}])) * 100'
)
_DURATION = (
    '\n\tsum(rate(skipper_serve_route_duration_seconds_sum{route=~"{{ $route }}"}'
    "[{{ interval }}])) / \n"
    '\tsum(rate(skipper_serve_route_duration_seconds_count{route=~"{{ $route }}"}'
    "[{{ interval }}])) * 1000"
)

#: Flagger's query texts, byte for byte (they use a template variable).
FLAGGER_QUERIES = {
    REQUEST_SUCCESS_RATE: _ROUTE_PATTERN + _SUCCESS_RATE,
    REQUEST_DURATION: _ROUTE_PATTERN + _DURATION,
}
_INLINE = "{{ printf " + _ROUTE_FORMAT + " }}"
_NON_WORD = re.compile(r"\W", re.ASCII)


def encode(value: str) -> str:
    """A name as it appears in Skipper's route ids: every non-word character is ``_``."""
    return _NON_WORD.sub("_", value)


@dataclasses.dataclass(frozen=True)
class SkipperObserver(QueryObserver):
    """The Skipper queries, with the model encoding Skipper's route names need."""

    @staticmethod
    def encode_model(model: queries.QueryModel) -> queries.QueryModel:
        """The model with ``name``, ``namespace``, ``target``, ``service`` and ``ingress``
        encoded (Flagger's ``encodeModelForSkipper``)."""
        return dataclasses.replace(
            model,
            name=encode(model.name),
            namespace=encode(model.namespace),
            target=encode(model.target),
            service=encode(model.service),
            ingress=encode(model.ingress),
        )


#: The Skipper observer; its ``request-duration`` answers in milliseconds already.
SKIPPER = SkipperObserver(
    "skipper",
    {
        metric: text.replace(_ROUTE_PATTERN, "").replace("{{ $route }}", _INLINE)
        for metric, text in FLAGGER_QUERIES.items()
    },
)


def render(metric: str, canary: Any, interval: str) -> str:
    """The query a built-in metric runs for a canary over ``interval``, names encoded."""
    template = SKIPPER.query(metric)
    if template is None:
        raise LookupError(f"the skipper observer has no built-in metric {metric!r}")
    model = SKIPPER.encode_model(queries.model_for(canary, interval))
    return queries.render(template, model)


def flagger_observer(provider: str, context: plugins.PluginContext) -> plugins.Observer | None:
    """The Skipper queries for the ``skipper`` provider (also with a Service target)."""
    return SKIPPER if provider.removesuffix(SERVICE_SUFFIX) == SKIPPER.name else None
