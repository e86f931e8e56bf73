"""Which alerts go where and with which fields: severity routing, Flagger's alert fields
(Cluster, Target, Failed checks threshold, Progress deadline, Traffic routing for each
strategy), the alert mapping and the global notifier chosen from the daemon's flags."""

from __future__ import annotations

from typing import Any

import pytest

from flagger.alerting import notifications
from flagger.api import canary as canary_api
from tests.support import canaries


def make_canary(analysis: dict[str, Any] | None = None, **spec: Any) -> canary_api.Canary:
    return canaries.canary(canaries.podinfo_spec(**spec, analysis=analysis), namespace="test")


# alert severity -> subscriptions that get it
@pytest.mark.parametrize(
    ("severity", "subscribed", "sent"),
    [
        ("info", "info", True),
        ("info", "warn", False),
        ("info", "error", False),
        ("warn", "info", True),
        ("warn", "warn", True),
        ("warn", "error", False),
        ("error", "info", True),
        ("error", "warn", True),
        ("error", "error", True),
        ("info", None, True),
        ("error", "", True),
    ],
)
def test_severity_routing(severity: str, subscribed: str | None, sent: bool) -> None:
    assert notifications.should_alert(severity, subscribed) is sent


def test_fields_with_details_for_a_canary_release() -> None:
    canary = make_canary(
        {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50},
        progressDeadlineSeconds=120,
    )
    assert notifications.alert_fields(canary, "prod", with_details=True) == [
        {"name": "Cluster", "value": "prod"},
        {"name": "Target", "value": "Deployment/podinfo.test"},
        {"name": "Failed checks threshold", "value": "5"},
        {"name": "Progress deadline", "value": "120s"},
        {"name": "Traffic routing", "value": "Weight step: 10 max: 50"},
    ]


def test_fields_without_details_carry_only_the_cluster() -> None:
    canary = make_canary({"interval": "1m", "threshold": 5, "stepWeight": 10})
    assert notifications.alert_fields(canary, "prod", with_details=False) == [
        {"name": "Cluster", "value": "prod"}
    ]
    assert notifications.alert_fields(canary, "", with_details=False) == []


@pytest.mark.parametrize(
    ("analysis", "routing"),
    [
        ({"stepWeight": 5}, "Weight step: 5 max: 0"),  # Flagger prints the raw maxWeight
        ({"stepWeights": [1, 5, 10], "maxWeight": 10}, "Weight steps: 1,5,10 max: 10"),
        (
            {"iterations": 10, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]},
            "A/B Testing",
        ),
        ({"iterations": 10}, "Blue/Green"),
        ({}, None),
    ],
)
def test_traffic_routing_per_strategy(analysis: dict[str, Any], routing: str | None) -> None:
    canary = make_canary({"interval": "1m", "threshold": 2, **analysis})
    fields = notifications.alert_fields(canary, "", with_details=True)
    assert [f["name"] for f in fields][:3] == [
        "Target",
        "Failed checks threshold",
        "Progress deadline",
    ]
    assert fields[2] == {"name": "Progress deadline", "value": "600s"}
    found = [f["value"] for f in fields if f["name"] == "Traffic routing"]
    assert found == ([routing] if routing else [])


def test_build_alert() -> None:
    canary = make_canary({"interval": "1m", "threshold": 5, "stepWeight": 10})
    alert = notifications.build_alert(
        canary, "Failed checks threshold reached 5", "error", cluster="prod", phase="Failed"
    )
    assert alert == {
        "name": "podinfo",
        "namespace": "test",
        "message": "Failed checks threshold reached 5",
        "severity": "error",
        "fields": ({"name": "Cluster", "value": "prod"},),
        "phase": "Failed",
        "cluster": "prod",
        "target": "Deployment/podinfo.test",
    }


def test_build_alert_reads_the_phase_from_the_status() -> None:
    canary = make_canary({"interval": "1m"})
    canary = canary.model_copy(
        update={
            "status": canary_api.Canary.model_validate(
                {
                    **canary.model_dump(by_alias=True, exclude_none=True),
                    "status": {"phase": "Progressing"},
                }
            ).status
        }
    )
    assert notifications.build_alert(canary, "m", "info")["phase"] == "Progressing"
    assert notifications.build_alert(make_canary(), "m", "info")["phase"] == ""


def test_template_variables_are_all_filled_on_every_alert() -> None:
    canary = make_canary({"interval": "1m", "threshold": 3, "iterations": 4})
    alert = notifications.build_alert(
        canary, "Canary is waiting for approval.", "warn", cluster="eu-1", phase="Waiting"
    )
    assert notifications.template_variables(canary, alert).functions().keys() == {
        "name",
        "namespace",
        "message",
        "severity",
        "phase",
        "cluster",
        "target",
        "threshold",
        "deadline",
        "routing",
    }
    values = {
        k: f() for k, f in notifications.template_variables(canary, alert).functions().items()
    }
    assert values == {
        "name": "podinfo",
        "namespace": "test",
        "message": "Canary is waiting for approval.",
        "severity": "warn",
        "phase": "Waiting",
        "cluster": "eu-1",
        "target": "Deployment/podinfo.test",
        "threshold": "3",
        "deadline": "600s",
        "routing": "Blue/Green",
    }


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, None),
        (
            {
                "slack-url": "https://hooks.slack.com/s",
                "slack-channel": "ops",
                "slack-user": "flagger",
                "slack-proxy-url": "http://proxy:3128",
                "slack-token": "xoxb",
            },
            (
                "slack",
                {
                    "type": "slack",
                    "address": "https://hooks.slack.com/s",
                    "channel": "ops",
                    "username": "flagger",
                    "proxy": "http://proxy:3128",
                    "token": "xoxb",
                },
            ),
        ),
        (
            {
                "slack-url": "https://hooks.slack.com/s",
                "msteams-url": "https://outlook.office.com/w",
                "msteams-proxy-url": "http://proxy:3128",
            },
            (
                "msteams",
                {
                    "type": "msteams",
                    "address": "https://outlook.office.com/w",
                    "proxy": "http://proxy:3128",
                },
            ),
        ),
    ],
)
def test_global_notifier_from_flags(options: dict[str, str], expected: Any) -> None:
    assert notifications.global_provider(options) == expected
