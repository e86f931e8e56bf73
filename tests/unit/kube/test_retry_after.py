"""The kube client waits as long as a 429/503 answer's ``Retry-After`` asks (bounded) before it
retries, instead of its own short backoff."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from kubernetes_asyncio import client as k8s_client

from flagger.kube import client as kube_client
from flagger.kube import errors

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "test"}}
DISCOVERY = {"resources": [{"name": "secrets", "kind": "Secret", "namespaced": True}]}

MakeKube = Callable[[list[web.Response]], Awaitable[tuple[kube_client.Kube, list[float]]]]


async def _serve(refusals: list[web.Response]) -> tuple[web.AppRunner, list[float], str]:
    """A fake API server answering Secret GETs with ``refusals`` first, then the Secret;
    the monotonic time of each Secret GET."""
    arrivals: list[float] = []

    async def handle(request: web.Request) -> web.Response:
        if request.path == "/api/v1":
            return web.json_response(DISCOVERY)
        arrivals.append(time.monotonic())
        return refusals.pop(0) if refusals else web.json_response(SECRET)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, arrivals, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def kube_for() -> AsyncIterator[MakeKube]:
    """Makes a client in front of a fake API server refusing with the given answers first."""
    opened: list[tuple[web.AppRunner, kube_client.Kube]] = []

    async def make(refusals: list[web.Response]) -> tuple[kube_client.Kube, list[float]]:
        runner, arrivals, host = await _serve(refusals)
        configuration = k8s_client.Configuration()
        configuration.host = host
        kube = kube_client.Kube(k8s_client.ApiClient(configuration))
        opened.append((runner, kube))
        return kube, arrivals

    yield make
    for runner, kube in opened:
        await kube.close()
        await runner.cleanup()


def _refuse(status: int, retry_after: str | None) -> web.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return web.json_response(
        {"kind": "Status", "code": status, "message": "slow down"}, status=status, headers=headers
    )


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_waits_the_servers_retry_after(kube_for: MakeKube, status: int) -> None:
    kube, arrivals = await kube_for([_refuse(status, "1")])
    assert await kube.get("v1", "Secret", "db", "test") == SECRET
    assert len(arrivals) == 2
    # exponential backoff alone would retry after 0.1 s
    assert arrivals[1] - arrivals[0] >= 0.95


async def test_retry_after_is_bounded(kube_for: MakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_client, "RETRY_AFTER_MAX_SECONDS", 0.5)
    kube, arrivals = await kube_for([_refuse(429, "3600")])
    assert await kube.get("v1", "Secret", "db", "test") == SECRET
    assert 0.45 <= arrivals[1] - arrivals[0] < 5


async def test_without_retry_after_backoff_is_short(kube_for: MakeKube) -> None:
    kube, arrivals = await kube_for([_refuse(429, None), _refuse(500, "not-a-number")])
    assert await kube.get("v1", "Secret", "db", "test") == SECRET
    assert len(arrivals) == 3
    assert arrivals[2] - arrivals[0] < 0.9


async def test_retries_are_still_bounded(kube_for: MakeKube) -> None:
    kube, arrivals = await kube_for([_refuse(429, "0") for _ in range(kube_client.RETRY_ATTEMPTS)])
    with pytest.raises(errors.ApiError) as caught:
        await kube.get("v1", "Secret", "db", "test")
    assert caught.value.status == 429
    assert len(arrivals) == kube_client.RETRY_ATTEMPTS


def test_retry_after_header_forms() -> None:
    assert kube_client.retry_after_seconds("2") == 2.0
    assert kube_client.retry_after_seconds("-4") == 0.0
    assert kube_client.retry_after_seconds(None) is None
    assert kube_client.retry_after_seconds("soon") is None
    assert kube_client.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
