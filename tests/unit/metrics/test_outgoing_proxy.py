"""Every outgoing call honours HTTP_PROXY/NO_PROXY, as Go's http.ProxyFromEnvironment does for
Flagger: behind a proxy, MetricTemplate queries (which build their own session) go through it
like webhooks do, instead of failing and rolling the canary back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from flagger.api import analysis as analysis_api
from flagger.hooks import calls
from flagger.metrics.backends import graphite, prometheus
from tests.support import canaries

PROMETHEUS_ANSWER = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "99.5"]}]},
}
GRAPHITE_ANSWER = [{"target": "x", "datapoints": [[42.0, 1]]}]


@pytest.fixture
async def proxy(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """A forward proxy on 127.0.0.1 set as HTTP_PROXY; records the absolute URLs asked for."""
    asked: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        asked.append(str(request.url))
        if request.path == "/api/v1/query":
            return web.json_response(PROMETHEUS_ANSWER)
        if request.path == "/render":
            return web.json_response(GRAPHITE_ANSWER)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield asked
    await runner.cleanup()


async def test_metric_template_prometheus_query_goes_through_the_proxy(proxy: list[str]) -> None:
    backend = prometheus.from_provider_spec({"type": "prometheus", "address": "http://prom.test"})
    assert await backend.run_query("sum(up)") == 99.5
    assert proxy and proxy[0].startswith("http://prom.test/api/v1/query")


async def test_metric_template_graphite_query_goes_through_the_proxy(proxy: list[str]) -> None:
    backend = graphite.from_provider_spec({"type": "graphite", "address": "http://graphite.test"})
    assert await backend.run_query("target=x") == 42.0
    assert proxy and proxy[0].startswith("http://graphite.test/render")


async def test_webhook_without_a_shared_session_goes_through_the_proxy(proxy: list[str]) -> None:
    canary = canaries.canary(canaries.podinfo_spec(analysis=None), namespace="test")
    hook = analysis_api.CanaryWebhook.model_validate({"name": "load", "url": "http://tester.test/"})
    result = await calls.call(hook, canary, "Progressing")
    assert result.ok, result.message
    assert proxy == ["http://tester.test/"]
