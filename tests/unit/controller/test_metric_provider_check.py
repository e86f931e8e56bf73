"""The metric-provider availability check at initialisation, as Flagger 1.44's
``checkMetricProviderAvailability``: one error Event for the first unavailable provider (its
wording, typos included), or "all the metrics providers are available!"."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from flagger import plugins
from flagger.api import canary as canary_api
from flagger.controller import act, answers
from flagger.observability import events
from tests.support import canaries

ONLINE = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]},
}


@pytest.fixture
async def prometheus() -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        return web.json_response(ONLINE)

    app = web.Application()
    app.router.add_get("/api/v1/query", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def _canary(metrics: list[dict[str, Any]]) -> canary_api.Canary:
    analysis = {"interval": "1m", "threshold": 2, "metrics": metrics}
    return canaries.canary(canaries.podinfo_spec(analysis=analysis), namespace="test", uid="u-1")


async def _check(canary: canary_api.Canary, metrics_server: str) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []

    async def on_event(canary: canary_api.Canary, message: str, event_type: str) -> None:
        sent.append((event_type, message))

    async def get(*args: Any) -> None:
        return None  # no MetricTemplate exists

    recorder = events.EventRecorder(None, on_event=on_event)
    kube: Any = types.SimpleNamespace(get=get)
    async with aiohttp.ClientSession() as session:
        shell: Any = types.SimpleNamespace(
            recorder=recorder,
            session=session,
            options=types.SimpleNamespace(metrics_server=metrics_server),
            kube=kube,
            answers=answers.Answers(
                kube,
                plugins.load(),
                plugins.PluginContext(kube=kube),
                session,
                metrics_server=metrics_server,
                mesh_provider="kubernetes",
            ),
        )
        await act.check_metric_providers(shell, canary)
    await recorder.flush()
    return sent


BUILTIN = {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}
MISSING = {"name": "errors", "templateRef": {"name": "nope"}, "thresholdRange": {"max": 1}}


async def test_all_available(prometheus: str) -> None:
    assert await _check(_canary([BUILTIN]), prometheus) == [
        ("Normal", "all the metrics providers are available!")
    ]


async def test_prometheus_down_is_one_error_event_in_flaggers_words() -> None:
    sent = await _check(_canary([BUILTIN, MISSING]), "http://127.0.0.1:1")
    assert len(sent) == 1
    kind, message = sent[0]
    assert kind == "Warning"
    assert message.startswith(
        "Error checking metric providers: prometheus not avaiable: running query failed: "
    )


async def test_missing_template(prometheus: str) -> None:
    assert await _check(_canary([BUILTIN, MISSING]), prometheus) == [
        (
            "Warning",
            "Error checking metric providers: metric template nope.test error: "
            'metrictemplate.flagger.app "nope" not found',
        )
    ]
