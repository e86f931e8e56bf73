"""Checks a tick asks the shell to run, and the answers the shell sends back.

Flagger interleaves checks with decisions: it calls the confirm-rollout hooks and, depending on
the answer, starts the analysis or waits; it stops calling rollout hooks at the first failure;
it never queries the second metric when the first one is out of range. So the decision code
asks for one check at a time (see :mod:`flagger.analysis.engine`) and the shell answers each:

- :class:`CallWebhook` -> :class:`WebhookResult` (success means an HTTP status <= 202)
- :class:`QueryMetric` -> :class:`MetricValue`, :class:`NoValues`, :class:`QueryFailed` or
  :class:`TemplateError`; or :class:`Samples` for a MetricTemplate that compares the canary
  with its baseline (see :mod:`flagger.api.comparison`)
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from flagger.api import analysis, status
from flagger.api import comparison as comparison_api

#: How a metric is evaluated: one of the two built-in observer metrics, the deprecated inline
#: ``query`` (run on the Prometheus of the canary's ``metricsServer``), or a MetricTemplate.
MetricSource = Literal["request-success-rate", "request-duration", "query", "template"]


@dataclasses.dataclass(frozen=True)
class CallWebhook:
    """POST Flagger's webhook payload to ``webhook.url``.

    ``phase`` is the ``phase`` field of the payload. ``status`` is the canary status as it stands
    at this point of the tick; the payload's ``checksum`` is computed from its
    ``lastAppliedSpec`` and ``trackedConfigs``.
    """

    webhook: analysis.CanaryWebhook
    phase: status.CanaryPhase
    status: status.CanaryStatus


@dataclasses.dataclass(frozen=True)
class QueryMetric:
    """Evaluate one metric of ``spec.analysis.metrics`` by ``source``.

    For the built-in metrics the value is a percentage (``request-success-rate``) or
    milliseconds (``request-duration``), as the mesh's observer returns them.
    """

    metric: analysis.CanaryMetric
    source: MetricSource


Request = CallWebhook | QueryMetric


@dataclasses.dataclass(frozen=True)
class WebhookResult:
    """The outcome of a webhook call; ``error`` is the text Flagger prints for a failure."""

    ok: bool
    error: str = ""

    @classmethod
    def passed(cls) -> WebhookResult:
        """A 2xx answer (status <= 202)."""
        return cls(ok=True)

    @classmethod
    def failed(cls, error: str) -> WebhookResult:
        """A refusal or an error (status > 202, timeout, connection refused...)."""
        return cls(ok=False, error=error)


@dataclasses.dataclass(frozen=True)
class MetricValue:
    """The single value a query returned."""

    value: float


@dataclasses.dataclass(frozen=True)
class Samples:
    """A baseline comparison's two sample lists, from range queries over the same window.

    ``baseline`` names the workload the baseline samples come from (``podinfo-primary``).
    """

    canary: tuple[float, ...]
    primary: tuple[float, ...]
    comparison: comparison_api.Comparison
    baseline: str


@dataclasses.dataclass(frozen=True)
class NoValues:
    """The query returned nothing (or NaN): the check fails with Flagger's "no values found"."""

    error: str = "no values found"


@dataclasses.dataclass(frozen=True)
class QueryFailed:
    """The backend failed (unreachable, bad query, several values); ``error`` is its text."""

    error: str


@dataclasses.dataclass(frozen=True)
class TemplateError:
    """The MetricTemplate could not be used (missing, bad secret, render error...).

    ``message`` is the complete event text, e.g. ``Metric template error-rate.test error:
    metrictemplate "error-rate" not found``.
    """

    message: str


MetricOutcome = MetricValue | Samples | NoValues | QueryFailed | TemplateError
Response = WebhookResult | MetricOutcome


def metric_checks(metrics: list[analysis.CanaryMetric]) -> list[QueryMetric]:
    """The metric evaluations of one analysis step, in Flagger's order.

    Flagger first walks the metrics for the built-in ones and the inline queries, then walks
    them again for the MetricTemplate references.
    """
    found: list[QueryMetric] = []
    for metric in metrics:
        if metric.name == "request-success-rate":
            found.append(QueryMetric(metric, "request-success-rate"))
        if metric.name == "request-duration":
            found.append(QueryMetric(metric, "request-duration"))
        if metric.query:
            found.append(QueryMetric(metric, "query"))
    found.extend(QueryMetric(m, "template") for m in metrics if m.template_ref is not None)
    return found
