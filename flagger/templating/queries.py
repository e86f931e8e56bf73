"""Flagger's query templates: ``{{ namespace }}``, ``{{ target }}``, ``{{ variables.KEY }}``...

A MetricTemplate's ``spec.query`` and the built-in observer queries are Go ``text/template``
texts. Flagger renders them with ``missingkey=error``, no data, and one function per field of
its ``MetricTemplateModel``: ``name``, ``namespace``, ``target``, ``service``, ``ingress``,
``route``, ``interval`` (strings) and ``variables`` (the metric's ``templateVariables``, read as
``{{ variables.KEY }}``). Spacing inside the braces is free (``{{target}}``), and Go's builtins
such as ``printf`` work (``{{ printf "%s-canary" service }}``); see
:mod:`flagger.templating.gotemplate` for the exact language supported.

Errors read like Go's behind Flagger's prefixes and say what is available::

    template parsing failed: template: tmpl:2: function "workload" not defined (available: ...)
    template execution failed: template: tmpl:1:10: executing "tmpl" at <variables.dirction>:
        map has no entry for key "dirction" (available keys: app, direction)

The daemon shows them as ``Metric template %s.%s query render error: %v``. Everything here is
pure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from flagger.templating import gotemplate
from flagger.templating.gotemplate import MissingKeyError, TemplateError, TemplateSyntaxError

__all__ = [
    "FUNCTIONS",
    "MissingKeyError",
    "QueryModel",
    "TemplateError",
    "TemplateSyntaxError",
    "model_for",
    "render",
    "render_observer_query",
    "request_duration_ms",
]

#: The functions a query template may call, in Flagger's order.
FUNCTIONS = ("name", "namespace", "target", "service", "ingress", "route", "interval", "variables")
_NO_VARIABLES = "the metric sets no templateVariables"


@dataclasses.dataclass(frozen=True)
class QueryModel:
    """The values a query template sees (Flagger's ``MetricTemplateModel``)."""

    name: str
    namespace: str
    target: str
    service: str
    ingress: str
    route: str
    interval: str
    variables: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def functions(self) -> gotemplate.Functions:
        """The template functions, one per field, in :data:`FUNCTIONS` order."""
        return {name: _constant(getattr(self, name)) for name in FUNCTIONS}


def _constant(value: gotemplate.Value) -> Callable[[], gotemplate.Value]:
    return lambda: value


def model_for(
    canary: Any, interval: str = "1m", variables: Mapping[str, str] | None = None
) -> QueryModel:
    """The model Flagger builds for a canary (``toMetricModel``).

    ``canary`` is a :class:`flagger.api.canary.Canary`; ``interval`` is the metric's window
    (``CanaryMetric.effective_interval``) and ``variables`` its ``templateVariables``.
    ``service`` defaults to the target's name, as do ``ingress`` and ``route`` when the canary
    has no ``ingressRef`` / ``routeRef``.
    """
    spec = canary.spec
    target = spec.target_ref.name
    return QueryModel(
        name=canary.name,
        namespace=canary.namespace,
        target=target,
        service=spec.effective_service_name,
        ingress=spec.ingress_ref.name if spec.ingress_ref is not None else target,
        route=spec.route_ref.name if spec.route_ref is not None else target,
        interval=interval,
        variables=dict(variables or {}),
    )


def render(template: str, model: QueryModel) -> str:
    """Render a query template with a canary's model (Flagger's ``RenderQuery``).

    Raises :class:`TemplateSyntaxError` for text Go's parser would reject (or a construct not
    supported here) and :class:`MissingKeyError` for a key that is not there.
    """
    return gotemplate.render(template, model.functions(), {"variables": _NO_VARIABLES})


# --- the built-in metrics' queries (an observer's templates) ---------------------------


def render_observer_query(
    observer: Any,
    metric: str,
    canary: Any,
    interval: str,
    *,
    route: str | None = None,
) -> str:
    """The query a built-in metric runs for a canary over ``interval`` (e.g. ``"1m"``);
    ``route`` overrides the model's route (Knative's latest revision).

    Raises :class:`LookupError` when the observer has no query for ``metric`` and
    :class:`TemplateError` when the query cannot be rendered.
    """
    template = observer.query(metric)
    if template is None:
        raise LookupError(f"the {_name_of(observer)} observer has no built-in metric {metric!r}")
    model = model_for(canary, interval)
    if route is not None:
        model = dataclasses.replace(model, route=route)
    encode = getattr(observer, "encode_model", None)  # Skipper's route names need encoding
    if encode is not None:
        model = encode(model)
    return render(template, model)


def request_duration_ms(observer: Any, value: float) -> int:
    """A ``request-duration`` result in whole milliseconds for any observer (one without a
    ``duration_ms`` method is taken to answer in milliseconds)."""
    convert = getattr(observer, "duration_ms", None)
    if convert is None:
        return math.trunc(value)
    return int(convert(value))


def _name_of(observer: Any) -> str:
    return str(getattr(observer, "name", type(observer).__name__))
