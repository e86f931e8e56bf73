"""Each notifier against a local server that checks what the real service checks, and the wire
behaviour shared by all: the Bearer token, the HTTP proxy, the timeout, retries on 5xx and the
failure counter.

The fake services answer as the real ones do: Slack's incoming webhook (``ok``, or 400
``invalid_payload`` / ``no_text``), Slack's ``chat.postMessage`` API (200 with ``{"ok": false}``
when the token or channel is wrong), Discord's Slack-compatible endpoint (only under
``/slack``), Rocket.Chat's incoming webhook (``{"success": true}``), Teams' connector
(``1``, or 400 ``Summary or Text is required.``) and Google Chat's webhook (a message resource,
or a 400 JSON error). Every server binds 127.0.0.1 on a free port and is stopped after its test.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import prometheus_client
import pytest
from aiohttp import web

from flagger import plugins
from flagger.alerting import delivery, notifications
from flagger.alerting.delivery import Alert, DeliveryError, DeliveryPolicy
from flagger.webhooks.notifiers import discord as notify_discord
from flagger.webhooks.notifiers import gchat as notify_gchat
from flagger.webhooks.notifiers import msteams as notify_msteams
from flagger.webhooks.notifiers import rocket as notify_rocket
from flagger.webhooks.notifiers import slack as notify_slack
from tests.support.local_server import Handler, LocalServer

Answer = tuple[int, Any]
Check = Callable[[web.Request, Any], Answer]


@dataclasses.dataclass
class Request:
    method: str
    url: str
    path: str
    headers: dict[str, str]
    body: Any


class Service(LocalServer):
    """A local HTTP server answering with ``check(request, json)``; records every request."""

    def __init__(self, check: Check) -> None:
        super().__init__()
        self.check = check
        self.received: list[Request] = []
        self.fail_first = 0  # answer 500 to this many requests first
        self.delay = 0.0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.received.append(
            Request(request.method, str(request.url), request.path, dict(request.headers), body)
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.received) <= self.fail_first:
            return web.Response(status=500, text="internal error")
        if request.method != "POST":
            return web.Response(status=405, text="method not allowed")
        if request.content_type != "application/json":
            return web.Response(status=415, text="unsupported content type")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        status, answer = self.check(request, body)
        if isinstance(answer, str):
            return web.Response(status=status, text=answer)
        return web.json_response(answer, status=status)

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("*", "/{tail:.*}", self._handle)]


@contextlib.asynccontextmanager
async def running(check: Check) -> AsyncIterator[Service]:
    service = await Service(check).start()
    try:
        yield service
    finally:
        await service.stop()


# --- what each real service checks ---------------------------------------------------------


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def slack_shape_problem(body: dict[str, Any]) -> str | None:
    """Slack's message checks: text or attachments; attachments and fields well formed."""
    attachments = body.get("attachments")
    if not body.get("text") and not attachments:
        return "no_text"
    for key in ("channel", "username", "icon_emoji", "icon_url"):
        if key in body and not _is_str(body[key]):
            return "invalid_payload"
    for attachment in attachments or []:
        if not isinstance(attachment, dict):
            return "invalid_attachments"
        if not all(_is_str(attachment.get(k)) for k in ("color", "author_name", "text")):
            return "invalid_attachments"
        if not isinstance(attachment.get("mrkdwn_in"), list):
            return "invalid_attachments"
        for field in attachment.get("fields") or []:
            if not (
                _is_str(field.get("title"))
                and _is_str(field.get("value"))
                and isinstance(field.get("short"), bool)
            ):
                return "invalid_attachments"
    return None


def slack_webhook(request: web.Request, body: dict[str, Any]) -> Answer:
    problem = slack_shape_problem(body)
    return (400, problem) if problem else (200, "ok")


def slack_api(token: str) -> Check:
    def check(request: web.Request, body: dict[str, Any]) -> Answer:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return 200, {"ok": False, "error": "not_authed"}
        if auth != f"Bearer {token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if body.get("channel") != "general":
            return 200, {"ok": False, "error": "channel_not_found"}
        problem = slack_shape_problem(body)
        if problem:
            return 200, {"ok": False, "error": problem}
        return 200, {"ok": True, "channel": "C123", "ts": "1700000000.000100"}

    return check


def discord(request: web.Request, body: dict[str, Any]) -> Answer:
    if not request.path.endswith("/slack"):
        return 400, {"message": "Cannot send an empty message", "code": 50006}
    problem = slack_shape_problem(body)
    return (400, {"message": problem}) if problem else (200, "ok")


def rocket(request: web.Request, body: dict[str, Any]) -> Answer:
    if not re.fullmatch(r"/hooks/[^/]+/[^/]+", request.path):
        return 404, {"success": False, "error": "Invalid integration id or token provided."}
    problem = slack_shape_problem(body)
    for attachment in body.get("attachments") or []:
        if not re.fullmatch(r"#[0-9A-Fa-f]{6}", attachment.get("color", "")):
            problem = "invalid color"
    return (400, {"success": False, "error": problem}) if problem else (200, {"success": True})


def teams(request: web.Request, body: dict[str, Any]) -> Answer:
    if body.get("@type") != "MessageCard" or not _is_str(body.get("@context")):
        return 400, "Bad payload received by generic incoming webhook."
    if not body.get("summary") and not body.get("text"):
        return 400, "Summary or Text is required."
    if not re.fullmatch(r"[0-9A-Fa-f]{6}", body.get("themeColor", "")):
        return 400, "Bad payload received by generic incoming webhook."
    for section in body.get("sections") or []:
        if not _is_str(section.get("activityTitle")):
            return 400, "Bad payload received by generic incoming webhook."
        for fact in section.get("facts") or []:
            if set(fact) != {"name", "value"} or not all(map(_is_str, fact.values())):
                return 400, "Bad payload received by generic incoming webhook."
    return 200, "1"


def gchat(request: web.Request, body: dict[str, Any]) -> Answer:
    def error(message: str) -> Answer:
        return 400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}

    if (
        not re.fullmatch(r"/v1/spaces/[^/]+/messages", request.path)
        or "key" not in request.query
        or "token" not in request.query
    ):
        return 404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}
    cards = body.get("cards")
    if not body.get("text") and not cards:
        return error("Message cannot be empty.")
    for card in cards or []:
        if not _is_str((card.get("header") or {}).get("title")):
            return error('Invalid JSON payload received. Unknown name "header"')
        for section in card.get("sections") or []:
            for widget in section.get("widgets") or []:
                if not _is_str((widget.get("textParagraph") or {}).get("text")):
                    return error("Invalid JSON payload received. Unknown widget")
    return 200, {"name": "spaces/AAA/messages/BBB", "cards": cards}


# --- the alert sent in these tests ---------------------------------------------------------


def make_alert(severity: str = "info") -> Alert:
    return Alert(
        name="podinfo",
        namespace="test",
        severity=severity,
        message="New revision detected, progressing canary analysis.",
        fields=[
            {"name": "Cluster", "value": "prod"},
            {"name": "Target", "value": "Deployment/podinfo.test"},
        ],
        phase="Progressing",
        cluster="prod",
        target="Deployment/podinfo.test",
    )


# --- each service --------------------------------------------------------------------------


async def test_slack_incoming_webhook() -> None:
    async with running(slack_webhook) as slack:
        notifier = notify_slack.SlackNotifier(
            f"{slack.url}/services/T0/B0/x", channel="general", username="flagger"
        )
        await notifier.post(make_alert("error"))
    [request] = slack.received
    assert request.path == "/services/T0/B0/x"
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    assert request.body == notify_slack.payload(make_alert("error"), "general", "flagger")
    assert request.body["attachments"][0]["color"] == "danger"


async def test_slack_webhook_refusal_is_reported_with_its_body() -> None:
    async with running(lambda r, b: (404, "channel_not_found")) as slack:
        notifier = notify_slack.SlackNotifier(slack.url, channel="gone", username="flagger")
        with pytest.raises(DeliveryError) as raised:
            await notifier.post(make_alert())
    assert str(raised.value) == "sending notification failed: channel_not_found"
    assert (raised.value.reason, raised.value.retriable) == ("http_error", False)


async def test_slack_api_with_a_bearer_token() -> None:
    async with running(slack_api("xoxb-1")) as slack:
        good = notify_slack.SlackNotifier(
            f"{slack.url}/api/chat.postMessage",
            channel="general",
            username="flagger",
            token="xoxb-1",
        )
        await good.post(make_alert())
        bad = notify_slack.SlackNotifier(
            f"{slack.url}/api/chat.postMessage",
            channel="general",
            username="flagger",
            token="wrong",
        )
        with pytest.raises(DeliveryError) as raised:
            await bad.post(make_alert())
    assert [r.headers["Authorization"] for r in slack.received] == ["Bearer xoxb-1", "Bearer wrong"]
    assert str(raised.value) == "sending notification failed: invalid_auth"
    assert raised.value.reason == "rejected"


async def test_discord_gets_the_slack_payload_under_slash_slack() -> None:
    async with running(discord) as service:
        notifier = notify_discord.DiscordNotifier(
            f"{service.url}/api/webhooks/42/tok", channel="general", username="flagger"
        )
        await notifier.post(make_alert())
    [request] = service.received
    assert request.path == "/api/webhooks/42/tok/slack"
    assert request.body == notify_slack.payload(make_alert(), "general", "flagger")


async def test_rocket_chat() -> None:
    async with running(rocket) as service:
        notifier = notify_rocket.RocketNotifier(
            f"{service.url}/hooks/abc/def", channel="general", username="flagger"
        )
        await notifier.post(make_alert("error"))
    [request] = service.received
    assert request.body["attachments"][0]["color"] == "#FF0000"
    assert request.body["icon_emoji"] == ":rocket:"


async def test_msteams_message_card() -> None:
    async with running(teams) as service:
        notifier = notify_msteams.MSTeamsNotifier(f"{service.url}/webhookb2/abc/IncomingWebhook")
        await notifier.post(make_alert("error"))
        await notifier.post(make_alert("info"))
    first, second = (r.body for r in service.received)
    assert first == notify_msteams.payload(make_alert("error"))
    assert (first["themeColor"], second["themeColor"]) == ("FF0000", "0076D7")
    assert first["sections"][0]["facts"] == [
        {"name": "Cluster", "value": "prod"},
        {"name": "Target", "value": "Deployment/podinfo.test"},
    ]


async def test_google_chat_card() -> None:
    async with running(gchat) as service:
        notifier = notify_gchat.GChatNotifier(f"{service.url}/v1/spaces/AAA/messages?key=k&token=t")
        await notifier.post(make_alert())
    [request] = service.received
    assert request.body == notify_gchat.payload(make_alert())
    assert request.body["cards"][0]["header"]["title"] == "Flagger"


# --- the wire ------------------------------------------------------------------------------


class ForwardProxy(LocalServer):
    """A local HTTP forward proxy: records each request (absolute URL, headers) and relays it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Request] = []

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(
            Request(
                request.method,
                str(request.url),
                request.path,
                dict(request.headers),
                json.loads(body) if body else None,
            )
        )
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "proxy-authorization", "content-length")
        }
        async with (
            aiohttp.ClientSession() as session,
            session.request(request.method, str(request.url), data=body, headers=headers) as answer,
        ):
            return web.Response(status=answer.status, body=await answer.read())

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("*", "/{tail:.*}", self._handle)]


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    server = await ForwardProxy().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize("provider_type", ["slack", "discord", "rocket", "msteams", "gchat"])
async def test_every_notifier_goes_through_the_proxy(
    proxy: ForwardProxy, provider_type: str
) -> None:
    check, path = {
        "slack": (slack_webhook, "/services/x"),
        "discord": (discord, "/api/webhooks/1/t"),
        "rocket": (rocket, "/hooks/a/b"),
        "msteams": (teams, "/webhookb2/x"),
        "gchat": (gchat, "/v1/spaces/A/messages?key=k&token=t"),
    }[provider_type]
    installed = plugins.load(
        [notify_slack, notify_discord, notify_rocket, notify_msteams, notify_gchat]
    )
    async with running(check) as service:
        spec = {
            "type": provider_type,
            "address": service.url + path,
            "proxy": proxy.url,
            "channel": "general",
            "username": "flagger",
            "token": "s3cret",
        }
        notifier = installed.notifier(provider_type, spec, plugins.PluginContext())
        await notifier.post(make_alert())
    [relayed] = proxy.seen
    assert relayed.url.startswith(service.url)  # absolute-form request line: a proxy request
    assert relayed.headers["Authorization"] == "Bearer s3cret"
    assert len(service.received) == 1
    assert service.received[0].body == relayed.body


async def test_an_unreachable_proxy_is_a_retriable_connection_error() -> None:
    async with running(slack_webhook) as slack:
        notifier = notify_slack.SlackNotifier(
            slack.url, channel="general", username="flagger", proxy="http://127.0.0.1:9"
        )
        with pytest.raises(DeliveryError) as raised:
            await notifier.post(make_alert())
    assert (raised.value.reason, raised.value.retriable) == ("connection_error", True)
    assert slack.received == []


async def test_a_slow_service_times_out() -> None:
    async with running(slack_webhook) as slack:
        slack.delay = 2.0
        notifier = notify_slack.SlackNotifier(
            slack.url, channel="general", username="flagger", timeout=0.2
        )
        with pytest.raises(DeliveryError) as raised:
            await notifier.post(make_alert())
    assert (raised.value.reason, raised.value.retriable) == ("timeout", True)
    assert str(raised.value) == "sending notification failed: no answer within 0.2s"


def _context(**options: Any) -> plugins.PluginContext:
    return plugins.PluginContext(options=options)


def _canary() -> Any:
    from flagger.api import canary as canary_api

    return canary_api.Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50},
            },
        }
    )


FAST = DeliveryPolicy(
    queue_size=10, workers=2, timeout=1.0, attempts=3, wait_min=0.05, wait_max=0.1
)


async def test_global_slack_retries_on_500_then_delivers() -> None:
    registry = prometheus_client.CollectorRegistry()
    installed = plugins.load([notify_slack, notify_msteams])
    async with running(slack_webhook) as slack:
        slack.fail_first = 2
        sender = notifications.Notifications(
            installed,
            _context(
                **{
                    "slack-url": f"{slack.url}/services/x",
                    "slack-channel": "ops",
                    "slack-user": "flagger",
                    "cluster-name": "prod",
                }
            ),
            registry=registry,
            policy=FAST,
        )
        sender.start()
        assert sender.notify(
            _canary(),
            "New revision detected, progressing canary analysis.",
            "info",
            with_details=True,
        )
        await sender.flush()
        await sender.close()
    assert len(slack.received) == 3
    sent = slack.received[-1].body
    assert sent["channel"] == "ops"
    assert sent["attachments"][0]["fields"] == [
        {"title": "Cluster", "value": "prod", "short": False},
        {"title": "Target", "value": "Deployment/podinfo.test", "short": False},
        {"title": "Failed checks threshold", "value": "5", "short": False},
        {"title": "Progress deadline", "value": "600s", "short": False},
        {"title": "Traffic routing", "value": "Weight step: 10 max: 50", "short": False},
    ]
    assert sender.failures.value("slack", "http_error") == 0


async def test_global_msteams_wins_and_failures_are_counted_once() -> None:
    registry = prometheus_client.CollectorRegistry()
    installed = plugins.load([notify_slack, notify_msteams])
    async with running(teams) as service, running(slack_webhook) as slack:
        service.fail_first = 100
        sender = notifications.Notifications(
            installed,
            _context(
                **{
                    "slack-url": slack.url,
                    "slack-channel": "ops",
                    "msteams-url": f"{service.url}/webhookb2/x",
                }
            ),
            registry=registry,
            policy=FAST,
        )
        sender.start()
        sender.notify(_canary(), "Failed checks threshold reached 5", "error")
        await sender.flush()
        await sender.close()
    assert len(service.received) == 3  # the policy's attempts
    assert slack.received == []
    assert sender.failures.value("msteams", "http_error") == 1
    text = prometheus_client.generate_latest(registry).decode()
    assert (
        'flagger_alert_delivery_failures_total{provider_type="msteams",reason="http_error"} 1.0'
        in text
    )


async def test_global_slack_without_a_channel_is_refused_like_flagger() -> None:
    installed = plugins.load([notify_slack])
    sender = notifications.Notifications(
        installed, _context(**{"slack-url": "https://h.example/x"}), policy=FAST
    )
    sender.start()
    assert sender.global_notifier is None  # Flagger: "Notifier empty Slack channel", no alerts
    assert sender.notify(_canary(), "m", "info") is False
    await sender.close()


async def test_notify_returns_at_once_while_a_service_hangs() -> None:
    installed = plugins.load([notify_slack])
    async with running(slack_webhook) as slack:
        slack.delay = 0.5
        sender = notifications.Notifications(
            installed,
            _context(**{"slack-url": slack.url, "slack-channel": "ops", "slack-user": "flagger"}),
            policy=DeliveryPolicy(queue_size=2, workers=1, timeout=2, attempts=1),
        )
        sender.start()
        loop = asyncio.get_running_loop()
        began = loop.time()
        results = [sender.notify(_canary(), f"message {n}", "info") for n in range(6)]
        assert loop.time() - began < 0.05
        await asyncio.sleep(0.1)  # the worker has taken the first one
        results.append(sender.notify(_canary(), "message 6", "info"))
        await sender.flush()
        await sender.close()
    assert results == [True, True, False, False, False, False, True]
    assert [r.body["attachments"][0]["text"] for r in slack.received] == [
        "message 0",
        "message 1",
        "message 6",
    ]
    assert sender.failures.value("slack", delivery.QUEUE_FULL) == 4


async def test_the_proxy_environment_is_honoured_without_a_proxy_setting(
    proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with running(teams) as service:
        await notify_msteams.MSTeamsNotifier(f"{service.url}/webhookb2/x").post(make_alert())
    assert [r.url for r in proxy.seen] == [f"{service.url}/webhookb2/x"]
    assert len(service.received) == 1
