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
