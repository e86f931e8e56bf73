"""A Canary's ``spec.analysis``: the schedule, the traffic ladder and the checks.

Every tick (``interval``) Flagger runs the webhooks and metric checks, then advances the
canary weight by ``stepWeight`` (or along ``stepWeights``) up to ``maxWeight``; blue/green and
A/B testing run ``iterations`` checks instead. ``threshold`` failed checks roll the canary back.

Flagger's defaults are read through ``effective_<field>`` properties and durations through
``<field>_seconds`` properties (see :mod:`flagger.api.common`).
"""

from __future__ import annotations

from typing import Literal

import pydantic

from flagger.api import common, durations, istio_types
from flagger.api.common import field

#: Metrics Flagger computes itself from the mesh's observer (no template needed).
BUILTIN_METRICS = ("request-success-rate", "request-duration")
DEFAULT_INTERVAL_SECONDS = 60.0
MIN_INTERVAL_SECONDS = 10.0
DEFAULT_THRESHOLD = 1
DEFAULT_MAX_WEIGHT = 100
DEFAULT_READY_THRESHOLD = 100
DEFAULT_METRIC_INTERVAL = "1m"
DEFAULT_WEBHOOK_TIMEOUT = "10s"
DEFAULT_SEVERITY = "info"
DEFAULT_COOKIE_MAX_AGE = 86400

HookType = Literal[
    "",
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-promotion",
    "post-rollout",
    "event",
    "rollback",
    "confirm-traffic-increase",
]
Severity = Literal["", "info", "warn", "error"]
_DURATION = {"pattern": common.CRD_DURATION_PATTERN}


def _seconds_or(text: str | None, default: str) -> float:
    """Seconds of ``text`` (or of ``default`` when unset or unparsable)."""
    try:
        return durations.parse_duration(text if text else default)
    except ValueError:
        return durations.parse_duration(default)


class ThresholdRange(common.FlaggerModel):
    """Range accepted for a metric."""

    min: common.Number | None = field("Min value accepted for this metric")
    max: common.Number | None = field("Max value accepted for this metric")


class CanaryMetric(common.FlaggerModel):
    """A metric check: a built-in metric, an inline query or a MetricTemplate reference."""

    name: str = common.required("Name of the metric")
    interval: str | None = field("Interval of the query", schema=_DURATION)
    threshold: common.Number | None = field("Max value accepted for this metric")
    threshold_range: ThresholdRange | None = field("Range accepted for this metric")
    query: str | None = field("Prometheus query")
    template_ref: common.CrossNamespaceObjectReference | None = field("Metric template reference")
    template_variables: dict[str, str] | None = field(
        "Additional variables to be used in the metrics query (key-value pairs)"
    )

    @property
    def is_builtin(self) -> bool:
        """True for ``request-success-rate`` and ``request-duration``."""
        return self.name in BUILTIN_METRICS

    @property
    def effective_interval(self) -> str:
        """The query window, default ``1m``."""
        return self.interval or DEFAULT_METRIC_INTERVAL

    @property
    def interval_seconds(self) -> float:
        """:attr:`effective_interval` in seconds (``60.0`` when unparsable)."""
        return _seconds_or(self.interval, DEFAULT_METRIC_INTERVAL)


class CanaryWebhook(common.FlaggerModel):
    """A webhook called at one stage of the analysis (``type``), e.g. a load test or a gate."""

    name: str = common.required("Name of the webhook")
    type: HookType | None = field("Type of the webhook pre, post or during rollout")
    mute_alert: bool | None = field("Mute all alerts for the webhook")
    url: str = common.required("URL address of this webhook", schema={"format": "url"})
    timeout: str | None = field("Request timeout for this webhook", schema=_DURATION)
    retries: common.IntNumber | None = field("Number of retries for this webhook")
    disable_tls: bool | None = pydantic.Field(
        default=None, alias="disableTLS", description="Disable TLS verification for this webhook"
    )
    metadata: dict[str, str] | None = field("Metadata (key-value pairs) for this webhook")

    @property
    def effective_type(self) -> str:
        """The hook type; an empty or missing type means ``rollout``."""
        return self.type or "rollout"

    @property
    def effective_timeout(self) -> str:
        """The request timeout, default ``10s``."""
        return self.timeout or DEFAULT_WEBHOOK_TIMEOUT

    @property
    def timeout_seconds(self) -> float:
        """:attr:`effective_timeout` in seconds (``10.0`` when unparsable)."""
        return _seconds_or(self.timeout, DEFAULT_WEBHOOK_TIMEOUT)

    @property
    def effective_retries(self) -> int:
        """Retries after a failed call, default 0."""
        return self.retries or 0


class CanaryAlert(common.FlaggerModel):
    """An alert sent through an AlertProvider."""

    name: str = common.required("Name of the this alert")
    severity: Severity | None = field("Severity level can be info, warn, error (default info)")
    provider_ref: common.CrossNamespaceObjectReference = common.required("Alert provider reference")

    @property
    def effective_severity(self) -> str:
        """The severity, default ``info``."""
        return self.severity or DEFAULT_SEVERITY


class SessionAffinity(common.FlaggerModel):
    """SessionAffinity represents the session affinity settings for a canary run."""

    cookie_name: str = common.required(
        "CookieName is the key that will be used for the session affinity cookie."
    )
    primary_cookie_name: str | None = field(
        "CookieName is the key that will be used for the session affinity cookie."
    )
    domain: str | None = field("Domain defines the host to which the cookie will be sent.")
    http_only: bool | None = field(
        "HttpOnly forbids JavaScript from accessing the cookie, for example, through the "
        "Document.cookie property."
    )
    max_age: common.IntNumber | None = field(
        "MaxAge indicates the number of seconds until the session affinity cookie will expire.",
        schema={"default": DEFAULT_COOKIE_MAX_AGE},
    )
    partitioned: bool | None = field(
        "Partitioned indicates that the cookie should be stored using partitioned storage."
    )
    path: str | None = field(
        "Path indicates the path that must exist in the requested URL for the browser to send "
        "the Cookie header."
    )
    same_site: Literal["Strict", "Lax", "None"] | None = field(
        "SameSite controls whether or not a cookie is sent with cross-site requests."
    )
    secure: bool | None = field(
        "Secure indicates that the cookie is sent to the server only when a request is made "
        "with the https: scheme (except on localhost)"
    )

    @property
    def effective_max_age(self) -> int:
        """Cookie lifetime in seconds, default 86400."""
        return DEFAULT_COOKIE_MAX_AGE if self.max_age is None else self.max_age


class CanaryAnalysis(common.FlaggerModel):
    """Canary analysis for this canary."""

    model_config = pydantic.ConfigDict(
        json_schema_extra={
            common.CRD_ONE_OF_KEY: [
                ["interval", "threshold", "iterations"],
                ["interval", "threshold", "stepWeight"],
                ["interval", "threshold", "stepWeights"],
            ]
        }
    )

    interval: str | None = field("Schedule interval for this canary", schema=_DURATION)
    iterations: common.IntNumber | None = field(
        "Number of checks to run for A/B Testing and Blue/Green"
    )
    threshold: common.IntNumber | None = field("Max number of failed checks before rollback")
    max_weight: common.IntNumber | None = field("Max traffic weight routed to canary")
    step_weight: common.IntNumber | None = field(
        "Incremental traffic step weight for the analysis phase"
    )
    step_weights: list[common.IntNumber] | None = field(
        "Incremental traffic step weights for the analysis phase"
    )
    step_weight_promotion: common.IntNumber | None = field(
        "Incremental traffic step weight for the promotion phase"
    )
    mirror: bool | None = field("Mirror traffic to canary")
    mirror_weight: common.IntNumber | None = field("Weight of traffic to be mirrored")
    primary_ready_threshold: common.IntNumber | None = field(
        "Percentage of pods that need to be available to consider primary as ready"
    )
    canary_ready_threshold: common.IntNumber | None = field(
        "Percentage of pods that need to be available to consider canary as ready"
    )
    match: list[istio_types.CanaryMatch] | None = field("A/B testing match conditions")
    metrics: list[CanaryMetric] | None = field("Metric check list for this canary")
    alerts: list[CanaryAlert] | None = field("Alert list for this canary analysis")
    webhooks: list[CanaryWebhook] | None = field("Webhook list for this canary")
    session_affinity: SessionAffinity | None = field(
        "SessionAffinity represents the session affinity settings for a canary run."
    )

    @property
    def interval_seconds(self) -> float:
        """The tick period as Flagger computes it: 60s when unset or unparsable, at least 10s."""
        seconds = _seconds_or(self.interval, "60s")
        return max(seconds, MIN_INTERVAL_SECONDS)

    @property
    def effective_threshold(self) -> int:
        """Failed checks allowed before rollback; unset or non-positive means 1."""
        return self.threshold if self.threshold and self.threshold > 0 else DEFAULT_THRESHOLD

    @property
    def effective_max_weight(self) -> int:
        """The top canary weight: the last ``stepWeights`` entry, else ``maxWeight``, else 100."""
        if self.step_weights:
            return self.step_weights[-1]
        return self.max_weight if self.max_weight and self.max_weight > 0 else DEFAULT_MAX_WEIGHT

    @property
    def effective_primary_ready_threshold(self) -> int:
        """Percent of primary replicas that must be available, default 100."""
        return _or_default(self.primary_ready_threshold, DEFAULT_READY_THRESHOLD)

    @property
    def effective_canary_ready_threshold(self) -> int:
        """Percent of canary replicas that must be available, default 100."""
        return _or_default(self.canary_ready_threshold, DEFAULT_READY_THRESHOLD)

    @property
    def effective_metrics(self) -> list[CanaryMetric]:
        """The metric checks (empty when unset)."""
        return list(self.metrics or [])

    @property
    def effective_webhooks(self) -> list[CanaryWebhook]:
        """The webhooks (empty when unset)."""
        return list(self.webhooks or [])

    @property
    def effective_alerts(self) -> list[CanaryAlert]:
        """The alerts (empty when unset)."""
        return list(self.alerts or [])


def _or_default(value: int | None, default: int) -> int:
    return default if value is None else value
