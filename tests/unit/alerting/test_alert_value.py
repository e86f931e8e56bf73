"""The alert a notifier receives is a frozen value: a notifier (a third-party plugin included)
cannot change what the next AlertProvider of the same canary is sent."""

from __future__ import annotations

import dataclasses

import pytest

from flagger import plugins
from flagger.alerting import notifications
from tests.unit.alerting.test_notify_routing import make_canary


def _alert() -> plugins.Alert:
    canary = make_canary({"interval": "1m", "threshold": 5, "stepWeight": 10})
    return notifications.build_alert(canary, "Promotion completed!", "info", cluster="prod")


def test_a_notifier_cannot_change_the_alert() -> None:
    alert = _alert()
    with pytest.raises(dataclasses.FrozenInstanceError):
        alert.message = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        alert["fields"][0]["value"] = "other-cluster"
    with pytest.raises(TypeError):
        alert["message"] = "changed"  # type: ignore[index]
    assert alert["message"] == alert.message == "Promotion completed!"
    assert alert.fields[0]["value"] == "prod"


def test_a_provider_template_gets_a_copy_the_others_keep_flaggers_message() -> None:
    alert = _alert()
    rendered = alert.replace(message="podinfo promoted")
    assert (rendered.message, alert.message) == ("podinfo promoted", "Promotion completed!")
    assert dict(rendered) == {**dict(alert), "message": "podinfo promoted"}
