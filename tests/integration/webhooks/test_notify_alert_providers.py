"""A Canary's ``analysis.alerts`` against a real API server: AlertProviders and Secrets read from
the cluster, each provider's severity, the Secret's ``address`` and Bearer ``token``, the
channel/username defaults, message templates from the ``flagger.app/alert-template``
annotation, and the failures (missing provider, Secret without an address, cross-namespace
reference refused by ``-no-cross-namespace-refs``) logged and counted while the others are
still delivered. The chat service is a local aiohttp server that records what it receives."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import prometheus_client
import pytest
from aiohttp import web

from flagger import plugins
from flagger.alerting import notifications
from flagger.alerting.delivery import DeliveryPolicy
from flagger.api import canary as canary_api
from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client
from flagger.webhooks.notifiers import discord, gchat, msteams, rocket, slack

pytestmark = pytest.mark.cluster

FAST = DeliveryPolicy(
    queue_size=50, workers=2, timeout=2.0, attempts=2, wait_min=0.05, wait_max=0.1
)


class Recorder:
    """Records ``(path, headers, json)`` of every POST and answers 200 ``ok``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append((request.path, dict(request.headers), await request.json()))
        return web.Response(text="ok")

    def by_path(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for path, _, body in self.received:
            found.setdefault(path, []).append(body)
        return found


@contextlib.asynccontextmanager
async def recorder() -> AsyncIterator[Recorder]:
    server = Recorder()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", server._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(cluster: devcluster.LocalCluster) -> AsyncIterator[kube_client.Kube]:
    kube = await kube_client.Kube.connect(str(cluster.kubeconfig))
    try:
        yield kube
    finally:
        await kube.close()


def provider(
    name: str, namespace: str, spec: dict[str, Any], template: str | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if template is not None:
        metadata["annotations"] = {"flagger.app/alert-template": template}
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": metadata,
        "spec": spec,
    }


def secret(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def canary(namespace: str, alerts: list[dict[str, Any]]) -> canary_api.Canary:
    return canary_api.Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"interval": "1m", "threshold": 5, "iterations": 10, "alerts": alerts},
            },
        }
    )


def sender(
    kube: kube_client.Kube, registry: prometheus_client.CollectorRegistry, **options: Any
) -> notifications.Notifications:
    installed = plugins.load([slack, discord, rocket, msteams, gchat])
    context = plugins.PluginContext(kube=kube, options={"cluster-name": "kind-1", **options})
    found = notifications.Notifications(installed, context, registry=registry, policy=FAST)
    found.start()
    return found


async def test_alerts_follow_each_providers_severity_secret_and_template(
    client: kube_client.Kube, namespace: str
) -> None:
    registry = prometheus_client.CollectorRegistry()
    async with recorder() as chat:
        await client.create(
            provider("everything", namespace, {"type": "slack", "address": f"{chat.url}/all"})
        )
        await client.create(
            secret("teams-hook", namespace, address=f"{chat.url}/from-secret", token="t0ken")
        )
        await client.create(
            provider(
                "on-call",
                namespace,
                {"type": "msteams", "secretRef": {"name": "teams-hook"}},
                template="[{{ cluster }}] {{ severity }} {{ name }}: {{ message }} ({{ routing }})",
            )
        )
        await client.create(
            provider(
                "errors-only",
                namespace,
                {
                    "type": "discord",
                    "address": f"{chat.url}/discord",
                    "channel": "alerts",
                    "username": "bot",
                },
            )
        )
        target = canary(
            namespace,
            [
                {"name": "all", "severity": "info", "providerRef": {"name": "everything"}},
                {"name": "teams", "severity": "warn", "providerRef": {"name": "on-call"}},
                {
                    "name": "errors",
                    "severity": "error",
                    "providerRef": {"name": "errors-only", "namespace": namespace},
                },
            ],
        )
        notifications = sender(client, registry)
        notifications.notify(
            target, "New Deployment detected, initialization completed.", "info", with_details=True
        )
        notifications.notify(target, "Canary is waiting for approval.", "warn")
        notifications.notify(target, "Failed checks threshold reached 5", "error")
        await notifications.flush()
        await notifications.close()

    got = chat.by_path()
    assert [b["attachments"][0]["text"] for b in got["/all"]] == [
        "New Deployment detected, initialization completed.",
        "Canary is waiting for approval.",
        "Failed checks threshold reached 5",
    ]
    first = got["/all"][0]
    assert (first["channel"], first["username"]) == ("general", "flagger")  # the defaults
    assert first["attachments"][0]["fields"] == [
        {"title": "Cluster", "value": "kind-1", "short": False},
        {"title": "Target", "value": f"Deployment/podinfo.{namespace}", "short": False},
        {"title": "Failed checks threshold", "value": "5", "short": False},
        {"title": "Progress deadline", "value": "600s", "short": False},
        {"title": "Traffic routing", "value": "Blue/Green", "short": False},
    ]
    # warn gets warn and error, at the Secret's address, with the template's text
    assert [b["sections"][0]["activityTitle"] for b in got["/from-secret"]] == [
        "[kind-1] warn podinfo: Canary is waiting for approval. (Blue/Green)",
        "[kind-1] error podinfo: Failed checks threshold reached 5 (Blue/Green)",
    ]
    assert got["/from-secret"][1]["themeColor"] == "FF0000"
    tokens = {path: headers.get("Authorization") for path, headers, _ in chat.received}
    assert tokens == {"/all": None, "/from-secret": "Bearer t0ken", "/discord/slack": None}
    # error gets error only
    [discord_body] = got["/discord/slack"]
    assert (discord_body["channel"], discord_body["username"]) == ("alerts", "bot")
    assert discord_body["attachments"][0]["color"] == "danger"
    assert notifications.failures.value("msteams", "provider_error") == 0


async def test_broken_providers_are_logged_and_counted_and_others_still_get_alerts(
    client: kube_client.Kube, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry = prometheus_client.CollectorRegistry()
    async with recorder() as chat:
        await client.create(
            provider(
                "good",
                namespace,
                {"type": "gchat", "address": f"{chat.url}/gchat"},
                template="{{ mesage }}",
            )
        )
        await client.create(secret("no-address", namespace, token="x"))
        await client.create(
            provider(
                "secretless", namespace, {"type": "slack", "secretRef": {"name": "no-address"}}
            )
        )
        await client.create(
            provider("elsewhere", "default", {"type": "slack", "address": f"{chat.url}/x"})
        )
        target = canary(
            namespace,
            [
                {"name": "missing", "providerRef": {"name": "nope"}},
                {"name": "secretless", "providerRef": {"name": "secretless"}},
                {"name": "cross", "providerRef": {"name": "elsewhere", "namespace": "default"}},
                {"name": "good", "providerRef": {"name": "good"}},
            ],
        )
        notifications = sender(client, registry, **{"no-cross-namespace-refs": True})
        with caplog.at_level(logging.ERROR):
            notifications.notify(
                target, "Canary analysis completed successfully, promotion finished.", "info"
            )
            await notifications.flush()
        await notifications.close()
        await client.delete("flagger.app/v1beta1", "AlertProvider", "elsewhere", "default")

    # a template that does not render falls back to Flagger's message
    [(path, _, body)] = chat.received
    assert path == "/gchat"
    assert body["cards"][0]["sections"][0]["widgets"][0]["textParagraph"]["text"] == (
        "<font color=#848484><strong>Canary analysis completed successfully, promotion "
        "finished.</strong></font>"
    )
    messages = [r.getMessage() for r in caplog.records]
    assert (
        f'alert provider nope.{namespace} error: alertproviders.flagger.app "nope" not found'
        in messages
    )
    assert f"alert provider secretless.{namespace} secret does not contain an address" in messages
    assert any(
        m.startswith("alert provider elsewhere.default error: cross-namespace reference")
        for m in messages
    )
    assert any(
        m.startswith(f"alert provider good.{namespace} template error")
        and 'function "mesage" not defined' in m
        for m in messages
    )
    assert notifications.failures.value("unknown", "provider_error") == 2  # type never read
    assert notifications.failures.value("slack", "provider_error") == 1
    text = prometheus_client.generate_latest(registry).decode()
    assert json.dumps("provider_error") in text
