"""Answers to the checks a tick asks for: webhook calls and metric queries.

The state machine yields :class:`~flagger.analysis.checks.CallWebhook` and
:class:`~flagger.analysis.checks.QueryMetric` requests; this module runs them through the webhook
client, the observers, the MetricTemplates and the metric backend plugins, and turns every
outcome (including every failure) into the answer types the state machine understands. It never
raises for a user's mistake: a missing template or an unreachable Prometheus is an answer.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from flagger import plugins
from flagger.analysis import checks, engine
from flagger.api import canary as canary_api
from flagger.api import comparison as comparison_api
from flagger.api import durations
from flagger.api import metric_template as template_api
from flagger.hooks import calls
from flagger.kube import client as kube_client
from flagger.templating import queries

TEMPLATE_API_VERSION = "flagger.app/v1beta1"


class Answers:
    """Runs checks for every canary of one daemon (shares its HTTP session)."""

    def __init__(
        self,
        kube: kube_client.Kube,
        installed: plugins.Plugins,
        context: plugins.PluginContext,
        session: aiohttp.ClientSession,
        *,
        metrics_server: str,
        mesh_provider: str,
    ) -> None:
        self.kube, self.plugins, self.context, self.session = kube, installed, context, session
        self.metrics_server, self.mesh_provider = metrics_server, mesh_provider

    async def answer(self, canary: canary_api.Canary, request: checks.Request) -> checks.Response:
        """Run one check for ``canary``."""
        if isinstance(request, checks.CallWebhook):
            return await self._webhook(canary, request)
        return await self._metric(canary, request)

    async def _webhook(
        self, canary: canary_api.Canary, request: checks.CallWebhook
    ) -> checks.WebhookResult:
        seen = canary.model_copy(update={"status": request.status})
        result = await calls.call(request.webhook, seen, request.phase.value, session=self.session)
        return (
            checks.WebhookResult.passed()
            if result.ok
            else checks.WebhookResult.failed(result.message)
        )

    async def _metric(
        self, canary: canary_api.Canary, request: checks.QueryMetric
    ) -> checks.MetricOutcome:
        metric = request.metric
        if request.source == "template":
            return await self._template(canary, request)
        address = canary.spec.metrics_server or self.metrics_server
        backend = self.metrics_server_backend(address)
        if request.source == "query":
            query = metric.query or ""
            return await _run(backend, query)
        provider = engine.metrics_provider(canary, self.mesh_provider)
        observer = self.plugins.observer(provider, self.context)
        route = None
        if provider == "knative":
            # Flagger's Knative queries name the canary revision: the latest one
            ref = canary.spec.target_ref
            service = await self.kube.get(ref.api_version, ref.kind, ref.name, canary.namespace)
            if service is None:
                return checks.QueryFailed(
                    f"Error fetching Knative service {canary.namespace}/{ref.name}: not found"
                )
            route = str((service.get("status") or {}).get("latestCreatedRevisionName") or "")
        try:
            query = queries.render_observer_query(
                observer, request.source, canary, metric.effective_interval, route=route
            )
        except (LookupError, queries.TemplateError) as exc:
            return checks.QueryFailed(str(exc))
        outcome = await _run(backend, query)
        if request.source == "request-duration" and isinstance(outcome, checks.MetricValue):
            return checks.MetricValue(float(queries.request_duration_ms(observer, outcome.value)))
        return outcome

    async def _template(
        self, canary: canary_api.Canary, request: checks.QueryMetric
    ) -> checks.MetricOutcome:
        metric = request.metric
        ref = metric.template_ref
        assert ref is not None  # the state machine asks for templates only when referenced
        namespace = ref.namespace or canary.namespace
        where = f"{ref.name}.{namespace}"
        raw = await self.kube.get(TEMPLATE_API_VERSION, "MetricTemplate", ref.name, namespace)
        if raw is None:
            return checks.TemplateError(
                f'Metric template {where} error: metrictemplate.flagger.app "{ref.name}" not found'
            )
        try:
            template = template_api.MetricTemplate.model_validate(raw)
        except ValueError as exc:
            return checks.TemplateError(f"Metric template {where} error: {exc}")
        spec = template.spec
        try:
            comparison = comparison_api.from_annotations(template.metadata.get("annotations"))
        except comparison_api.ComparisonError as exc:
            return checks.TemplateError(f"Metric template {where} error: {exc}")
        try:
            backend = await self.backend(template, namespace, metric.effective_interval)
        except (plugins.UnknownPlugin, ValueError, LookupError) as exc:
            return checks.TemplateError(f"Metric template {where} error: {exc}")
        model = queries.model_for(canary, metric.effective_interval, metric.template_variables)
        try:
            query = queries.render(spec.query or "", model)
        except queries.TemplateError as exc:
            return checks.TemplateError(f"Metric template {where} query render error: {exc}")
        if comparison is None:
            return await _run(backend, query)
        if not isinstance(backend, plugins.RangeQueryBackend):
            return checks.TemplateError(
                f"Metric template {where} error: provider {spec.provider.type} cannot run the "
                "range queries a baseline comparison needs; use a prometheus provider or drop "
                f"the {comparison_api.COMPARISON} annotation"
            )
        primary = f"{model.target}-primary"
        baseline_query = queries.render(
            spec.query or "", dataclasses.replace(model, target=primary)
        )
        window = durations.parse_duration(metric.effective_interval)
        step = comparison.step_seconds(window)
        end = time.time()
        canary_samples = await _run_range(backend, query, end - window, end, step)
        if not isinstance(canary_samples, list):
            return canary_samples
        primary_samples = await _run_range(backend, baseline_query, end - window, end, step)
        if not isinstance(primary_samples, list):
            return primary_samples
        return checks.Samples(tuple(canary_samples), tuple(primary_samples), comparison, primary)

    def metrics_server_backend(self, address: str) -> plugins.MetricBackend:
        """The Prometheus backend of the built-in metrics (``-metrics-server`` or the Canary's
        ``metricsServer``), built by the installed ``prometheus`` plugin on the daemon's session."""
        context = dataclasses.replace(self.context, session=self.session)
        return self.plugins.metric_backend("prometheus", {"address": address}, context)

    async def backend(
        self, template: template_api.MetricTemplate, namespace: str, interval: str = "1m"
    ) -> plugins.MetricBackend:
        """The backend a MetricTemplate's ``spec.provider`` asks for, with its Secret's data
        decoded and the metric's interval (CloudWatch, Datadog... window their queries by it).
        Raises :class:`LookupError` when the Secret is missing."""
        provider: dict[str, Any] = template.spec.provider.to_dict()
        provider[plugins.INTERVAL_KEY] = interval
        secret_ref = template.spec.provider.secret_ref
        if secret_ref is not None:
            secret = await self.kube.get("v1", "Secret", secret_ref.name, namespace)
            if secret is None:
                raise LookupError(f'secret "{secret_ref.name}" not found')
            provider[plugins.CREDENTIALS_KEY] = _decode(secret.get("data") or {})
        return self.plugins.metric_backend(template.spec.provider.type, provider, self.context)


async def _run(backend: plugins.MetricBackend, query: str) -> checks.MetricOutcome:
    try:
        return checks.MetricValue(await backend.run_query(query))
    except plugins.NoValuesFound as exc:
        return checks.NoValues(str(exc) or "no values found")
    except Exception as exc:  # an unreachable or failing backend is an answer, not a crash
        return checks.QueryFailed(str(exc) or type(exc).__name__)


async def _run_range(
    backend: plugins.RangeQueryBackend, query: str, start: float, end: float, step: float
) -> list[float] | checks.NoValues | checks.QueryFailed:
    try:
        return await backend.run_range_query(query, start, end, step)
    except plugins.NoValuesFound as exc:
        return checks.NoValues(str(exc) or "no values found")
    except Exception as exc:  # an unreachable or failing backend is an answer, not a crash
        return checks.QueryFailed(str(exc) or type(exc).__name__)


def _decode(data: Mapping[str, str]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
