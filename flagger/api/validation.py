"""Checks a manifest needs beyond its schema, as ``flagger validate`` reports them.

:func:`validate` takes a parsed object or a raw document and returns
:class:`~flagger.api.problems.Problem` entries; it never raises. Schema errors (unknown
fields, wrong types, missing fields) come first, then the rules Flagger's CRD expresses with
``oneOf``/patterns and the rules Flagger applies at run time: durations that parse, an
interval of at least 10s (a warning: like Flagger, the daemon clamps it), weights within
0..100, an increasing ``stepWeights`` ladder, ``thresholdRange.min <= max``, metrics that
Flagger can evaluate, distinct session-affinity cookie names. With :class:`KnownNames` (from
the plugin manager) provider names are checked against what is installed.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import re
from collections.abc import Mapping
from typing import Any

from flagger.api import (
    alert_provider,
    analysis,
    canary,
    common,
    comparison,
    documents,
    durations,
    metric_template,
    replica_weights,
    rollback_window,
)
from flagger.api.problems import Problem, error, join_path, note, warning

_CRD_DURATION = re.compile(common.CRD_DURATION_PATTERN)


@dataclasses.dataclass(frozen=True)
class KnownNames:
    """The names installed plugins serve: routers, metric providers, alert providers."""

    routers: frozenset[str]
    metric_providers: frozenset[str]
    alert_providers: frozenset[str]


def validate(
    obj: common.Resource | Mapping[str, Any], known: KnownNames | None = None
) -> list[Problem]:
    """Every problem found in ``obj`` (a parsed object or a raw document); never raises.

    Raw documents outside the flagger.app group yield no problems.
    """
    try:
        return _validate(obj, known)
    except Exception as exc:  # a bug here must not hide the user's manifest behind a traceback
        return [error("", f"internal validation error ({exc!r}); please report it")]


def describe(obj: common.Resource | Mapping[str, Any]) -> str:
    """``Kind namespace/name``, or ``Kind name`` without a namespace."""
    return documents.describe(obj)


def _validate(obj: common.Resource | Mapping[str, Any], known: KnownNames | None) -> list[Problem]:
    if not isinstance(obj, common.Resource):
        if not isinstance(obj, Mapping):
            return [
                error("", f"expected a mapping (a Kubernetes object), got {type(obj).__name__}")
            ]
        header = _check_header(obj)
        if header:
            return header
        if documents.is_flagger_document(obj):
            unstorable = _non_finite_numbers(obj)
            if unstorable:
                return unstorable
        try:
            parsed = documents.parse_object(obj)
        except documents.InvalidObjectError as exc:
            return list(exc.problems)
        if parsed is None:
            return []
        obj = parsed
    found = _check_common(obj)
    if isinstance(obj, canary.Canary):
        found += _check_canary(obj, known)
    elif isinstance(obj, metric_template.MetricTemplate):
        found += _check_metric_template(obj, known)
    elif isinstance(obj, alert_provider.AlertProvider):
        found += _check_alert_provider(obj, known)
    return found


def _check_header(doc: Mapping[str, Any]) -> list[Problem]:
    """apiVersion and kind of a flagger.app document."""
    if not documents.is_flagger_document(doc):
        return []
    api_version = doc.get("apiVersion")
    kind = doc.get("kind")
    kinds = sorted(documents.KINDS)
    listed = ", ".join(kinds)
    if not isinstance(kind, str) or kind not in documents.KINDS:
        hint = _did_you_mean(str(kind), kinds)
        return [error("kind", f"unknown kind {kind!r} in {api_version}{hint}; use one of {listed}")]
    if api_version not in documents.API_VERSIONS:
        return [
            error(
                "apiVersion",
                f"{api_version} is not a version Flagger serves; use {common.API_VERSION}",
            )
        ]
    return []


def _check_common(obj: common.Resource) -> list[Problem]:
    found: list[Problem] = []
    if obj.api_version in common.LEGACY_API_VERSIONS:
        found.append(
            warning(
                "apiVersion",
                f"{obj.api_version} is an old version that Flagger's CRD no longer serves; "
                f"change it to {common.API_VERSION}",
            )
        )
    for key in ("name", "namespace"):
        value = obj.metadata.get(key)
        if value is not None and not isinstance(value, str):
            found.append(error(f"metadata.{key}", f"expected a string, got {value!r}; quote it"))
    if not obj.name:
        found.append(error("metadata.name", "required but missing; add metadata.name"))
    return found


# --- Canary ----------------------------------------------------------------------------------


def _check_canary(obj: canary.Canary, known: KnownNames | None) -> list[Problem]:
    spec = obj.spec
    found: list[Problem] = []
    if known is not None and spec.provider is not None and spec.provider not in known.routers:
        found.append(_unknown_name("spec.provider", spec.provider, "routers", known.routers))
    found += _check_target(spec)
    found += _check_service(spec)
    found += _check_autoscaler(spec)
    if spec.analysis is None and spec.canary_analysis is None:
        found.append(
            error(
                "spec.analysis",
                "required but missing; add an analysis block, e.g. "
                "analysis: {interval: 1m, threshold: 5, stepWeight: 10}",
            )
        )
    elif spec.analysis is None:
        found.append(
            warning("spec.canaryAnalysis", "deprecated; rename canaryAnalysis to analysis")
        )
    elif spec.canary_analysis is not None:
        found.append(
            warning(
                "spec.canaryAnalysis",
                "ignored because analysis is set; remove canaryAnalysis",
            )
        )
    for path, settings in (
        ("spec.analysis", spec.analysis),
        ("spec.canaryAnalysis", spec.canary_analysis if spec.analysis is None else None),
    ):
        if settings is not None:
            found += _check_analysis(path, settings)
            found += _check_provider_features(spec, path, settings)
            found += _check_advancing(spec, path, settings)
    found += _check_deadline(spec)
    return found + _check_rollback_window(obj) + _check_replica_weights(obj)


def _check_deadline(spec: canary.CanarySpec) -> list[Problem]:
    deadline = spec.progress_deadline_seconds
    if deadline is None or deadline > 0:
        return []
    return [
        error(
            "spec.progressDeadlineSeconds",
            f"must be a positive number of seconds, got {deadline}; remove it for the "
            "default of 600 or set e.g. progressDeadlineSeconds: 600",
        )
    ]


def _check_provider_features(
    spec: canary.CanarySpec, path: str, settings: analysis.CanaryAnalysis
) -> list[Problem]:
    """What the ``kubernetes`` provider (blue/green by Service selectors) cannot do: it has
    no router to match requests (A/B testing) or to mirror them."""
    if spec.provider != "kubernetes":
        return []
    found: list[Problem] = []
    if settings.match:
        found.append(
            error(
                f"{path}.match",
                "A/B testing routes requests by header or cookie, which the kubernetes "
                "provider (Service selectors only) cannot do; remove match or use a mesh or "
                "ingress provider such as istio or nginx",
            )
        )
    if settings.mirror:
        found.append(
            error(
                f"{path}.mirror",
                "the kubernetes provider (Service selectors only) cannot mirror traffic; "
                "remove mirror or use a provider that mirrors, such as istio",
            )
        )
    if settings.session_affinity is not None:
        found.append(
            error(
                f"{path}.sessionAffinity",
                "the kubernetes provider (Service selectors only) cannot pin a user to the "
                "canary with a cookie; remove sessionAffinity or use istio or gatewayapi",
            )
        )
    return found


def _check_advancing(
    spec: canary.CanarySpec, path: str, settings: analysis.CanaryAnalysis
) -> list[Problem]:
    """A way of advancing that never advances: ``stepWeight: 0`` keeps the canary at 0% and
    ``iterations`` of 0 or less makes a weighted canary with no step, both analysing forever.
    The kubernetes provider is exempt: it turns any analysis into 10 blue/green iterations."""
    if spec.provider == "kubernetes":
        return []
    found: list[Problem] = []
    if settings.step_weight == 0:
        found.append(
            error(
                f"{path}.stepWeight",
                "0 never moves traffic to the canary, so the analysis never ends; "
                "set e.g. stepWeight: 10",
            )
        )
    if settings.iterations is not None and settings.iterations < 1:
        found.append(
            error(
                f"{path}.iterations",
                f"must be at least 1, got {settings.iterations} (with none the canary gets no "
                "traffic step and the analysis never ends); set e.g. iterations: 10",
            )
        )
    return found


def _check_replica_weights(obj: canary.Canary) -> list[Problem]:
    """Replica-based weights (an extension, see :mod:`flagger.api.replica_weights`)."""
    try:
        key = replica_weights.split_label(obj.metadata)
    except ValueError as exc:
        return [error(replica_weights.PATH, str(exc).removeprefix(f"{replica_weights.PATH}: "))]
    if key is None:
        return []
    spec = obj.spec
    if spec.provider != "kubernetes":
        return [
            error(
                replica_weights.PATH,
                f"replica-based weights are for provider kubernetes (the provider is "
                f"{spec.provider or 'the daemon default'}); set spec.provider: kubernetes or "
                "remove the annotation",
            )
        ]
    if spec.target_ref.kind != "Deployment" or spec.autoscaler_ref is not None:
        return [
            error(
                replica_weights.PATH,
                "replica-based weights need a Deployment target without autoscalerRef (the "
                "daemon sets the replica counts); remove autoscalerRef or the annotation",
            )
        ]
    return [
        note(
            replica_weights.PATH,
            f"replica-based weights (an extension; Flagger (Go) ignores it and runs blue/green): "
            f"the apex Service selects the pods of both workloads by their {key} label, and "
            "each step gives the canary ceil(N * weight / 100) of the N replicas, the primary "
            "the rest (at least one); the Events give the share achieved",
        )
    ]


def _check_rollback_window(obj: canary.Canary) -> list[Problem]:
    """The rollback window annotation (an extension, see :mod:`flagger.api.rollback_window`)."""
    try:
        window = rollback_window.revisions(obj.metadata)
    except ValueError as exc:
        message = str(exc).removeprefix(f"{rollback_window.PATH}: ")
        return [error(rollback_window.PATH, message)]
    if window == 0:
        return []
    return [
        note(
            rollback_window.PATH,
            f"rollback window (an extension; Flagger (Go) ignores it): the last {window} promoted "
            "revisions are kept in status.promotedRevisions, and a target changed back to one "
            "of them is promoted at once, skipping the analysis",
        )
    ]


def _check_target(spec: canary.CanarySpec) -> list[Problem]:
    """Flagger's ``verifyKnativeCanary``: a Knative Service target and the ``knative`` provider
    go together (an unset provider does not pair), and a Knative Service has no autoscalerRef."""
    ref = spec.target_ref
    found: list[Problem] = []
    if ref.is_knative and spec.provider != "knative":
        found.append(
            error(
                "spec.provider",
                f"can't use {spec.provider or ''} provider with Knative Service as target; "
                "set provider: knative",
            )
        )
    elif spec.provider == "knative" and not ref.is_knative:
        found.append(
            error(
                "spec.targetRef",
                f"can't use {ref.api_version}/{ref.kind} as target if provider is set to "
                "knative; target a serving.knative.dev/v1 Service or change the provider",
            )
        )
    if ref.is_knative and spec.autoscaler_ref is not None:
        found.append(
            error(
                "spec.autoscalerRef",
                "can't use autoscaler with Knative Service; remove autoscalerRef",
            )
        )
    return found


def _check_service(spec: canary.CanarySpec) -> list[Problem]:
    svc = spec.service
    if svc is None:
        if spec.target_ref.is_knative:
            return []
        return [
            error(
                "spec.service",
                "required but missing; add service with the container port, "
                "e.g. service: {port: 9898}",
            )
        ]
    found: list[Problem] = []
    if not 1 <= svc.port <= 65535:
        found.append(error("spec.service.port", f"must be a port within 1..65535, got {svc.port}"))
    if isinstance(svc.target_port, int) and not 1 <= svc.target_port <= 65535:
        found.append(
            error(
                "spec.service.targetPort",
                f"must be a port within 1..65535 or a port name, got {svc.target_port}",
            )
        )
    for name, value in (("timeout", svc.timeout), ("backendTimeout", svc.backend_timeout)):
        found += _check_duration(f"spec.service.{name}", value, crd_pattern=False)
    return found


def _check_autoscaler(spec: canary.CanarySpec) -> list[Problem]:
    ref = spec.autoscaler_ref
    replicas = ref.primary_scaler_replicas if ref is not None else None
    if replicas is None or replicas.min_replicas is None or replicas.max_replicas is None:
        return []
    if replicas.min_replicas <= replicas.max_replicas:
        return []
    return [
        error(
            "spec.autoscalerRef.primaryScalerReplicas",
            f"minReplicas ({replicas.min_replicas}) is above maxReplicas "
            f"({replicas.max_replicas}); make minReplicas <= maxReplicas",
        )
    ]


def _check_analysis(path: str, spec: analysis.CanaryAnalysis) -> list[Problem]:
    found = _check_analysis_shape(path, spec)
    interval_problems = _check_duration(f"{path}.interval", spec.interval, crd_pattern=True)
    found += interval_problems
    if spec.interval is not None and not interval_problems:
        seconds = _seconds(spec.interval)
        if seconds is not None and seconds < analysis.MIN_INTERVAL_SECONDS:
            found.append(
                warning(
                    f"{path}.interval",
                    f"{spec.interval} is below Flagger's minimum of 10s; the analysis runs "
                    "every 10s (as in Flagger); set interval: 10s or more to say so",
                )
            )
    for name, value in (
        ("stepWeight", spec.step_weight),
        ("maxWeight", spec.max_weight),
        ("stepWeightPromotion", spec.step_weight_promotion),
        ("mirrorWeight", spec.mirror_weight),
        ("primaryReadyThreshold", spec.primary_ready_threshold),
        ("canaryReadyThreshold", spec.canary_ready_threshold),
    ):
        if value is not None and not 0 <= value <= 100:
            found.append(
                error(f"{path}.{name}", f"must be a percentage within 0..100, got {value}")
            )
    if spec.threshold is not None and spec.threshold < 1:
        found.append(
            error(
                f"{path}.threshold",
                f"must be at least 1 (the failed checks that roll the canary back), got "
                f"{spec.threshold}; set e.g. threshold: 5",
            )
        )
    found += _check_step_weights(f"{path}.stepWeights", spec.step_weights)
    # match without iterations is Flagger's weighted canary of the matching requests (Istio
    # splits them by stepWeight(s)); the shape check above asks for one way of advancing.
    affinity = spec.session_affinity
    if affinity is not None and affinity.cookie_name == affinity.primary_cookie_name:
        found.append(
            error(
                f"{path}.sessionAffinity.primaryCookieName",
                "can't use the same cookie name for both primary and cookie name; please "
                "update them to be different",
            )
        )
    for index, metric in enumerate(spec.metrics or []):
        found += _check_metric(f"{path}.metrics[{index}]", metric)
    for index, hook in enumerate(spec.webhooks or []):
        found += _check_webhook(f"{path}.webhooks[{index}]", hook)
    return found


def _check_analysis_shape(path: str, spec: analysis.CanaryAnalysis) -> list[Problem]:
    """The CRD's ``oneOf``: interval, threshold and exactly one way of advancing."""
    found: list[Problem] = []
    if spec.interval is None:
        found.append(error(f"{path}.interval", "required but missing; add e.g. interval: 1m"))
    if spec.threshold is None:
        found.append(
            error(
                f"{path}.threshold",
                "required but missing (failed checks before rollback); add e.g. threshold: 5",
            )
        )
    modes = [
        name
        for name, value in (
            ("iterations", spec.iterations),
            ("stepWeight", spec.step_weight),
            ("stepWeights", spec.step_weights),
        )
        if value is not None
    ]
    if not modes:
        found.append(
            error(
                path,
                "set how the analysis advances: stepWeight or stepWeights (canary), or "
                "iterations (blue/green, A/B testing); e.g. stepWeight: 10",
            )
        )
    elif len(modes) > 1:
        found.append(
            error(
                path,
                f"{' and '.join(modes)} are mutually exclusive in Flagger's CRD; keep only one "
                "(iterations for blue/green and A/B, stepWeight or stepWeights for canary)",
            )
        )
    return found


def _check_step_weights(path: str, weights: list[int] | None) -> list[Problem]:
    if not weights:
        return []
    in_range = all(1 <= weight <= 100 for weight in weights)
    increasing = all(a < b for a, b in itertools.pairwise(weights))
    if in_range and increasing:
        return []
    return [
        error(
            path,
            f"values must strictly increase within 1..100, got {weights}; "
            "list them in increasing order, e.g. [5, 10, 20]",
        )
    ]


def _check_metric(path: str, metric: analysis.CanaryMetric) -> list[Problem]:
    found = _check_duration(f"{path}.interval", metric.interval, crd_pattern=True)
    if not metric.is_builtin and metric.template_ref is None and not metric.query:
        builtins = ", ".join(analysis.BUILTIN_METRICS)
        found.append(
            error(
                path,
                f"metric {metric.name!r} is not built in and has no templateRef or query; "
                "add templateRef: {name: <MetricTemplate>} or use a built-in metric "
                f"({builtins})",
            )
        )
    limits = metric.threshold_range
    low, high = (limits.min, limits.max) if limits is not None else (None, None)
    if low is not None and high is not None and low > high:
        found.append(
            error(
                f"{path}.thresholdRange",
                f"min ({low}) is above max ({high}); make min <= max",
            )
        )
    if metric.threshold is not None:
        found.append(
            warning(
                f"{path}.threshold",
                "deprecated; use thresholdRange with min (e.g. for a success rate) "
                "or max (e.g. for a latency)",
            )
        )
    return found


def _check_webhook(path: str, hook: analysis.CanaryWebhook) -> list[Problem]:
    found = _check_duration(f"{path}.timeout", hook.timeout, crd_pattern=True)
    if not re.match(r"^https?://[^/\s]+", hook.url):
        found.append(
            error(
                f"{path}.url",
                f"{hook.url!r} is not an absolute http(s) URL; write it like "
                "http://flagger-loadtester.test/",
            )
        )
    return found


# --- MetricTemplate and AlertProvider --------------------------------------------------------


def _check_metric_template(
    obj: metric_template.MetricTemplate, known: KnownNames | None
) -> list[Problem]:
    found: list[Problem] = []
    kind = obj.spec.provider.type
    if known is not None and kind not in known.metric_providers:
        found.append(
            _unknown_name("spec.provider.type", kind, "metric providers", known.metric_providers)
        )
    if not obj.spec.query.strip():
        found.append(error("spec.query", "is empty; write the query to run"))
    return found + _check_comparison(obj)


def _check_comparison(obj: metric_template.MetricTemplate) -> list[Problem]:
    """The baseline comparison annotations (an extension, see :mod:`flagger.api.comparison`)."""
    try:
        settings = comparison.from_annotations(obj.metadata.get("annotations"))
    except comparison.ComparisonError as exc:
        return [error(exc.path, exc.text)]
    if settings is None:
        return []
    found = [
        note(
            f'metadata.annotations["{comparison.COMPARISON}"]',
            "baseline comparison (an extension; Flagger (Go) ignores it and runs an instant "
            "threshold check): the query runs as a range query over each metric's interval, "
            "once with {{ target }} naming the canary and once naming <target>-primary; the "
            "check fails when a one-sided Mann-Whitney U test finds the canary significantly "
            f"worse ({settings.describe()}); threshold and thresholdRange are not used",
        )
    ]
    if "target" not in obj.spec.query:
        found.append(
            warning(
                "spec.query",
                "a baseline comparison needs {{ target }} in the query, or the canary and the "
                "primary get the same series; select the workload with it, e.g. "
                'pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"',
            )
        )
    return found


def _check_alert_provider(
    obj: alert_provider.AlertProvider, known: KnownNames | None
) -> list[Problem]:
    kind = obj.spec.type
    if known is not None and kind not in known.alert_providers:
        return [_unknown_name("spec.type", kind, "alert providers", known.alert_providers)]
    return []


# --- helpers ---------------------------------------------------------------------------------


_YAML_NON_FINITE = {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}


def _non_finite_numbers(doc: Mapping[str, Any]) -> list[Problem]:
    """``.inf``, ``-.inf`` and ``.nan`` anywhere in ``doc``: JSON, hence Kubernetes, has none."""
    found: list[Problem] = []
    stack: list[tuple[list[str | int], Any]] = [([], doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            spelled = _YAML_NON_FINITE[str(value)]
            found.append(
                error(
                    join_path(path),
                    f"{spelled} is not a number Kubernetes can store (JSON has no infinity or "
                    "NaN); write a finite number",
                )
            )
        elif isinstance(value, Mapping):
            stack.extend(([*path, str(k)], v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(([*path, i], v) for i, v in enumerate(value))
    return sorted(found, key=lambda p: p.path)


def _check_duration(path: str, value: str | None, *, crd_pattern: bool) -> list[Problem]:
    """The value parses as a Go duration and, where the CRD says so, matches its pattern."""
    if value is None:
        return []
    try:
        seconds = durations.parse_duration(value)
    except ValueError as exc:
        return [error(path, f"{exc}")]
    if seconds < 0:
        return [error(path, f"{value} is negative; use a positive duration such as 30s")]
    if crd_pattern and not _CRD_DURATION.match(value):
        return [
            error(
                path,
                f"{value!r} is rejected by Flagger's CRD, which expects a whole number of "
                f"seconds or minutes first (pattern {common.CRD_DURATION_PATTERN}); "
                f"write it as {_crd_duration(seconds)}",
            )
        ]
    return []


def _crd_duration(seconds: float) -> str:
    """A CRD-friendly spelling of a duration: whole minutes, else whole seconds."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{max(round(seconds), 1)}s"


def _seconds(value: str) -> float | None:
    try:
        return durations.parse_duration(value)
    except ValueError:
        return None


def _unknown_name(path: str, name: str, what: str, installed: frozenset[str]) -> Problem:
    names = sorted(installed)
    listed = ", ".join(names) if names else "none"
    return error(
        path,
        f"unknown {what[:-1] if what.endswith('s') else what} {name!r}"
        f"{_did_you_mean(name, names)}; installed {what}: {listed} "
        "(install the plugin that provides it, or pick an installed one)",
    )


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
