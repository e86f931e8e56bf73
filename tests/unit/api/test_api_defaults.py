"""``effective_<field>`` accessors return Flagger's defaults when fields are unset."""

from __future__ import annotations

from typing import Any

import pytest

from flagger.api import alert_provider, analysis, canary, service, status


def _analysis(**fields: Any) -> analysis.CanaryAnalysis:
    return analysis.CanaryAnalysis.model_validate(fields)


def _spec(**fields: Any) -> canary.CanarySpec:
    doc = {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}}
    return canary.CanarySpec.model_validate(doc | fields)


def test_analysis_defaults() -> None:
    empty = _analysis()
    assert empty.interval_seconds == 60.0
    assert empty.effective_threshold == 1
    assert empty.effective_max_weight == 100
    assert empty.effective_primary_ready_threshold == 100
    assert empty.effective_canary_ready_threshold == 100
    assert empty.effective_metrics == []
    assert empty.effective_webhooks == []
    assert empty.effective_alerts == []
    assert empty.to_dict() == {}, "defaults must not show up in dumps"


def test_analysis_values_win_over_defaults() -> None:
    set_ = _analysis(
        interval="30s",
        threshold=5,
        maxWeight=50,
        primaryReadyThreshold=80,
        canaryReadyThreshold=0,
    )
    assert set_.interval_seconds == 30.0
    assert set_.effective_threshold == 5
    assert set_.effective_max_weight == 50
    assert set_.effective_primary_ready_threshold == 80
    assert set_.effective_canary_ready_threshold == 0


@pytest.mark.parametrize(
    ("interval", "seconds"), [("5s", 10.0), ("1m30s", 90.0), ("bogus", 60.0), ("", 60.0)]
)
def test_interval_seconds_follows_flagger(interval: str, seconds: float) -> None:
    assert _analysis(interval=interval).interval_seconds == seconds


def test_threshold_below_one_means_one() -> None:
    assert _analysis(threshold=0).effective_threshold == 1
    assert _analysis(threshold=-3).effective_threshold == 1


def test_step_weights_cap_max_weight() -> None:
    assert _analysis(stepWeights=[5, 10, 30], maxWeight=80).effective_max_weight == 30
    assert _analysis(maxWeight=0).effective_max_weight == 100


_MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]


@pytest.mark.parametrize(
    ("spec", "strategy"),
    [
        ({}, "canary"),
        ({"analysis": {}}, "canary"),
        ({"analysis": {"stepWeight": 10}}, "canary"),
        ({"analysis": {"stepWeight": 10, "maxWeight": 30}}, "canary"),
        ({"analysis": {"stepWeights": [10, 20]}}, "canary"),
        ({"analysis": {"stepWeight": 10, "mirror": True}}, "canary"),
        ({"analysis": {"iterations": 10}}, "blue-green"),
        ({"analysis": {"iterations": 10, "mirror": True}}, "blue-green"),
        # Flagger 1.44 counts iterations first: step weights beside them do not make a canary
        ({"analysis": {"iterations": 10, "stepWeight": 5}}, "blue-green"),
        ({"analysis": {"iterations": 10, "match": _MATCH}}, "ab-testing"),
        # match without iterations is not A/B testing
        ({"analysis": {"stepWeight": 10, "match": _MATCH}}, "canary"),
        ({"analysis": {"iterations": 0, "match": _MATCH}}, "canary"),
        # the deprecated canaryAnalysis counts when analysis is unset
        ({"canaryAnalysis": {"iterations": 3}}, "blue-green"),
        # the kubernetes provider runs blue/green in memory; the label reads the spec
        ({"provider": "kubernetes", "analysis": {"stepWeight": 10}}, "canary"),
        ({"provider": "kubernetes", "analysis": {"iterations": 3}}, "blue-green"),
    ],
)
def test_strategy_for(spec: dict[str, Any], strategy: str) -> None:
    assert canary.strategy_for(_spec(**spec)) == strategy


def test_metric_defaults() -> None:
    metric = analysis.CanaryMetric(name="request-success-rate")
    assert metric.effective_interval == "1m"
    assert metric.interval_seconds == 60.0
    assert metric.is_builtin
    custom = analysis.CanaryMetric(name="errors", interval="30s")
    assert custom.effective_interval == "30s"
    assert custom.interval_seconds == 30.0
    assert not custom.is_builtin


def test_webhook_defaults() -> None:
    hook = analysis.CanaryWebhook(name="load", url="http://lt/")
    assert hook.effective_timeout == "10s"
    assert hook.timeout_seconds == 10.0
    assert hook.effective_type == "rollout"
    assert hook.effective_retries == 0
    assert analysis.CanaryWebhook(name="x", url="http://lt/", type="").effective_type == "rollout"
    timed = analysis.CanaryWebhook(name="x", url="http://lt/", timeout="1m", type="pre-rollout")
    assert (timed.timeout_seconds, timed.effective_type) == (60.0, "pre-rollout")


def test_alert_and_session_affinity_defaults() -> None:
    alert = analysis.CanaryAlert.model_validate({"name": "a", "providerRef": {"name": "slack"}})
    assert alert.effective_severity == "info"
    assert alert.provider_ref.effective_namespace("test") == "test"
    affinity = analysis.SessionAffinity(cookie_name="flagger-cookie")
    assert affinity.effective_max_age == 86400
    assert analysis.SessionAffinity(cookie_name="c", max_age=60).effective_max_age == 60


def test_service_defaults() -> None:
    svc = service.CanaryService(port=9898)
    assert svc.effective_port_name == "http"
    assert svc.effective_gateways == ["mesh"]
    assert svc.effective_target_port == 9898
    named = service.CanaryService(port=80, port_name="grpc", target_port="web", gateways=["gw"])
    assert named.effective_port_name == "grpc"
    assert named.effective_target_port == "web"
    assert named.effective_gateways == ["gw"]


def test_spec_defaults() -> None:
    spec = _spec()
    assert spec.effective_progress_deadline_seconds == 600
    assert spec.effective_service_name == "podinfo"
    assert spec.effective_analysis is None
    assert spec.effective_skip_analysis, "a missing analysis promotes without analysis"
    set_ = _spec(
        progressDeadlineSeconds=60,
        service={"port": 80, "name": "web"},
        analysis={"interval": "1m"},
        canaryAnalysis={"interval": "2m"},
    )
    assert set_.effective_progress_deadline_seconds == 60
    assert set_.effective_service_name == "web"
    assert set_.effective_analysis is set_.analysis, "analysis wins over canaryAnalysis"
    assert not set_.effective_skip_analysis
    assert _spec(canaryAnalysis={"interval": "2m"}).effective_analysis is not None
    assert _spec(analysis={}, skipAnalysis=True).effective_skip_analysis


def test_alert_provider_defaults() -> None:
    spec = alert_provider.AlertProviderSpec(type="slack", address="https://hooks.slack.com/x")
    assert spec.effective_channel == "general"
    assert spec.effective_username == "flagger"
    named = alert_provider.AlertProviderSpec(
        type="slack", address="https://x", channel="ops", username="bot"
    )
    assert (named.effective_channel, named.effective_username) == ("ops", "bot")


def test_status_phase() -> None:
    assert status.CanaryStatus().effective_phase is status.CanaryPhase.NEW
    parsed = status.CanaryStatus.model_validate({"phase": "Succeeded"})
    assert parsed.phase is status.CanaryPhase.SUCCEEDED
    assert parsed.to_dict() == {"phase": "Succeeded"}
    assert [p.value for p in status.CanaryPhase][1:] == [
        "Initializing",
        "Initialized",
        "Waiting",
        "Progressing",
        "WaitingPromotion",
        "Promoting",
        "Finalising",
        "Succeeded",
        "Failed",
        "Terminating",
        "Terminated",
    ]


def test_resource_helpers() -> None:
    obj = canary.Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "p"}},
        }
    )
    assert (obj.name, obj.namespace, obj.describe()) == ("podinfo", "test", "Canary test/podinfo")
    nameless = obj.model_copy(update={"metadata": {}})
    assert nameless.describe() == "Canary <unnamed>"
