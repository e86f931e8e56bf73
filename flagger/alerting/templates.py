"""Alert message templates users can change (beyond Flagger: its issue #564).

Flagger's alerts carry a fixed text (``Canary analysis completed successfully, promotion
finished.``). An AlertProvider may replace that text with a template of its own, written in its
``flagger.app/alert-template`` annotation. The AlertProvider CRD schema stays Flagger's, so a
manifest with the annotation still applies to a cluster running Flagger (which ignores it)::

    apiVersion: flagger.app/v1beta1
    kind: AlertProvider
    metadata:
      name: on-call
      annotations:
        flagger.app/alert-template: >-
          [{{ cluster }}] {{ severity }}: {{ name }}.{{ namespace }} {{ message }}
    spec:
      type: slack
      address: https://hooks.slack.com/services/...

The language is the one of MetricTemplate queries (:mod:`flagger.templating.gotemplate`): Go
``text/template`` actions calling zero-argument functions, ``{{ name }}``, with the builtins
``printf``, ``print``, ``println``, ``len``, ``urlquery`` and pipelines
(``{{ message | printf "*%s*" }}``). Every template sees the same variables, whatever the alert
(:data:`VARIABLES`); the ones Flagger only shows as fields on some alerts (``target``,
``threshold``, ``deadline``, ``routing``) are filled on every alert. The rendered text replaces
the alert's message; the fields (Cluster, Target, ...) and the payload shape stay Flagger's.

An unknown variable is an error naming it and listing the available ones; ``flagger validate``
reports it through :func:`validate_template` / :func:`annotation_problems`. At run time a
template that fails to render does not lose the alert: Flagger's own message is sent instead
and the error is logged. Everything here is pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from flagger.templating import gotemplate

__all__ = [
    "ANNOTATION",
    "VARIABLES",
    "AlertTemplateError",
    "TemplateVariables",
    "annotation_problems",
    "render",
    "template_of",
    "validate_template",
]

#: The AlertProvider annotation holding the message template.
ANNOTATION = "flagger.app/alert-template"

#: Every variable a template may use, with what it holds.
VARIABLES: Mapping[str, str] = {
    "name": "the Canary's name (podinfo)",
    "namespace": "the Canary's namespace (test)",
    "message": "Flagger's alert text (New revision detected, progressing canary analysis.)",
    "severity": "info, warn or error",
    "phase": "the canary's phase when the alert was raised (Progressing, Failed, ...)",
    "cluster": "the daemon's -cluster-name (empty when unset)",
    "target": "the target as Kind/name.namespace (Deployment/podinfo.test)",
    "threshold": "failed checks threshold (5)",
    "deadline": "progress deadline (600s)",
    "routing": "traffic routing (Weight step: 10 max: 50, A/B Testing, Blue/Green or empty)",
}


class AlertTemplateError(ValueError):
    """A template does not parse or render; the message says where and why."""


@dataclasses.dataclass(frozen=True)
class TemplateVariables:
    """The values of :data:`VARIABLES` for one alert."""

    name: str
    namespace: str
    message: str
    severity: str
    phase: str = ""
    cluster: str = ""
    target: str = ""
    threshold: str = ""
    deadline: str = ""
    routing: str = ""

    def functions(self) -> gotemplate.Functions:
        """The template functions, one per variable."""
        return {key: _constant(getattr(self, key)) for key in VARIABLES}


#: Values used to check that a template renders (``flagger validate`` has no alert at hand).
SAMPLE = TemplateVariables(
    name="podinfo",
    namespace="test",
    message="Canary analysis completed successfully, promotion finished.",
    severity="info",
    phase="Succeeded",
    cluster="prod",
    target="Deployment/podinfo.test",
    threshold="5",
    deadline="600s",
    routing="Weight step: 10 max: 50",
)


def _constant(value: str) -> Callable[[], gotemplate.Value]:
    return lambda: value


def render(template: str, variables: TemplateVariables) -> str:
    """The alert text for ``template``; :class:`AlertTemplateError` when it cannot render."""
    try:
        return gotemplate.render(template, variables.functions())
    except gotemplate.TemplateError as exc:
        raise AlertTemplateError(_alert_wording(str(exc))) from None


def validate_template(text: str) -> list[str]:
    """What is wrong with a template (empty when it is valid): an unknown variable is named
    together with the available ones."""
    if not text.strip():
        return ["the template is empty; remove the annotation to send Flagger's message"]
    try:
        render(text, SAMPLE)
    except AlertTemplateError as exc:
        return [str(exc)]
    return []


def template_of(metadata: Mapping[str, object] | None) -> str | None:
    """The template set on an AlertProvider's ``metadata`` (None when there is none)."""
    annotations = (metadata or {}).get("annotations")
    if not isinstance(annotations, Mapping):
        return None
    found = annotations.get(ANNOTATION)
    return found if isinstance(found, str) else None


def annotation_problems(metadata: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """``(path, message)`` for each problem of an AlertProvider's template annotation, for
    ``flagger validate`` (``metadata.annotations["flagger.app/alert-template"]``)."""
    template = template_of(metadata)
    if template is None:
        return []
    path = f'metadata.annotations["{ANNOTATION}"]'
    return [(path, message) for message in validate_template(template)]


def _alert_wording(message: str) -> str:
    """The template engine speaks of query templates; say alert templates instead."""
    return message.replace("query templates", "alert templates").replace(
        " (with keys, e.g. variables.KEY)", ""
    )
