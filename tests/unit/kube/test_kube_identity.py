"""The kube client speaks as Flagger: field manager ``flagger`` on every write, a
``flagger/<version>`` User-Agent on every request, and no response body in the debug log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from kubernetes_asyncio import client as k8s_client

import flagger
from flagger.kube import client as kube_client

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db", "namespace": "test"},
    "data": {"password": "c2VjcmV0LXZhbHVl"},
}
DISCOVERY = {"resources": [{"name": "secrets", "kind": "Secret", "namespaced": True}]}


@pytest.fixture
async def apiserver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A fake API server recording method, query and User-Agent of each request."""
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "agent": request.headers.get("User-Agent", ""),
            }
        )
        if request.path == "/api/v1":
            return web.json_response(DISCOVERY)
        return web.json_response(SECRET)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def _kube(host: str) -> kube_client.Kube:
    configuration = k8s_client.Configuration()
    configuration.host = host
    return kube_client.Kube(k8s_client.ApiClient(configuration))


async def test_writes_carry_field_manager_and_every_request_the_user_agent(
    apiserver: tuple[str, list[dict[str, Any]]],
) -> None:
    host, seen = apiserver
    kube = await _kube(host)
    try:
        await kube.get("v1", "Secret", "db", "test")
        await kube.create(SECRET)
        await kube.replace(SECRET)
        await kube.patch("v1", "Secret", "db", "test", {"metadata": {"labels": {"a": "b"}}})
        await kube.delete("v1", "Secret", "db", "test")
    finally:
        await kube.close()
    assert [r["method"] for r in seen] == ["GET", "GET", "POST", "PUT", "PATCH", "DELETE"]
    assert {r["agent"] for r in seen} == {f"flagger/{flagger.__version__}"}
    managers = {r["method"]: r["query"].get("fieldManager") for r in seen}
    assert managers == {
        "GET": None,
        "POST": "flagger",
        "PUT": "flagger",
        "PATCH": "flagger",
        "DELETE": None,
    }


async def test_debug_log_never_holds_a_response_body(
    apiserver: tuple[str, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    host, _ = apiserver
    kube = await _kube(host)
    caplog.set_level(logging.DEBUG)
    try:
        await kube.get("v1", "Secret", "db", "test")
        # The typed API (Events use it) preloads content, where kubernetes-asyncio logs bodies.
        await k8s_client.CoreV1Api(kube.api_client).read_namespaced_secret("db", "test")
    finally:
        await kube.close()
    assert "c2VjcmV0LXZhbHVl" not in caplog.text
