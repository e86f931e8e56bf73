"""What ``flagger get``/``watch`` and the dashboard show of a Canary and its Events.

The matrix: the table row (step of the ladder, iterations, failed checks against the threshold,
last message, paused, a pending request); the detail (strategy, thresholds, last values from halt
events, webhook results, last action); ``watch`` exits on settled phases only; plain text
without colour codes when not a terminal.
"""

from __future__ import annotations

import io
from typing import Any

from flagger.api import actions
from flagger.ops import terminal, views


def canary(status: dict[str, Any], analysis: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "podinfo", "namespace": "test", "annotations": {}},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": "podinfo"},
            "analysis": analysis
            or {
                "interval": "1m",
                "threshold": 5,
                "maxWeight": 50,
                "stepWeight": 10,
                "metrics": [
                    {"name": "request-success-rate", "thresholdRange": {"min": 99}},
                    {"name": "request-duration", "threshold": 500},
                ],
                "webhooks": [{"name": "load-test", "url": "http://lt/"}],
            },
        },
        "status": status,
    }


EVENTS = [
    views.EventLine("2026-12-03T10:00:00Z", "Normal", "Advance podinfo.test canary weight 20"),
    views.EventLine(
        "2026-12-03T10:01:00Z",
        "Warning",
        "Halt podinfo.test advancement success rate 88.24% < 99%",
    ),
    views.EventLine(
        "2026-12-03T10:02:00Z",
        "Warning",
        "Halt podinfo.test advancement external check load-test failed timeout",
    ),
]


def test_the_row_tells_step_failed_checks_and_the_last_message() -> None:
    row = views.summary(
        canary({"phase": "Progressing", "canaryWeight": 20, "failedChecks": 1}), EVENTS
    )
    assert (row.status, row.weight, row.step, row.failed) == ("Progressing", 20, "2/5", "1/5")
    assert row.message == EVENTS[-1].message
    blue_green = canary({"phase": "Progressing", "iterations": 3}, {"iterations": 10})
    assert views.summary(blue_green).step == "3/10"


def test_paused_and_pending_requests_show_in_the_row() -> None:
    raw = canary({"phase": "Progressing", "canaryWeight": 20, "paused": True})
    request = actions.ActionRequest(actions.Action.RESUME, "r1")
    raw["metadata"]["annotations"][actions.ANNOTATION] = request.encode()
    row = views.summary(raw)
    assert row.status == "Progressing (paused)" and row.pending_action == "resume"
    raw["status"]["lastAction"] = {"id": "r1", "action": "resume", "accepted": True}
    assert views.summary(raw).pending_action == ""


def test_the_detail_has_thresholds_last_values_and_webhook_results() -> None:
    raw = canary({"phase": "Progressing", "canaryWeight": 20})
    raw["status"]["lastAction"] = {
        "id": "r1",
        "action": "promote",
        "full": True,
        "requestedBy": "alice",
        "accepted": True,
        "message": "Promotion of podinfo.test requested by alice",
    }
    detail = views.detail(raw, EVENTS)
    assert detail.ladder == (10, 20, 30, 40, 50)
    rate, duration = detail.checks
    assert (rate.threshold, rate.last, rate.minimum) == (">= 99%", "88.24% (failed)", 99.0)
    assert (duration.threshold, duration.last, duration.maximum) == ("<= 500ms", "-", 500.0)
    assert detail.webhooks[0].last == "failed: timeout"
    assert detail.last_action.startswith("promote --full by alice (done)")
    with_prometheus = views.detail(raw, EVENTS, {"request-success-rate": 99.5})
    assert with_prometheus.checks[0].last == "99.50"


def test_watch_stops_only_on_settled_phases() -> None:
    assert views.settled(canary({"phase": "Succeeded"}))
    assert views.settled(canary({"phase": "Failed"}))
    assert not views.settled(canary({"phase": "Progressing"}))
    assert not views.settled(canary({"phase": "Initialized", "paused": True}))


def test_text_has_no_colour_codes_off_a_terminal() -> None:
    detail = views.detail(canary({"phase": "Failed", "canaryWeight": 0}), EVENTS)
    out = io.StringIO()
    assert not terminal.use_colour(out)
    text = terminal.canary_detail(detail, terminal.use_colour(out))
    assert "\033[" not in text
    assert "Status:       Failed" in text
    assert "request-success-rate   >= 99%" in text
    coloured = terminal.canary_detail(detail, True)
    assert "\033[31mFailed\033[0m" in coloured
    table = terminal.canaries_table([detail.summary], all_namespaces=True)
    assert table.splitlines()[0].split()[:3] == ["NAMESPACE", "NAME", "STATUS"]
