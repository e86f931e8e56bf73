"""Credentials out of printed URLs: the helper, and the sinks that use it.

Matrix: userinfo (user and password, user only), credential query parameters by name (token,
access_token, api_key, key, secret, password, signature, sig, X-Amz-*; any case; in the fragment
too), ordinary parameters kept, URLs inside text (quoted, several), parameters without a URL;
then the JSON log formatter (message, fields, stack trace), the Event recorder (log line and the
event webhook callback) and alerts.
"""

from __future__ import annotations

import io
import json
import logging

import pytest

from flagger.alerting import notifications
from flagger.api import canary as canary_api
from flagger.observability import events, logs, redaction

TOKEN = "s3cr3t-T0KEN"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://lt.test/?token=T", "http://lt.test/?token=xxxxx"),
        ("http://lt.test/?Token=T&x=1", "http://lt.test/?Token=xxxxx&x=1"),
        ("https://u:p@h/x", "https://u:xxxxx@h/x"),
        ("https://ghp_abc@github.com/o/r", "https://xxxxx@github.com/o/r"),
        (
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=c&X-Amz-Signature=s&v=1",
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=xxxxx&X-Amz-Signature=xxxxx&v=1",
        ),
        (
            "http://h/?api_key=k&apikey=k&key=k&sig=s",
            "http://h/?api_key=xxxxx&apikey=xxxxx&key=xxxxx&sig=xxxxx",
        ),
        ("http://h/?client_secret=s&password=p", "http://h/?client_secret=xxxxx&password=xxxxx"),
        ("http://h/cb#access_token=t&state=ok", "http://h/cb#access_token=xxxxx&state=ok"),
        ("http://h:9090/api/v1/query?query=up", "http://h:9090/api/v1/query?query=up"),
        ("http://h/?monkey=1&signature=", "http://h/?monkey=1&signature="),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redaction.redact_url(url) == expected
    assert redaction.redact(f'Post "{url}": connection refused') == (
        f'Post "{expected}": connection refused'
    )


def test_redact_text_with_several_urls_and_bare_parameters() -> None:
    text = f"a http://x/?token={TOKEN} b https://u:{TOKEN}@y/ c url='/p?access_token={TOKEN}'"
    assert TOKEN not in redaction.redact(text)
    assert redaction.redact("no secrets here: weight 10") == "no secrets here: weight 10"


def test_log_lines_never_carry_the_token() -> None:
    stream = io.StringIO()
    handler = logs.setup("debug", stream)
    try:
        log = logs.get_logger("test.redaction")
        log.error(f"POST http://lt.test/?token={TOKEN} giving up", url=f"http://x/?token={TOKEN}")
        try:
            raise RuntimeError(f"GET https://u:{TOKEN}@prom/")
        except RuntimeError:
            logging.getLogger("test.redaction").exception("boom")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2 and TOKEN not in stream.getvalue()
    assert lines[0]["msg"] == "POST http://lt.test/?token=xxxxx giving up"
    assert "u:xxxxx@prom" in lines[1]["stacktrace"]


def _canary() -> canary_api.Canary:
    return canary_api.Canary.model_validate(
        {
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
            },
        }
    )


async def test_events_and_event_webhooks_get_redacted_messages() -> None:
    sent: list[str] = []

    async def forward(canary: canary_api.Canary, message: str, event_type: str) -> None:
        sent.append(message)

    recorder = events.EventRecorder(None, on_event=forward)
    recorder.record_warning(_canary(), f"Halt ... failed POST http://lt/?token={TOKEN} giving up")
    await recorder.flush()
    assert sent == ["Halt ... failed POST http://lt/?token=xxxxx giving up"]


def test_alerts_carry_redacted_messages() -> None:
    alert = notifications.build_alert(_canary(), f"failed http://lt/?token={TOKEN}", "error")
    assert alert["message"] == "failed http://lt/?token=xxxxx"
