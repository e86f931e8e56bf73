"""At most ``MAX_CONCURRENT_CREATES`` creates are in flight per client (a thousand Service creates
at once made the local kube-apiserver time them out), while reads are not held back by them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from kubernetes_asyncio import client as k8s_client

from flagger.kube import client as kube_client

DISCOVERY = {"resources": [{"name": "configmaps", "kind": "ConfigMap", "namespaced": True}]}


class _Server:
    """A fake API server whose POSTs take 0.3 s; it counts how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.gets = 0

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/api/v1":
            return web.json_response(DISCOVERY)
        if request.method == "GET":
            self.gets += 1
            return web.json_response({"kind": "ConfigMap", "metadata": {"name": "x"}})
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.3)
        finally:
            self.running -= 1
        return web.json_response(await request.json(), status=201)


@pytest.fixture
async def served() -> AsyncIterator[tuple[_Server, kube_client.Kube]]:
    server = _Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    configuration = k8s_client.Configuration()
    configuration.host = f"http://127.0.0.1:{runner.addresses[0][1]}"
    kube = kube_client.Kube(k8s_client.ApiClient(configuration), qps=10_000, burst=10_000)
    try:
        yield server, kube
    finally:
        await kube.close()
        await runner.cleanup()


async def test_creates_in_flight_are_bounded_and_reads_pass(
    served: tuple[_Server, kube_client.Kube],
) -> None:
    server, kube = served
    creates = [
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}", "namespace": "test"},
            }
        )
        for i in range(3 * kube_client.MAX_CONCURRENT_CREATES)
    ]
    pending = asyncio.gather(*creates)
    await asyncio.sleep(0.05)
    # a read while creates queue: answered at once, not after them
    assert await asyncio.wait_for(kube.get("v1", "ConfigMap", "x", "test"), 0.25) is not None
    done = await pending
    assert len(done) == 3 * kube_client.MAX_CONCURRENT_CREATES
    assert server.most == kube_client.MAX_CONCURRENT_CREATES
