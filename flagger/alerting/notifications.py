"""Sending a canary's alerts: which providers get an alert, with what fields, and how.

The controller calls :meth:`Notifications.notify` for each ``decision.Alert`` of a tick. The
call never waits: the alert is queued (:class:`~flagger.alerting.delivery.DeliveryQueue`)
and delivered by background workers, so a slow or dead chat service never delays an analysis.

**Routing**, as Flagger's ``Controller.alert``:

- A Canary without ``analysis.alerts`` uses the daemon's global notifier: MS Teams when
  ``-msteams-url`` (or ``MSTEAMS_URL``) is set, else Slack when ``-slack-url`` is set (with
  ``-slack-channel``, ``-slack-user``, ``-slack-token`` and the ``-*-proxy-url`` flags), else
  nothing.
- Otherwise each entry of ``analysis.alerts`` whose severity admits the alert gets it: ``info``
  gets every alert, ``warn`` gets warn and error alerts, ``error`` only error alerts (Flagger's
  documented rule; its code lets ``error`` entries receive warn alerts and ``warn`` entries miss
  error alerts, which is not reproduced).
- The entry's AlertProvider is read from ``providerRef`` (namespace defaults to the canary's);
  its ``spec.address``, or the ``address`` key of the Secret named by ``spec.secretRef`` (whose
  optional ``token`` key is sent as a Bearer token); ``channel`` (default ``general``),
  ``username`` (default ``flagger``) and ``proxy``. The notifier comes from the plugins
  (``flagger_notifier(provider_type, spec, context)``), which receive that resolved spec:
  ``{"type", "address", "token", "proxy", "channel", "username"}``.
- An AlertProvider may carry a message template (:mod:`flagger.alerting.templates`).

**Fields**, as Flagger's ``alertMetadata``: ``Cluster`` (from ``-cluster-name``) on every alert
when set; on initialization and on a new revision also ``Target`` (``Deployment/podinfo.test``),
``Failed checks threshold``, ``Progress deadline`` (``600s``) and ``Traffic routing``
(``Weight step: 10 max: 50``, ``Weight steps: 1,5,10 max: 0``, ``A/B Testing`` or
``Blue/Green``; Flagger prints the raw ``maxWeight``, so 0 when it is unset).

Problems are logged with Flagger's wording (``alert provider on-call.test error: ...``,
``alert provider on-call.test send error: ...``, ``alert can't be sent: ...``) and counted in
``flagger_alert_delivery_failures_total``; they never affect the canary.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
from collections.abc import Mapping
from typing import Any

import prometheus_client

from flagger import plugins
from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.kube import errors as kube_errors
from flagger.observability import logs, redaction

from . import delivery, templates
from .delivery import Alert, DeliveryError, DeliveryPolicy, Field

__all__ = [
    "SEVERITIES",
    "Notifications",
    "alert_fields",
    "build_alert",
    "global_provider",
    "should_alert",
    "template_variables",
    "traffic_routing",
]

log = logs.get_logger("flagger.notifier")

API_VERSION = "flagger.app/v1beta1"
KIND = "AlertProvider"
DEFAULT_CHANNEL = "general"
DEFAULT_USERNAME = "flagger"
#: Bound on reading an AlertProvider and its Secret from the API server, in seconds.
RESOLVE_TIMEOUT = 30.0
#: Alert severities, least severe first.
SEVERITIES = ("info", "warn", "error")


# --- pure parts -----------------------------------------------------------------------------


def should_alert(severity: str, subscribed: str | None) -> bool:
    """Whether an alert of ``severity`` goes to an alert entry of severity ``subscribed``
    (empty: info): info gets everything, warn gets warn and error, error gets error."""
    rank = {name: n for n, name in enumerate(SEVERITIES)}
    return rank.get(severity, 0) >= rank.get(subscribed or "info", 0)


def traffic_routing(analysis: analysis_api.CanaryAnalysis | None) -> str:
    """Flagger's ``Traffic routing`` field value, empty when none applies."""
    if analysis is None:
        return ""
    max_weight = analysis.max_weight or 0
    if analysis.step_weight and analysis.step_weight > 0:
        return f"Weight step: {analysis.step_weight} max: {max_weight}"
    if analysis.step_weights:
        return f"Weight steps: {','.join(str(w) for w in analysis.step_weights)} max: {max_weight}"
    if analysis.match:
        return "A/B Testing"
    if analysis.iterations and analysis.iterations > 0:
        return "Blue/Green"
    return ""


def _target(canary: canary_api.Canary) -> str:
    ref = canary.spec.target_ref
    return f"{ref.kind}/{ref.name}.{canary.namespace}"


def _threshold(canary: canary_api.Canary) -> str:
    analysis = canary.spec.effective_analysis
    return str(analysis.effective_threshold) if analysis is not None else ""


def alert_fields(canary: canary_api.Canary, cluster: str, with_details: bool) -> list[Field]:
    """The fields Flagger attaches to an alert."""
    fields: list[Field] = []
    if cluster:
        fields.append({"name": "Cluster", "value": cluster})
    if not with_details:
        return fields
    fields.append({"name": "Target", "value": _target(canary)})
    fields.append({"name": "Failed checks threshold", "value": _threshold(canary)})
    fields.append(
        {
            "name": "Progress deadline",
            "value": f"{canary.spec.effective_progress_deadline_seconds}s",
        }
    )
    routing = traffic_routing(canary.spec.effective_analysis)
    if routing:
        fields.append({"name": "Traffic routing", "value": routing})
    return fields


def _phase(canary: canary_api.Canary) -> str:
    phase = canary.status.phase if canary.status is not None else None
    return str(phase or "")


def build_alert(
    canary: canary_api.Canary,
    message: str,
    severity: str,
    *,
    with_details: bool = False,
    cluster: str = "",
    phase: str | None = None,
) -> Alert:
    """The alert handed to notifiers for one ``decision.Alert``."""
    return Alert(
        name=canary.name,
        namespace=canary.namespace,
        message=redaction.redact(message),
        severity=severity,
        fields=alert_fields(canary, cluster, with_details),
        phase=phase if phase is not None else _phase(canary),
        cluster=cluster,
        target=_target(canary),
    )


def template_variables(canary: canary_api.Canary, alert: Alert) -> templates.TemplateVariables:
    """Every template variable for an alert (the detail ones on every alert)."""
    return templates.TemplateVariables(
        name=alert["name"],
        namespace=alert["namespace"],
        message=alert["message"],
        severity=alert["severity"],
        phase=alert["phase"],
        cluster=alert["cluster"],
        target=alert["target"],
        threshold=_threshold(canary),
        deadline=f"{canary.spec.effective_progress_deadline_seconds}s",
        routing=traffic_routing(canary.spec.effective_analysis),
    )


def global_provider(options: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The global notifier's type and spec from the daemon's flags (``None``: no URL set).
    MS Teams wins over Slack, as in Flagger's ``initNotifier``."""
    teams = str(options.get("msteams-url") or "")
    if teams:
        return "msteams", {
            "type": "msteams",
            "address": teams,
            "proxy": str(options.get("msteams-proxy-url") or ""),
        }
    slack = str(options.get("slack-url") or "")
    if slack:
        return "slack", {
            "type": "slack",
            "address": slack,
            "proxy": str(options.get("slack-proxy-url") or ""),
            "token": str(options.get("slack-token") or ""),
            "username": str(options.get("slack-user") or ""),
            "channel": str(options.get("slack-channel") or ""),
        }
    return None


# --- the daemon's notifications ---------------------------------------------------------------


class Notifications:
    """The daemon's alert sender: one per daemon, started and closed with it."""

    def __init__(
        self,
        installed: plugins.Plugins,
        context: plugins.PluginContext,
        *,
        registry: prometheus_client.CollectorRegistry | None = None,
        policy: DeliveryPolicy = delivery.DEFAULT_POLICY,
    ) -> None:
        self.installed, self.context = installed, context
        self.failures = delivery.FailureCounter(registry)
        self.queue = delivery.DeliveryQueue(policy, self.failures)
        self.cluster = str(context.options.get("cluster-name") or "")
        self.global_type = ""
        self.global_notifier: plugins.Notifier | None = None
        self._types: dict[tuple[str, str], str] = {}  # AlertProvider -> type, for drop counts

    def start(self) -> None:
        """Build the global notifier from the flags and start the delivery workers."""
        found = global_provider(self.context.options)
        if found is not None:
            self.global_type, spec = found
            try:
                self.global_notifier = self.installed.notifier(self.global_type, spec, self.context)
                log.info(f"Notifications enabled for {redaction.redact_url(spec['address'])[:30]}")
            except Exception as exc:
                log.error(f"Notifier {exc}")
        self.queue.start()

    async def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (for up to ``timeout`` s) and stop."""
        await self.queue.close(timeout)

    async def flush(self) -> None:
        """Wait until every queued alert has been delivered or given up."""
        await self.queue.join()

    def notify(
        self,
        canary: canary_api.Canary,
        message: str,
        severity: str,
        *,
        with_details: bool = False,
        phase: str | None = None,
    ) -> bool:
        """Queue an alert for the canary's providers; never waits. False when it was dropped
        (queue full) or there is nowhere to send it."""
        alert = build_alert(
            canary, message, severity, with_details=with_details, cluster=self.cluster, phase=phase
        )
        key = (canary.namespace, canary.name)
        analysis = canary.spec.effective_analysis
        entries = analysis.effective_alerts if analysis is not None else []
        if not entries:
            notifier = self.global_notifier
            if notifier is None:
                return False
            return self.queue.submit(
                key, lambda: self._send_global(notifier, alert), self.global_type
            )
        accepted = True
        for entry in entries:
            if not should_alert(severity, entry.severity):
                continue
            namespace = entry.provider_ref.effective_namespace(canary.namespace)
            provider_type = self._types.get((namespace, entry.provider_ref.name), "")
            accepted &= self.queue.submit(
                key, functools.partial(self._send_to_provider, canary, alert, entry), provider_type
            )
        return accepted

    async def _send_global(self, notifier: plugins.Notifier, alert: Alert) -> None:
        try:
            await self.queue.deliver(lambda: notifier.post(alert))
        except DeliveryError as exc:
            self.failures.count(self.global_type, exc.reason)
            log.error(f"alert can't be sent: {exc}", canary=_Named(alert))

    async def _send_to_provider(
        self, canary: canary_api.Canary, alert: Alert, entry: analysis_api.CanaryAlert
    ) -> None:
        ref = entry.provider_ref
        namespace = ref.effective_namespace(canary.namespace)
        where = f"{ref.name}.{namespace}"
        provider_type = ""
        try:
            if (
                self.context.options.get("no-cross-namespace-refs")
                and namespace != canary.namespace
            ):
                raise DeliveryError(
                    delivery.PROVIDER_ERROR,
                    f"cross-namespace reference to {where} is not allowed "
                    "(-no-cross-namespace-refs); move the AlertProvider to namespace "
                    f"{canary.namespace}",
                )
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT):
                    provider_type, spec, template = await self._resolve(ref.name, namespace)
            except TimeoutError:
                raise DeliveryError(
                    delivery.TIMEOUT,
                    "reading the AlertProvider and its "
                    f"Secret took longer than {RESOLVE_TIMEOUT:g}s",
                ) from None
            notifier = self.installed.notifier(provider_type, spec, self.context)
        except Exception as exc:
            failure = (
                exc
                if isinstance(exc, DeliveryError)
                else DeliveryError(delivery.PROVIDER_ERROR, str(exc))
            )
            provider_type = self._types.get((namespace, ref.name), "")
            self.failures.count(provider_type, failure.reason)
            log.error(_provider_problem(where, failure), canary=canary)
            return
        sent = alert
        if template is not None:
            try:
                sent = alert.replace(
                    message=templates.render(template, template_variables(canary, alert))
                )
            except templates.AlertTemplateError as exc:
                log.error(
                    f"alert provider {where} template error, sending Flagger's message: {exc}",
                    canary=canary,
                )
        try:
            await self.queue.deliver(lambda: notifier.post(sent))
        except DeliveryError as exc:
            self.failures.count(provider_type, exc.reason)
            log.error(f"alert provider {where} send error: {exc}", canary=canary)

    async def _resolve(self, name: str, namespace: str) -> tuple[str, dict[str, str], str | None]:
        """The AlertProvider's type, resolved spec and message template."""
        kube = self.context.kube
        try:
            obj = await kube.get(API_VERSION, KIND, name, namespace)
        except kube_errors.ApiError as exc:
            raise DeliveryError(delivery.PROVIDER_ERROR, str(exc)) from None
        if obj is None:
            raise DeliveryError(
                delivery.PROVIDER_ERROR, f'alertproviders.flagger.app "{name}" not found'
            )
        spec: Mapping[str, Any] = obj.get("spec") or {}
        provider_type = str(spec.get("type") or "")
        self._types[(namespace, name)] = provider_type
        resolved = {
            "type": provider_type,
            "address": str(spec.get("address") or ""),
            "token": "",
            "proxy": str(spec.get("proxy") or ""),
            "channel": str(spec.get("channel") or DEFAULT_CHANNEL),
            "username": str(spec.get("username") or DEFAULT_USERNAME),
        }
        secret_ref = spec.get("secretRef") or {}
        if secret_ref:
            resolved.update(await self._secret(str(secret_ref.get("name") or ""), namespace))
        return provider_type, resolved, templates.template_of(obj.get("metadata"))

    async def _secret(self, name: str, namespace: str) -> dict[str, str]:
        try:
            secret = await self.context.kube.get("v1", "Secret", name, namespace)
        except kube_errors.ApiError as exc:
            raise _SecretError(str(exc)) from None
        if secret is None:
            raise _SecretError(f'secrets "{name}" not found')
        data: Mapping[str, str] = secret.get("data") or {}
        if "address" not in data:
            raise _SecretError("secret does not contain an address", label="")
        found = {"address": _decode(data["address"], "address")}
        if "token" in data:
            found["token"] = _decode(data["token"], "token")
        return found


class _SecretError(DeliveryError):
    """A problem with an AlertProvider's Secret (logged as ``secretRef error``)."""

    def __init__(self, message: str, label: str = "secretRef error") -> None:
        super().__init__(delivery.PROVIDER_ERROR, message)
        self.label = label


def _provider_problem(where: str, failure: DeliveryError) -> str:
    """Flagger's log line for an AlertProvider that cannot be used."""
    if isinstance(failure, _SecretError):
        if not failure.label:
            return f"alert provider {where} {failure}"
        return f"alert provider {where} {failure.label}: {failure}"
    return f"alert provider {where} error: {failure}"


def _decode(value: str, key: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode().strip()
    except (binascii.Error, UnicodeDecodeError):
        raise _SecretError(f"key {key} of the secret is not valid base64 UTF-8") from None


class _Named:
    """An alert as the logger's ``canary`` (``name.namespace``)."""

    def __init__(self, alert: Mapping[str, Any]) -> None:
        self.name, self.namespace = str(alert["name"]), str(alert["namespace"])
