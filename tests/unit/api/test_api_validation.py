"""Semantic checks: each has a failing case (naming the field and the fix) and a passing one."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable
from typing import Any

import api_strategies  # type: ignore[import-not-found, unused-ignore]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flagger.api import alert_provider, canary, documents, metric_template, validation
from flagger.api.problems import Problem

KNOWN = validation.KnownNames(
    routers=frozenset({"istio", "linkerd", "kubernetes", "gatewayapi:v1", "knative"}),
    metric_providers=frozenset({"prometheus", "datadog"}),
    alert_providers=frozenset({"slack", "msteams"}),
)


def canary_doc(**spec: Any) -> dict[str, Any]:
    """A valid Canary, with ``spec`` keys replaced (``None`` removes a key)."""
    base: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50},
    }
    for key, value in spec.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": base,
    }


def analysis_doc(**fields: Any) -> dict[str, Any]:
    """A Canary whose analysis has ``fields`` replaced (``None`` removes a key)."""
    analysis: dict[str, Any] = {"interval": "1m", "threshold": 5, "stepWeight": 10}
    for key, value in fields.items():
        if value is None:
            analysis.pop(key, None)
        else:
            analysis[key] = value
    return canary_doc(analysis=analysis)


def metric_template_doc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "latency", "namespace": "test"},
        "spec": {"provider": {"type": "prometheus", "address": "http://prom:9090"}, "query": "up"}
        | spec,
    }


def alert_provider_doc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": "on-call"},
        "spec": {"type": "slack", "address": "https://hooks.slack.com/x"} | spec,
    }


def errors(doc: Any, known: validation.KnownNames | None = KNOWN) -> list[Problem]:
    return [p for p in validation.validate(doc, known) if p.is_error]


def the_error(doc: Any, path: str, known: validation.KnownNames | None = KNOWN) -> str:
    """The single error of ``doc``; it must be at ``path`` and its message must start with it."""
    found = errors(doc, known)
    assert [p.path for p in found] == [path], [p.message for p in found]
    message = found[0].message
    assert message.startswith(f"{path}: ")
    return message


# Each case: (document, path, words the message must contain: what is wrong and the fix).
FAILING: dict[str, tuple[dict[str, Any], str, tuple[str, ...]]] = {
    "interval does not parse": (
        analysis_doc(interval="1x"),
        "spec.analysis.interval",
        ('unknown unit "x"', 'e.g. "30s"'),
    ),
    "interval outside the CRD pattern": (
        analysis_doc(interval="1h"),
        "spec.analysis.interval",
        ("rejected by Flagger's CRD", "write it as 60m"),
    ),
    "interval missing": (
        analysis_doc(interval=None),
        "spec.analysis.interval",
        ("required", "interval: 1m"),
    ),
    "threshold missing": (
        analysis_doc(threshold=None),
        "spec.analysis.threshold",
        ("required", "threshold: 5"),
    ),
    "no way to advance": (
        analysis_doc(stepWeight=None),
        "spec.analysis",
        ("stepWeight or stepWeights", "iterations", "e.g. stepWeight: 10"),
    ),
    "two ways to advance": (
        analysis_doc(iterations=10),
        "spec.analysis",
        ("iterations and stepWeight are mutually exclusive", "keep only one"),
    ),
    "stepWeight above 100": (
        analysis_doc(stepWeight=120),
        "spec.analysis.stepWeight",
        ("within 0..100", "got 120"),
    ),
    "maxWeight negative": (
        analysis_doc(maxWeight=-5),
        "spec.analysis.maxWeight",
        ("within 0..100", "got -5"),
    ),
    "stepWeightPromotion above 100": (
        analysis_doc(stepWeightPromotion=101),
        "spec.analysis.stepWeightPromotion",
        ("within 0..100",),
    ),
    "mirrorWeight above 100": (
        analysis_doc(mirrorWeight=150),
        "spec.analysis.mirrorWeight",
        ("within 0..100",),
    ),
    "ready threshold above 100": (
        analysis_doc(primaryReadyThreshold=200),
        "spec.analysis.primaryReadyThreshold",
        ("within 0..100",),
    ),
    "stepWeights decreasing": (
        analysis_doc(stepWeight=None, stepWeights=[10, 5]),
        "spec.analysis.stepWeights",
        ("strictly increase within 1..100, got [10, 5]", "increasing order, e.g. [5, 10, 20]"),
    ),
    "stepWeights out of range": (
        analysis_doc(stepWeight=None, stepWeights=[0, 50, 120]),
        "spec.analysis.stepWeights",
        ("within 1..100",),
    ),
    "thresholdRange inverted": (
        analysis_doc(
            metrics=[{"name": "request-success-rate", "thresholdRange": {"min": 99, "max": 1}}]
        ),
        "spec.analysis.metrics[0].thresholdRange",
        ("min (99) is above max (1)", "make min <= max"),
    ),
    "custom metric without template or query": (
        analysis_doc(metrics=[{"name": "error-rate", "thresholdRange": {"max": 1}}]),
        "spec.analysis.metrics[0]",
        ("'error-rate'", "templateRef", "request-success-rate, request-duration"),
    ),
    "metric interval does not parse": (
        analysis_doc(metrics=[{"name": "request-duration", "interval": "soon"}]),
        "spec.analysis.metrics[0].interval",
        ("expected a number", 'e.g. "30s"'),
    ),
    "webhook timeout does not parse": (
        analysis_doc(webhooks=[{"name": "load", "url": "http://lt/", "timeout": "10"}]),
        "spec.analysis.webhooks[0].timeout",
        ("missing unit",),
    ),
    "webhook url not absolute": (
        analysis_doc(webhooks=[{"name": "load", "url": "flagger-loadtester/"}]),
        "spec.analysis.webhooks[0].url",
        ("not an absolute http(s) URL", "http://flagger-loadtester.test/"),
    ),
    "same cookie name for primary and canary": (
        analysis_doc(sessionAffinity={"cookieName": "flagger", "primaryCookieName": "flagger"}),
        "spec.analysis.sessionAffinity.primaryCookieName",
        ("can't use the same cookie name", "update them to be different"),
    ),
    "service timeout does not parse": (
        canary_doc(service={"port": 80, "timeout": "30"}),
        "spec.service.timeout",
        ("missing unit",),
    ),
    "service port out of range": (
        canary_doc(service={"port": 70000}),
        "spec.service.port",
        ("within 1..65535",),
    ),
    "service missing": (
        canary_doc(service=None),
        "spec.service",
        ("required", "service: {port: 9898}"),
    ),
    "analysis missing": (
        canary_doc(analysis=None),
        "spec.analysis",
        ("required", "analysis: {interval: 1m"),
    ),
    "scaler bounds inverted": (
        canary_doc(
            autoscalerRef={
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "name": "podinfo",
                "primaryScalerReplicas": {"minReplicas": 5, "maxReplicas": 2},
            }
        ),
        "spec.autoscalerRef.primaryScalerReplicas",
        ("minReplicas (5) is above maxReplicas (2)", "minReplicas <= maxReplicas"),
    ),
    "knative target with another provider": (
        canary_doc(
            provider="istio",
            targetRef={"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "p"},
        ),
        "spec.provider",
        ("can't use istio provider with Knative Service as target", "set provider: knative"),
    ),
    "knative target without a provider": (
        canary_doc(
            targetRef={"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "p"}
        ),
        "spec.provider",
        ("can't use  provider with Knative Service as target", "set provider: knative"),
    ),
    "knative provider with a Deployment": (
        canary_doc(provider="knative"),
        "spec.targetRef",
        ("can't use apps/v1/Deployment as target if provider is set to knative",),
    ),
    "knative target with an autoscaler": (
        canary_doc(
            provider="knative",
            service=None,
            targetRef={"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "p"},
            autoscalerRef={
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "name": "p",
            },
        ),
        "spec.autoscalerRef",
        ("can't use autoscaler with Knative Service", "remove autoscalerRef"),
    ),
    "unknown router": (
        canary_doc(provider="istoi"),
        "spec.provider",
        (
            "unknown router 'istoi'",
            "did you mean 'istio'",
            "gatewayapi:v1, istio, knative, kubernetes, linkerd",
        ),
    ),
    "missing name": (
        {**canary_doc(), "metadata": {"namespace": "test"}},
        "metadata.name",
        ("add metadata.name",),
    ),
    "name that is not a string": (
        {**canary_doc(), "metadata": {"name": "podinfo", "namespace": 7}},
        "metadata.namespace",
        ("expected a string", "quote it"),
    ),
    "unknown metric provider": (
        metric_template_doc(provider={"type": "datadgo"}),
        "spec.provider.type",
        ("unknown metric provider 'datadgo'", "did you mean 'datadog'", "datadog, prometheus"),
    ),
    "empty query": (
        metric_template_doc(query="  "),
        "spec.query",
        ("empty", "write the query"),
    ),
    "unknown alert provider": (
        alert_provider_doc(type="teams"),
        "spec.type",
        ("unknown alert provider 'teams'", "msteams, slack"),
    ),
    # Schema errors, converted from pydantic.
    "typo in a field name": (
        analysis_doc(stepWeigth=5),
        "spec.analysis.stepWeigth",
        ("unknown field", "did you mean stepWeight?"),
    ),
    "quoted number": (
        analysis_doc(threshold="5"),
        "spec.analysis.threshold",
        ("expected a whole number", "without quotes: 5"),
    ),
    "fractional integer": (
        analysis_doc(stepWeight=2.5),
        "spec.analysis.stepWeight",
        ("expected a whole number", "e.g. 2"),
    ),
    "string boolean": (
        canary_doc(skipAnalysis="true"),
        "spec.skipAnalysis",
        ("expected true or false", "without quotes"),
    ),
    "enum typo": (
        analysis_doc(webhooks=[{"name": "smoke", "url": "http://lt/", "type": "pre-rolout"}]),
        "spec.analysis.webhooks[0].type",
        ("must be one of", "did you mean 'pre-rollout'?"),
    ),
    "unsupported target kind": (
        canary_doc(targetRef={"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "db"}),
        "spec.targetRef.kind",
        ("'DaemonSet', 'Deployment', 'Service' or 'StatefulSet'", "'ReplicaSet'"),
    ),
    "missing required field": (
        canary_doc(targetRef={"apiVersion": "apps/v1", "kind": "Deployment"}),
        "spec.targetRef.name",
        ("required", "add name"),
    ),
    "list expected": (
        analysis_doc(metrics={"name": "request-success-rate"}),
        "spec.analysis.metrics",
        ("expected a list", "lines starting with -"),
    ),
    "mapping expected": (
        canary_doc(service=9898),
        "spec.service",
        ("expected a mapping", "key: value"),
    ),
    "istio string match with two kinds": (
        canary_doc(service={"port": 80, "match": [{"uri": {"prefix": "/", "exact": "/a"}}]}),
        "spec.service.match[0].uri",
        ("set only one of exact, prefix or regex", "keep one"),
    ),
    "header key with dots is quoted in the path": (
        canary_doc(service={"port": 80, "match": [{"headers": {"x.io/a": {"exact": 1}}}]}),
        'spec.service.match[0].headers["x.io/a"].exact',
        ("expected a string", 'quote it, e.g. "1"'),
    ),
    "gateway ref port out of range": (
        canary_doc(service={"port": 80, "gatewayRefs": [{"name": "gw", "port": 0}]}),
        "spec.service.gatewayRefs[0].port",
        ("must be at least 1",),
    ),
    "mirror to a Service without port": (
        canary_doc(service={"port": 80, "mirror": [{"backendRef": {"name": "shadow"}}]}),
        "spec.service.mirror[0].backendRef",
        ("needs a port", "add port"),
    ),
    "alert provider with both address sources": (
        alert_provider_doc(secretRef={"name": "slack-url"}),
        "spec",
        ("only one of address or secretRef", "keep one"),
    ),
    "alert provider without address": (
        {**alert_provider_doc(), "spec": {"type": "slack"}},
        "spec",
        ("set one of address or secretRef",),
    ),
    "status phase typo": (
        {**canary_doc(), "status": {"phase": "Progresing"}},
        "status.phase",
        ("must be one of", "did you mean 'Progressing'?"),
    ),
    "target port of a wrong type": (
        canary_doc(service={"port": 80, "targetPort": True}),
        "spec.service.targetPort",
        ("port number or a port name", "e.g. 8080 or http"),
    ),
    "wrong flagger kind": (
        {"apiVersion": "flagger.app/v1beta1", "kind": "Canry", "metadata": {"name": "x"}},
        "kind",
        ("unknown kind 'Canry'", "did you mean 'Canary'", "AlertProvider, Canary, MetricTemplate"),
    ),
    "unserved flagger version": (
        {**canary_doc(), "apiVersion": "flagger.app/v2"},
        "apiVersion",
        ("flagger.app/v2", "use flagger.app/v1beta1"),
    ),
}


@pytest.mark.parametrize("case", sorted(FAILING))
def test_failing_case_names_the_field_and_the_fix(case: str) -> None:
    doc, path, words = FAILING[case]
    message = the_error(doc, path)
    for word in words:
        assert word in message


# Each passing case is the failing case corrected as its message suggests.
PASSING: dict[str, dict[str, Any]] = {
    "interval parses and is above 10s": analysis_doc(interval="30s"),
    "interval in minutes": analysis_doc(interval="60m"),
    "interval of exactly 10s": analysis_doc(interval="10s"),
    "blue/green with iterations": analysis_doc(stepWeight=None, iterations=10),
    "weights on the edges": analysis_doc(stepWeight=100, maxWeight=0, stepWeightPromotion=100),
    "stepWeights increasing": analysis_doc(stepWeight=None, stepWeights=[1, 5, 10, 20, 100]),
    "thresholdRange ordered": analysis_doc(
        metrics=[{"name": "request-success-rate", "thresholdRange": {"min": 1, "max": 99}}]
    ),
    "thresholdRange equal bounds": analysis_doc(
        metrics=[{"name": "request-success-rate", "thresholdRange": {"min": 5, "max": 5}}]
    ),
    "custom metric with templateRef": analysis_doc(
        metrics=[{"name": "error-rate", "templateRef": {"name": "error-rate"}}]
    ),
    "custom metric with inline query": analysis_doc(
        metrics=[{"name": "error-rate", "query": "sum(rate(errors[1m]))"}]
    ),
    "metric interval and webhook timeout": analysis_doc(
        metrics=[{"name": "request-duration", "interval": "30s"}],
        webhooks=[{"name": "load", "url": "https://lt.example/", "timeout": "15s"}],
    ),
    # Flagger 1.44: Istio splits the matching requests by weight (no iterations needed)
    "match with stepWeight": analysis_doc(match=[{"headers": {"x-canary": {"exact": "insider"}}}]),
    "match with stepWeights": analysis_doc(
        stepWeight=None, stepWeights=[5, 10, 50], match=[{"headers": {"x-user": {"exact": "a"}}}]
    ),
    "A/B match with iterations": analysis_doc(
        stepWeight=None, iterations=10, match=[{"headers": {"x-canary": {"exact": "insider"}}}]
    ),
    "service timeout parses": canary_doc(service={"port": 80, "timeout": "1m30s"}),
    "knative target with knative provider": canary_doc(
        provider="knative",
        service=None,
        targetRef={"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "p"},
    ),
    "known router": canary_doc(provider="gatewayapi:v1"),
    "scaler bounds ordered": canary_doc(
        autoscalerRef={
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "name": "podinfo",
            "primaryScalerReplicas": {"minReplicas": 2, "maxReplicas": 2},
        }
    ),
    "known metric provider": metric_template_doc(provider={"type": "datadog"}),
    "known alert provider with a secret": {
        **alert_provider_doc(),
        "spec": {"type": "msteams", "secretRef": {"name": "teams-url"}},
    },
    "mirror to a Service with port": canary_doc(
        service={"port": 80, "mirror": [{"backendRef": {"name": "shadow", "port": 80}}]}
    ),
    "mirror to a non-Service backend": canary_doc(
        service={
            "port": 80,
            "mirror": [{"backendRef": {"group": "example.io", "kind": "Sink", "name": "s"}}],
        }
    ),
    "target port by name": canary_doc(service={"port": 80, "targetPort": "http"}),
    "status": {**canary_doc(), "status": {"phase": "Progressing", "canaryWeight": 10}},
}


@pytest.mark.parametrize("case", sorted(PASSING))
def test_passing_case_has_no_problems(case: str) -> None:
    assert validation.validate(PASSING[case], KNOWN) == []


def test_every_failing_case_parses_or_fails_as_documented() -> None:
    """Parsed objects and raw documents give the same problems."""
    for case, (doc, _path, _words) in FAILING.items():
        try:
            parsed = documents.parse_object(copy.deepcopy(doc))
        except documents.InvalidObjectError as exc:
            assert exc.problems == validation.validate(doc, KNOWN), case
            continue
        if parsed is not None:
            assert validation.validate(parsed, KNOWN) == validation.validate(doc, KNOWN), case


def test_provider_checks_are_skipped_without_known_names() -> None:
    assert errors(canary_doc(provider="made-up"), known=None) == []
    assert errors(metric_template_doc(provider={"type": "made-up"}), known=None) == []
    assert errors(alert_provider_doc(type="made-up"), known=None) == []


def test_unknown_router_message_with_nothing_installed() -> None:
    none_installed = validation.KnownNames(frozenset(), frozenset(), frozenset())
    message = the_error(canary_doc(provider="istio"), "spec.provider", known=none_installed)
    assert "installed routers: none" in message


WARNINGS: dict[str, tuple[dict[str, Any], str, tuple[str, ...]]] = {
    "deprecated canaryAnalysis": (
        canary_doc(
            analysis=None, canaryAnalysis={"interval": "1m", "threshold": 1, "iterations": 5}
        ),
        "spec.canaryAnalysis",
        ("deprecated", "rename canaryAnalysis to analysis"),
    ),
    "canaryAnalysis beside analysis": (
        canary_doc(canaryAnalysis={"interval": "1m", "threshold": 1, "iterations": 5}),
        "spec.canaryAnalysis",
        ("ignored", "remove canaryAnalysis"),
    ),
    "deprecated metric threshold": (
        analysis_doc(metrics=[{"name": "request-success-rate", "threshold": 99}]),
        "spec.analysis.metrics[0].threshold",
        ("deprecated", "thresholdRange"),
    ),
    "interval below 10s is clamped": (
        analysis_doc(interval="5s"),
        "spec.analysis.interval",
        ("below Flagger's minimum of 10s", "runs every 10s", "interval: 10s"),
    ),
    "legacy apiVersion": (
        {**metric_template_doc(), "apiVersion": "flagger.app/v1alpha1"},
        "apiVersion",
        ("old version", "change it to flagger.app/v1beta1"),
    ),
}


@pytest.mark.parametrize("case", sorted(WARNINGS))
def test_warnings_name_the_field_and_the_fix(case: str) -> None:
    doc, path, words = WARNINGS[case]
    found = validation.validate(doc, KNOWN)
    assert [(p.path, p.severity) for p in found] == [(path, "warning")]
    for word in words:
        assert word in found[0].message


def test_deprecated_canary_analysis_is_checked_too() -> None:
    doc = canary_doc(
        analysis=None, canaryAnalysis={"interval": "5x", "threshold": 1, "iterations": 5}
    )
    assert [p.path for p in errors(doc)] == ["spec.canaryAnalysis.interval"]


def test_other_kinds_are_not_flagger_problems() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}
    assert validation.validate(deployment, KNOWN) == []


def test_non_mapping_is_a_problem_not_an_exception() -> None:
    [problem] = validation.validate(["a", "list"])  # type: ignore[arg-type]
    assert "expected a mapping" in problem.message


def test_upstream_manifests_have_no_errors(upstream_file: pathlib.Path) -> None:
    upstream_names = validation.KnownNames(
        routers=frozenset(canary.PROVIDERS),
        metric_providers=frozenset(metric_template.PROVIDER_TYPES),
        alert_providers=frozenset(alert_provider.PROVIDER_TYPES),
    )
    for doc, _line in documents.load_documents(upstream_file.read_text(), str(upstream_file)):
        assert errors(doc, upstream_names) == []


def test_describe() -> None:
    assert validation.describe(canary_doc()) == "Canary test/podinfo"
    assert validation.describe(alert_provider_doc()) == "AlertProvider on-call"
    parsed = documents.parse_object(canary_doc())
    assert parsed is not None
    assert validation.describe(parsed) == "Canary test/podinfo"
    assert validation.describe({"kind": "Canary"}) == "Canary <unnamed>"


# --- validation never raises -----------------------------------------------------------------

_PATHS = st.lists(
    st.sampled_from(["spec", "analysis", "service", "metrics", 0, "status"]), max_size=4
)


def _replace(doc: Any, path: list[Any], value: Any) -> Any:
    """Put ``value`` somewhere along ``path`` in ``doc`` (as deep as the path goes)."""
    if not path:
        return value
    key, *rest = path
    if isinstance(doc, dict):
        target = key if key in doc or not doc else next(iter(doc))
        return {**doc, target: _replace(doc[target], rest, value)} if doc else {key: value}
    if isinstance(doc, list) and doc:
        return [_replace(doc[0], rest, value), *doc[1:]]
    return value


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(api_strategies.CANARIES, _PATHS, api_strategies.JSON_VALUES)
def test_validate_never_raises_on_damaged_documents(
    doc: dict[str, Any], path: list[Any], junk: Any
) -> None:
    damaged = _replace(doc, path, junk)
    found = validation.validate(damaged, KNOWN)
    assert all(isinstance(p, Problem) and p.message.startswith(p.path or "document") for p in found)
    assert not any("internal validation error" in p.message for p in found)


@settings(max_examples=200, deadline=None)
@given(api_strategies.JSON_VALUES)
def test_validate_never_raises_on_arbitrary_specs(junk: Any) -> None:
    for doc in (canary_doc(), metric_template_doc(), alert_provider_doc()):
        found = validation.validate({**doc, "spec": junk}, KNOWN)
        assert all(isinstance(p, Problem) for p in found)
        assert not any("internal validation error" in p.message for p in found)


def test_internal_failures_become_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: Any) -> Callable[..., Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(validation, "_check_canary", explode)
    [problem] = validation.validate(canary_doc())
    assert "internal validation error" in problem.message
