"""The payload of each notifier, written out in full: Slack, Discord, Rocket.Chat, MS Teams and
Google Chat, for an info alert with fields and an error alert (colours), as Flagger's
``pkg/notifier`` builds them."""

from __future__ import annotations

from typing import Any

import pytest

from flagger.alerting import delivery
from flagger.alerting.delivery import Alert, DeliveryError
from flagger.webhooks.notifiers import discord, gchat, msteams, rocket, slack


def alert(severity: str = "info", with_fields: bool = True) -> Alert:
    fields: list[delivery.Field] = (
        [
            {"name": "Cluster", "value": "prod"},
            {"name": "Target", "value": "Deployment/podinfo.test"},
        ]
        if with_fields
        else []
    )
    return Alert(
        name="podinfo",
        namespace="test",
        severity=severity,
        fields=fields,
        message="New revision detected, progressing canary analysis.",
        phase="Progressing",
        cluster="prod",
        target="Deployment/podinfo.test",
    )


def test_slack_payload() -> None:
    assert slack.payload(alert(), "general", "flagger") == {
        "channel": "general",
        "username": "flagger",
        "icon_url": "",
        "icon_emoji": ":rocket:",
        "attachments": [
            {
                "color": "good",
                "author_name": "podinfo.test",
                "text": "New revision detected, progressing canary analysis.",
                "mrkdwn_in": ["text"],
                "fields": [
                    {"title": "Cluster", "value": "prod", "short": False},
                    {"title": "Target", "value": "Deployment/podinfo.test", "short": False},
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("severity", "color"), [("info", "good"), ("warn", "good"), ("error", "danger")]
)
def test_slack_colour_follows_severity(severity: str, color: str) -> None:
    sent = slack.payload(alert(severity), "general", "flagger")
    assert sent["attachments"][0]["color"] == color


def test_slack_without_fields_sends_an_empty_list() -> None:
    sent = slack.payload(alert(with_fields=False), "ops", "bot")
    assert sent["attachments"][0]["fields"] == []
    assert (sent["channel"], sent["username"]) == ("ops", "bot")


@pytest.mark.parametrize(("severity", "color"), [("info", "#0076D7"), ("error", "#FF0000")])
def test_rocket_payload_is_slacks_with_hex_colours(severity: str, color: str) -> None:
    expected = slack.payload(alert(severity), "general", "flagger")
    expected["attachments"][0]["color"] = color
    assert rocket.payload(alert(severity), "general", "flagger") == expected


def test_msteams_payload() -> None:
    assert msteams.payload(alert()) == {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": "0076D7",
        "summary": "podinfo.test",
        "sections": [
            {
                "activityTitle": "New revision detected, progressing canary analysis.",
                "activitySubtitle": "podinfo.test",
                "facts": [
                    {"name": "Cluster", "value": "prod"},
                    {"name": "Target", "value": "Deployment/podinfo.test"},
                ],
            }
        ],
    }


def test_msteams_is_red_on_error_only() -> None:
    assert msteams.payload(alert("error"))["themeColor"] == "FF0000"
    assert msteams.payload(alert("warn"))["themeColor"] == "0076D7"


def test_gchat_payload() -> None:
    grey = "<font color=#848484><strong>{}</strong></font>"
    assert gchat.payload(alert("error")) == {
        "cards": [
            {
                "header": {
                    "title": "Flagger",
                    "subtitle": "podinfo.test",
                    "imageUrl": "https://flagger.app/favicon.png",
                },
                "sections": [
                    {
                        "widgets": [
                            {
                                "textParagraph": {
                                    "text": grey.format(
                                        "New revision detected, progressing canary analysis."
                                    )
                                }
                            }
                        ]
                    },
                    {"widgets": [{"textParagraph": {"text": "Cluster<br>" + grey.format("prod")}}]},
                    {
                        "widgets": [
                            {
                                "textParagraph": {
                                    "text": "Target<br>" + grey.format("Deployment/podinfo.test")
                                }
                            }
                        ]
                    },
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://discord.com/api/webhooks/1/tok", "https://discord.com/api/webhooks/1/tok/slack"),
        ("https://discord.com/api/webhooks/1/tok/", "https://discord.com/api/webhooks/1/tok/slack"),
        (
            "https://discord.com/api/webhooks/1/tok/slack",
            "https://discord.com/api/webhooks/1/tok/slack",
        ),
        (
            "https://discord.com/api/webhooks/1/tok?wait=true",
            "https://discord.com/api/webhooks/1/tok/slack?wait=true",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/slack"),
    ],
)
def test_discord_posts_to_the_slack_endpoint(url: str, expected: str) -> None:
    assert discord.slack_url(url) == expected


@pytest.mark.parametrize(
    ("factory", "error"),
    [
        (
            lambda: slack.SlackNotifier("not a url", channel="c", username="u"),
            "invalid Slack hook URL not a url",
        ),
        (
            lambda: slack.SlackNotifier("https://hooks.slack.com/x", channel="", username="u"),
            "empty Slack channel",
        ),
        (
            lambda: slack.SlackNotifier("https://hooks.slack.com/x", channel="c", username=""),
            "empty Slack username",
        ),
        (
            lambda: discord.DiscordNotifier("ftp://x", channel="c", username="u"),
            "invalid Discord hook URL ftp://x",
        ),
        (
            lambda: rocket.RocketNotifier("https://r/x", channel="", username="u"),
            "empty Rocket channel",
        ),
        (
            lambda: msteams.MSTeamsNotifier("/relative"),
            "invalid MS Teams webhook URL /relative",
        ),
        (lambda: gchat.GChatNotifier(""), "invalid Google Chat webhook URL "),
    ],
)
def test_unusable_settings_are_refused_with_flaggers_words(factory: Any, error: str) -> None:
    with pytest.raises(DeliveryError) as raised:
        factory()
    assert str(raised.value) == error
    assert raised.value.reason == "provider_error"
    assert not raised.value.retriable


@pytest.mark.parametrize(
    ("module", "provider_type", "cls"),
    [
        (slack, "slack", slack.SlackNotifier),
        (discord, "discord", discord.DiscordNotifier),
        (rocket, "rocket", rocket.RocketNotifier),
        (msteams, "msteams", msteams.MSTeamsNotifier),
        (gchat, "gchat", gchat.GChatNotifier),
    ],
)
def test_each_hook_serves_its_type_only(module: Any, provider_type: str, cls: type) -> None:
    from flagger import plugins

    spec = {
        "type": provider_type,
        "address": "https://example.com/hook",
        "channel": "general",
        "username": "flagger",
        "proxy": "",
        "token": "t",
    }
    context = plugins.PluginContext()
    made = module.flagger_notifier(provider_type=provider_type, spec=spec, context=context)
    assert isinstance(made, cls)
    assert isinstance(made, plugins.Notifier)
    assert module.flagger_notifier(provider_type="other", spec=spec, context=context) is None


def test_plugin_manager_finds_every_notifier() -> None:
    """Each notifier module is installed as its own entry point."""
    from flagger import plugins

    installed = plugins.load()
    spec = {"address": "https://example.com/hook", "channel": "general", "username": "flagger"}
    for provider_type, cls in [
        ("slack", slack.SlackNotifier),
        ("msteams", msteams.MSTeamsNotifier),
        ("gchat", gchat.GChatNotifier),
    ]:
        assert isinstance(installed.notifier(provider_type, spec, plugins.PluginContext()), cls)
