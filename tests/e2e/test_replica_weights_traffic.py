"""Replica-based canary weights with real traffic, in the playground's stack.

The playground's stack (its own control plane, the node agent running podinfo's pods as
processes on 127.0.0.N, the mesh proxy routing a Service's traffic to the ready pods its
selector matches, and the daemon) runs a Canary with ``provider: kubernetes``, the annotation
``flagger.app/replica-split-label: app.kubernetes.io/name``, 4 replicas and ``stepWeights:
[10, 50]``. A ``confirm-traffic-increase`` gate served by the test lets one step through at a
time, so each step is measured while it holds: once both Deployments have the expected ready
replicas and the pods scaled away are gone, 1000 requests to the apex Service
(``podinfo.test:9898/version``) through the proxy are counted by the version that answered
(a non-200 answer fails the test). The canary's share must equal the replica ratio within 3
points (the proxy picks endpoints round-robin): 0% before the first step, 25% for weight 10 (1
of 4 replicas: the granularity), 50% for weight 50; after the promotion, 100% of the requests
are answered by the new version from the primary.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from flagger.playground import stack as stack_api

# Long form (~1-2 min of real traffic): `make long`; unit tests pin the replica arithmetic.
pytestmark = [pytest.mark.cluster, pytest.mark.long]

NS = "test"
V1, V2 = "6.0.0", "6.0.1"
IMAGE = "ghcr.io/stefanprodan/podinfo:{}"
REQUESTS = 1000


class Gate:
    """A confirm-traffic-increase webhook that lets ``allow()`` calls through, one each."""

    def __init__(self) -> None:
        self.passes = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        if self.passes > 0:
            self.passes -= 1
            return web.Response(text="ok")
        return web.Response(status=403, text="closed")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/gate", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/gate"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def _manifests(gate: str) -> list[dict[str, Any]]:
    labels = {"app": "podinfo", "app.kubernetes.io/name": "podinfo"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": NS, "labels": {"app": "podinfo"}},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": "podinfo"}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "podinfo",
                                "image": IMAGE.format(V1),
                                "command": ["./podinfo", "--port=9898"],
                                "ports": [{"name": "http", "containerPort": 9898}],
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {
                "name": "podinfo",
                "namespace": NS,
                "annotations": {"flagger.app/replica-split-label": "app.kubernetes.io/name"},
            },
            "spec": {
                "provider": "kubernetes",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "progressDeadlineSeconds": 120,
                "service": {"port": 9898, "targetPort": 9898},
                "analysis": {
                    "interval": "10s",
                    "threshold": 2,
                    "stepWeights": [10, 50],
                    "webhooks": [{"name": "gate", "type": "confirm-traffic-increase", "url": gate}],
                },
            },
        },
    ]


async def _eventually(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, log: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what} not within {timeout}s; daemon log tail:\n{log()}")


async def _shares(session: aiohttp.ClientSession, proxy: str) -> collections.Counter[str]:
    """Which version answered each of 1000 requests to the apex Service."""
    found: collections.Counter[str] = collections.Counter()
    semaphore = asyncio.Semaphore(20)

    async def one() -> None:
        async with (
            semaphore,
            session.get("http://podinfo.test:9898/version", proxy=proxy) as response,
        ):
            if response.status != 200:
                found[f"HTTP {response.status}"] += 1
                return
            body = await response.json(content_type=None)
            found[str(body.get("version"))] += 1

    await asyncio.gather(*(one() for _ in range(REQUESTS)))
    return found


async def test_canary_share_follows_the_replica_ratio(tmp_path: Any) -> None:
    gate = Gate()
    await gate.start()
    stack = stack_api.Stack(tmp_path / "stack")
    try:
        await stack.start(progress=lambda text: None)
        assert stack.cluster is not None and stack.kube is not None
        cluster, kube = stack.cluster, stack.kube

        def log() -> str:
            lines = [line.get("msg", "") for line in stack.daemon_lines()]
            return "\n".join(lines[-25:])

        await asyncio.to_thread(
            cluster.kubectl, "apply", "-f", "-", input=yaml.safe_dump_all(_manifests(gate.url))
        )

        async def canary() -> dict[str, Any]:
            found = await kube.get("flagger.app/v1beta1", "Canary", "podinfo", NS)
            return (found or {}).get("status") or {}

        async def ready(name: str, replicas: int) -> bool:
            found = await kube.get("apps/v1", "Deployment", name, NS) or {}
            spec, status = found.get("spec") or {}, found.get("status") or {}
            return (
                spec.get("replicas") == replicas
                and (status.get("readyReplicas") or 0) == replicas
                and (status.get("replicas") or 0) == replicas
            )

        async def settled() -> bool:
            """Exactly the 4 pods behind the apex Service, none of them terminating."""
            pods = await kube.list("v1", "Pod", NS, label_selector="app.kubernetes.io/name=podinfo")
            live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
            return len(pods) == 4 and len(live) == 4

        async def initialized() -> bool:
            return (await canary()).get("phase") == "Initialized" and await ready(
                "podinfo-primary", 4
            )

        await _eventually(initialized, 120, "initialization", log)
        await asyncio.to_thread(
            cluster.kubectl,
            "-n",
            NS,
            "set",
            "image",
            "deployment/podinfo",
            f"podinfo={IMAGE.format(V2)}",
        )
        measured: list[tuple[int, int, int, float]] = []
        failures: collections.Counter[str] = collections.Counter()
        async with aiohttp.ClientSession() as session:

            async def progressing() -> bool:
                return (await canary()).get("phase") == "Progressing"

            await _eventually(progressing, 60, "Progressing", log)
            counts = await _shares(session, stack.proxy_url)
            failures.update({k: v for k, v in counts.items() if k.startswith("HTTP")})
            measured.append((0, 0, 4, 100.0 * counts[V2] / REQUESTS))
            for weight, canary_replicas in ((10, 1), (50, 2)):
                gate.passes = 1

                async def stepped(w: int = weight, c: int = canary_replicas) -> bool:
                    return (
                        (await canary()).get("canaryWeight") == w
                        and await ready("podinfo", c)
                        and await ready("podinfo-primary", 4 - c)
                        and await settled()
                    )

                await _eventually(stepped, 90, f"weight {weight}", log)
                counts = await _shares(session, stack.proxy_url)
                failures.update({k: v for k, v in counts.items() if k.startswith("HTTP")})
                share = 100.0 * counts[V2] / REQUESTS
                measured.append((weight, canary_replicas, 4 - canary_replicas, share))
            gate.passes = 100

            async def succeeded() -> bool:
                return (await canary()).get("phase") == "Succeeded" and await ready(
                    "podinfo-primary", 4
                )

            await _eventually(succeeded, 120, "promotion", log)
            await _eventually(lambda: ready("podinfo", 0), 60, "canary scaled to zero", log)
            counts = await _shares(session, stack.proxy_url)
            failures.update({k: v for k, v in counts.items() if k.startswith("HTTP")})
            measured.append((100, 0, 4, 100.0 * counts[V2] / REQUESTS))
        print("\nweight, canary replicas, primary replicas, canary share of 1000 requests:")
        for row in measured:
            print(f"  {row[0]:>3}% {row[1]} {row[2]} {row[3]:.1f}%")
        expected = [0.0, 25.0, 50.0, 100.0]
        assert not failures, failures  # every request answered by one version or the other
        for (weight, _, _, share), wanted in zip(measured, expected, strict=True):
            assert abs(share - wanted) <= 3, (weight, share, measured)
        messages = [line.get("msg", "") for line in stack.daemon_lines()]
        assert (
            "Traffic split by replicas for podinfo.test: 1 canary and 3 primary replicas behind "
            "the apex Service, 25% to the canary (weight 10%)"
        ) in messages
        apex = await kube.get("v1", "Service", "podinfo", NS) or {}
        assert apex["spec"]["selector"] == {"app.kubernetes.io/name": "podinfo"}
    finally:
        await stack.stop()
        await gate.stop()
