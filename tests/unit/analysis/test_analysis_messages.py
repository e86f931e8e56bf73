"""Flagger's wording and Go's number formatting in the messages users grep for."""

from __future__ import annotations

from collections.abc import Mapping

import analysis_fixtures as fx  # type: ignore[import-not-found, unused-ignore]
import pytest

from flagger import simulation
from flagger.analysis import checks, engine, messages


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (99, "99"),
        (99.0, "99"),
        (99.5, "99.5"),
        (0.1, "0.1"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (123456.0, "123456"),
        (1000000.0, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (-2.5, "-2.5"),
        (0, "0"),
        (float("nan"), "NaN"),
    ],
)
def test_go_value_prints_like_fmt_v(value: float, text: str) -> None:
    assert messages.go_value(value) == text


@pytest.mark.parametrize(
    ("millis", "text"), [(2415, "2.415s"), (500, "500ms"), (60000, "1m0s"), (0, "0s")]
)
def test_durations_print_like_go(millis: int, text: str) -> None:
    assert messages.go_duration_ms(millis) == text


def halt_for(metric: Mapping[str, object], outcome: checks.MetricOutcome, **spec: object) -> str:
    """The message of the first analysis tick when ``metric`` answers ``outcome``."""
    canary = fx.make_canary(
        {"interval": "1m", "threshold": 5, "stepWeight": 10, "metrics": [metric]}, **spec
    )
    world = fx.initialized(canary)
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)  # weight 10, no metrics yet
    world.metrics = {str(metric["name"]): [outcome]}
    (message,) = fx.step(world).messages
    return str(message)


def test_success_rate_halts() -> None:
    assert halt_for(fx.SUCCESS_RATE, checks.MetricValue(62.5)) == (
        "Halt podinfo.test advancement success rate 62.50% < 99%"
    )
    above = {"name": "request-success-rate", "thresholdRange": {"max": 99.5}}
    assert halt_for(above, checks.MetricValue(99.999)) == (
        "Halt podinfo.test advancement success rate 100.00% > 99.5%"
    )
    deprecated = {"name": "request-success-rate", "threshold": 99}
    assert halt_for(deprecated, checks.MetricValue(88.2353)) == (
        "Halt podinfo.test advancement success rate 88.24% < 99%"
    )


def test_request_duration_halts_in_whole_milliseconds() -> None:
    assert halt_for(fx.DURATION, checks.MetricValue(2415.9)) == (
        "Halt podinfo.test advancement request duration 2.415s > 500ms"
    )
    low = {"name": "request-duration", "thresholdRange": {"min": 10}}
    assert halt_for(low, checks.MetricValue(3)) == (
        "Halt podinfo.test advancement request duration 3ms < 10ms"
    )
    # 500.7ms truncates to 500ms, which is not above a 500ms maximum
    world = fx.initialized(
        fx.make_canary(
            {"interval": "1m", "threshold": 5, "stepWeight": 10, "metrics": [fx.DURATION]}
        )
    )
    world.metrics = {"request-duration": [checks.MetricValue(500.7)]}
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)
    assert fx.step(world).messages == ["Advance podinfo.test canary weight 20"]


def test_custom_metric_halts() -> None:
    template = {
        "name": "error-rate",
        "templateRef": {"name": "error-rate", "namespace": "istio-system"},
        "thresholdRange": {"max": 1},
    }
    assert halt_for(template, checks.MetricValue(3.14159)) == (
        "Halt podinfo.test advancement error-rate 3.14 > 1"
    )
    inline = {"name": "latency", "query": "histogram_quantile(0.99, ...)", "threshold": 0.5}
    assert halt_for(inline, checks.MetricValue(0.75)) == (
        "Halt podinfo.test advancement latency 0.75 > 0.5"
    )


def test_no_values_found_messages() -> None:
    assert halt_for(fx.SUCCESS_RATE, checks.NoValues("no values found")) == (
        "Halt advancement no values found for istio metric request-success-rate probably "
        "podinfo.test is not receiving traffic: no values found"
    )
    assert halt_for(fx.DURATION, checks.NoValues()) == (
        "Halt advancement no values found for istio metric request-duration probably "
        "podinfo.test is not receiving traffic"
    )
    template = {
        "name": "error-rate",
        "templateRef": {"name": "error-rate"},
        "thresholdRange": {"max": 1},
    }
    assert halt_for(template, checks.NoValues("no values found")) == (
        "Halt advancement no values found for custom metric: error-rate: no values found"
    )
    inline = {"name": "latency", "query": "up", "threshold": 1}
    assert (
        halt_for(inline, checks.NoValues())
        == "Halt advancement no values found for metric: latency"
    )


def test_metric_errors_are_error_events() -> None:
    template = {
        "name": "error-rate",
        "templateRef": {"name": "error-rate"},
        "thresholdRange": {"max": 1},
    }
    assert halt_for(template, checks.QueryFailed("connection refused")) == (
        "Metric query failed for error-rate: connection refused"
    )
    assert halt_for(fx.SUCCESS_RATE, checks.QueryFailed("timeout")) == (
        "Prometheus query failed: timeout"
    )
    missing = checks.TemplateError('Metric template error-rate.test error: "error-rate" not found')
    assert halt_for(template, missing) == missing.message


def test_metrics_are_checked_builtin_first_and_stop_at_the_first_failure() -> None:
    metrics = [
        {"name": "error-rate", "templateRef": {"name": "error-rate"}, "thresholdRange": {"max": 1}},
        fx.SUCCESS_RATE,
        {"name": "latency", "query": "up", "thresholdRange": {"max": 1}},
        fx.DURATION,
    ]
    order = [
        (q.metric.name, q.source)
        for q in checks.metric_checks(
            fx.make_canary(
                {"interval": "1m", "threshold": 1, "stepWeight": 5, "metrics": metrics}
            ).spec.effective_analysis.effective_metrics
        )
    ]
    assert order == [
        ("request-success-rate", "request-success-rate"),
        ("latency", "query"),
        ("request-duration", "request-duration"),
        ("error-rate", "template"),
    ]
    world = fx.initialized(
        fx.make_canary({"interval": "1m", "threshold": 5, "stepWeight": 10, "metrics": metrics})
    )
    fx.new_revision(world)
    fx.step(world)
    fx.step(world)
    world.metrics = {"latency": [checks.MetricValue(5)]}
    world.requests.clear()
    fx.step(world)
    assert [r.metric.name for r in world.requests if isinstance(r, checks.QueryMetric)] == [
        "request-success-rate",
        "latency",
    ]


def test_metrics_provider_name_in_messages() -> None:
    canary = fx.make_canary(provider=None)
    assert engine.metrics_provider(canary, "linkerd") == "linkerd"
    assert engine.metrics_provider(fx.make_canary(provider="nginx"), "linkerd") == "linkerd"
    assert engine.metrics_provider(fx.make_canary(provider="nginx"), "istio") == "nginx"
    service = fx.make_canary(targetRef={"apiVersion": "v1", "kind": "Service", "name": "podinfo"})
    assert engine.metrics_provider(service, "istio") == "istio:service"


def test_passing_values_fall_inside_the_range() -> None:
    assert simulation.passing_value(fx.make_canary().spec.analysis.effective_metrics[0]) == 100.0
