"""The mesh proxy on the local control plane, forwarding to real local HTTP servers.

kwok gives pods fake IPs, so each test builds the tutorial's shape by hand: Deployments
``frontend-primary`` and ``frontend`` (no replicas; they exist so that pods have a ReplicaSet and
a Deployment above them), one unschedulable pod each whose status we set Ready with the IP of a
real aiohttp backend (127.0.K.2 and 127.0.K.3), a caller pod ``loadtester`` (127.0.K.4), the
Services ``frontend-primary`` and ``frontend-canary`` selecting those pods (the API server
refuses loopback addresses in the EndpointSlices the controller-manager would write, so the
proxy selects the pods itself), and a selector-less Service ``frontend`` with a hand-made
EndpointSlice (``FQDN`` type: an ``IPv4`` one may not hold a loopback address).

The matrix: every name form resolves (and an unknown cluster name does not, while a plain
loopback address is forwarded as it is); an 80/20 VirtualService splits 1000 requests within 3
points; a header match routes to the canary; a route timeout answers 504; retries turn 503s into
a success; a mirror receives copies; and ``/metrics`` counts requests with Istio's names and
labels per ``destination_workload`` and ``response_code``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import random
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import parser

from flagger.devcluster import cluster as devcluster
from flagger.devcluster import processes
from flagger.kube import client as kube_client
from flagger.playground import meshproxy

pytestmark = pytest.mark.cluster

PORT = 9898
# Each test takes addresses of its own, 127.0.K.2-4: pods of an earlier test's namespace may
# still hold the previous ones while that namespace is being deleted.
_subnets = itertools.count(random.randrange(10, 200))


class Backend:
    """A pod's server: answers with its name; ``/status/N``, ``/delay/S`` and ``/flaky`` (503
    for the first two tries of each ``x-flaky-key``) behave as their names say."""

    def __init__(self, name: str, ip: str) -> None:
        self.name, self.ip, self.port = name, ip, 0
        self.received: list[tuple[str, dict[str, str]]] = []
        self._flaky: collections.Counter[str] = collections.Counter()
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append((request.raw_path, dict(request.headers)))
        parts = request.path.strip("/").split("/")
        if parts[0] == "stream":  # a long answer, sent slowly
            streamed = web.StreamResponse()
            await streamed.prepare(request)
            with contextlib.suppress(ConnectionResetError):
                for _ in range(40):
                    await streamed.write(b"x" * 65536)
                    await asyncio.sleep(0.05)
                await streamed.write_eof()
            return streamed
        if parts[0] == "status" and len(parts) == 2:
            return web.Response(status=int(parts[1]), text=self.name)
        if parts[0] == "delay" and len(parts) == 2:
            await asyncio.sleep(float(parts[1]))
        if parts[0] == "echo":
            return web.Response(body=await request.read(), content_type="text/plain")
        if parts[0] == "flaky":
            key = request.headers.get("x-flaky-key", "")
            self._flaky[key] += 1
            if self._flaky[key] <= 2:
                return web.Response(status=503, text=f"{self.name} not yet")
        return web.json_response(
            {
                "backend": self.name,
                "path": request.raw_path,
                "host": request.headers.get("Host", ""),
            }
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.ip, 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def wait_for(check: Callable[[], Awaitable[bool] | bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.1)


async def make_pod(
    kube: kube_client.Kube, namespace: str, deployment: str, ip: str, port: int = 0
) -> str:
    """A Deployment with no replicas, and a pod under its ReplicaSet with IP ``ip``."""
    await kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": deployment, "namespace": namespace},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": deployment}},
                "template": {
                    "metadata": {"labels": {"app": deployment}},
                    "spec": {"containers": [{"name": "app", "image": "podinfo"}]},
                },
            },
        }
    )
    replicasets: list[dict[str, Any]] = []

    async def replicaset_exists() -> bool:
        nonlocal replicasets
        replicasets = [
            rs
            for rs in await kube.list("apps/v1", "ReplicaSet", namespace)
            if rs["metadata"]["name"].startswith(f"{deployment}-")
            and rs["metadata"]["name"].count("-") == deployment.count("-") + 1
        ]
        return bool(replicasets)

    await wait_for(replicaset_exists)
    rs = replicasets[0]["metadata"]
    name = f"{rs['name']}-pod"
    # Not matching the ReplicaSet's selector (no pod-template-hash) and not its controller, so
    # the ReplicaSet neither adopts nor deletes it; unschedulable, so kwok leaves it alone.
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app": deployment, "version": "v1"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": rs["name"],
                        "uid": rs["uid"],
                    }
                ],
            },
            "spec": {
                "nodeSelector": {"mesh-test": "no-such-node"},
                "containers": [
                    {
                        "name": "app",
                        "image": "podinfo",
                        "ports": [{"name": "http", "containerPort": port or 9898}],
                    }
                ],
            },
        }
    )
    await kube.patch(
        "v1",
        "Pod",
        name,
        namespace,
        {
            "status": {
                "phase": "Running",
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "conditions": [{"type": "Ready", "status": "True"}],
            }
        },
        subresource="status",
    )
    return name


async def make_service(kube: kube_client.Kube, namespace: str, name: str, selector: str) -> None:
    """A Service selecting the pods of a Deployment, on their named port ``http``."""
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "selector": {"app": selector},
                "ports": [{"name": "http", "port": PORT, "targetPort": "http"}],
            },
        }
    )


async def make_sliced_service(
    kube: kube_client.Kube, namespace: str, name: str, backend: Backend, pod: str
) -> None:
    """A Service without selector and its EndpointSlice pointing at ``backend``."""
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"ports": [{"name": "http", "port": PORT, "targetPort": "http"}]},
        }
    )
    await kube.create(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-mesh",
                "namespace": namespace,
                "labels": {"kubernetes.io/service-name": name},
            },
            "addressType": "FQDN",
            "ports": [{"name": "http", "port": backend.port, "protocol": "TCP"}],
            "endpoints": [
                {
                    "addresses": [backend.ip],
                    "conditions": {"ready": True},
                    "targetRef": {"kind": "Pod", "name": pod, "namespace": namespace},
                }
            ],
        }
    )


class Mesh:
    """The world of one test: backends, the proxy, and a client going through it."""

    def __init__(
        self,
        kube: kube_client.Kube,
        namespace: str,
        proxy: meshproxy.MeshProxy,
        primary: Backend,
        canary: Backend,
        session: aiohttp.ClientSession,
    ) -> None:
        self.kube, self.namespace, self.proxy = kube, namespace, proxy
        self.primary, self.canary, self.session = primary, canary, session
        self.caller_ip = ""

    async def get(self, url: str, *, as_caller: bool = True, **kwargs: Any) -> tuple[int, str]:
        """GET through the proxy (as the ``loadtester`` pod unless told otherwise)."""
        headers = dict(kwargs.pop("headers", {}))
        if as_caller:  # what a client sends for http://<pod IP>@<proxy> as its proxy URL
            headers["Proxy-Authorization"] = aiohttp.encode_basic_auth(self.caller_ip)
        async with self.session.get(
            url, proxy=self.proxy.url, headers=headers, **kwargs
        ) as response:
            return response.status, await response.text()

    async def backend_of(self, url: str, **kwargs: Any) -> str:
        status, text = await self.get(url, **kwargs)
        assert status == 200, text
        return str(json.loads(text)["backend"])

    async def apply_virtual_service(self, http: list[dict[str, Any]]) -> None:
        body = {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": {"name": "frontend", "namespace": self.namespace},
            "spec": {"hosts": ["frontend"], "gateways": ["mesh"], "http": http},
        }
        await self.kube.create(body)
        registry = self.proxy.registry
        await wait_for(
            lambda: registry.virtual_services.get("frontend", self.namespace) is not None
        )

    async def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        async with self.session.get(self.proxy.metrics_url) as response:
            text = await response.text()
        return [
            (s.name, s.labels, s.value)
            for family in parser.text_string_to_metric_families(text)
            for s in family.samples
        ]


def dest(host: str, weight: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"destination": {"host": host}}
    if weight is not None:
        entry["weight"] = weight
    return entry


@pytest.fixture
async def mesh(cluster: devcluster.LocalCluster, namespace: str) -> AsyncIterator[Mesh]:
    kube = await kube_client.Kube.connect(str(cluster.kubeconfig))
    subnet = next(_subnets)
    primary_ip, canary_ip, caller_ip = (f"127.0.{subnet}.{n}" for n in (2, 3, 4))
    primary, canary = Backend("primary", primary_ip), Backend("canary", canary_ip)
    proxy = meshproxy.MeshProxy(kube, rng=random.Random(20))
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    try:
        await primary.start()
        await canary.start()
        primary_pod = await make_pod(kube, namespace, "frontend-primary", primary_ip, primary.port)
        await make_pod(kube, namespace, "frontend", canary_ip, canary.port)
        await make_pod(kube, namespace, "loadtester", caller_ip)
        await make_sliced_service(kube, namespace, "frontend", primary, primary_pod)
        await make_service(kube, namespace, "frontend-primary", "frontend-primary")
        await make_service(kube, namespace, "frontend-canary", "frontend")
        await proxy.start("127.0.0.1", 0, 0)
        registry = proxy.registry

        def ready() -> bool:
            services = [
                registry.resolve(f"{name}.{namespace}")
                for name in ("frontend", "frontend-primary", "frontend-canary")
            ]
            return (
                all(s is not None and registry.pick_endpoint(s, s.ports[0]) for s in services)
                and all(
                    registry.pod_by_ip(ip) is not None for ip in (primary_ip, canary_ip, caller_ip)
                )
                and registry.virtual_services.synced
            )

        await wait_for(ready)
        world = Mesh(kube, namespace, proxy, primary, canary, session)
        world.caller_ip = caller_ip
        yield world
    finally:
        await session.close()
        await proxy.stop()
        await primary.stop()
        await canary.stop()
        await kube.close()


async def test_every_cluster_name_form_resolves(mesh: Mesh) -> None:
    ns = mesh.namespace
    for host in (
        "frontend",
        f"frontend.{ns}",
        f"frontend.{ns}.svc",
        f"frontend.{ns}.svc.cluster.local",
        f"frontend-canary.{ns}.svc.cluster.local",
    ):
        expected = "canary" if host.startswith("frontend-canary") else "primary"
        assert await mesh.backend_of(f"http://{host}:{PORT}/") == expected, host

    service = mesh.proxy.registry.resolve("frontend", ns)
    assert service is not None and service.cluster_ip
    assert await mesh.backend_of(f"http://{service.cluster_ip}:{PORT}/") == "primary"

    # A bare name resolves in the caller's namespace: without a known caller that is
    # `default`, where there is no `frontend`.
    status, _ = await mesh.get(f"http://frontend.{ns}.svc:{PORT}/", as_caller=False)
    assert status == 200
    status, _ = await mesh.get(f"http://frontend:{PORT}/", as_caller=False)
    assert status == 503

    status, text = await mesh.get(f"http://nothing.{ns}.svc.cluster.local:{PORT}/")
    assert (status, text.strip()) == (503, f"no such service: nothing.{ns}.svc.cluster.local")
    status, _ = await mesh.get(f"http://frontend.{ns}:8080/")
    assert status == 503  # the Service has no port 8080


async def test_origin_form_with_host_header_and_direct_forwarding(mesh: Mesh) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", mesh.proxy.port)
    writer.write(
        f"GET /hello?x=1 HTTP/1.1\r\nHost: frontend.{mesh.namespace}:{PORT}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    await writer.drain()
    answer = (await reader.read()).decode()
    writer.close()
    assert answer.startswith("HTTP/1.1 200")
    assert '"path": "/hello?x=1"' in answer and '"backend": "primary"' in answer

    # A plain loopback address is not a cluster name: forwarded as it is.
    direct = f"http://{mesh.primary.ip}:{mesh.primary.port}/direct"
    assert await mesh.backend_of(direct) == "primary"
    assert mesh.primary.received[-1][0] == "/direct"
    # Off this machine, nothing is forwarded (and no connection is attempted).
    status, text = await mesh.get("http://192.0.2.1:8080/")
    assert status == 502 and "neither a cluster name nor on this machine" in text


async def test_virtual_service_weights_split_traffic(mesh: Mesh) -> None:
    await mesh.apply_virtual_service(
        [{"route": [dest("frontend-primary", 80), dest("frontend-canary", 20)]}]
    )
    limit = asyncio.Semaphore(50)

    async def one() -> str:
        async with limit:
            return await mesh.backend_of(f"http://frontend:{PORT}/")

    results = collections.Counter(await asyncio.gather(*(one() for _ in range(1000))))
    assert sum(results.values()) == 1000
    assert abs(results["canary"] / 10 - 20) <= 3, results


async def test_header_match_routes_to_the_canary(mesh: Mesh) -> None:
    await mesh.apply_virtual_service(
        [
            {
                "match": [
                    {"headers": {"x-canary": {"exact": "insider"}}},
                    {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
                ],
                "route": [dest("frontend-primary", 0), dest("frontend-canary", 100)],
            },
            {"route": [dest("frontend-primary", 100)]},
        ]
    )
    url = f"http://frontend:{PORT}/"
    assert await mesh.backend_of(url, headers={"X-Canary": "insider"}) == "canary"
    assert await mesh.backend_of(url, headers={"Cookie": "canary=always"}) == "canary"
    assert await mesh.backend_of(url, headers={"X-Canary": "outsider"}) == "primary"
    assert await mesh.backend_of(url) == "primary"


async def test_route_timeout_answers_504(mesh: Mesh) -> None:
    await mesh.apply_virtual_service(
        [{"route": [dest("frontend-primary")], "timeout": "300ms", "retries": {"attempts": 0}}]
    )
    began = time.monotonic()
    status, text = await mesh.get(f"http://frontend:{PORT}/delay/3")
    assert (status, text.strip()) == (504, "upstream request timeout")
    assert time.monotonic() - began < 1.5
    status, _ = await mesh.get(f"http://frontend:{PORT}/delay/0.05")
    assert status == 200


async def test_retries_turn_503_into_success(mesh: Mesh) -> None:
    await mesh.apply_virtual_service(
        [
            {
                "match": [{"uri": {"prefix": "/flaky"}, "headers": {"x-retry": {"exact": "no"}}}],
                "route": [dest("frontend-primary")],
                "retries": {"attempts": 0},
            },
            {
                "route": [dest("frontend-primary")],
                "retries": {"attempts": 3, "perTryTimeout": "1s", "retryOn": "5xx"},
            },
        ]
    )
    status, text = await mesh.get(f"http://frontend:{PORT}/flaky", headers={"x-flaky-key": "a"})
    assert status == 200, text
    tries = [
        h.get("x-envoy-attempt-count") for path, h in mesh.primary.received if path == "/flaky"
    ]
    assert tries == ["1", "2", "3"]

    status, _ = await mesh.get(
        f"http://frontend:{PORT}/flaky", headers={"x-flaky-key": "b", "x-retry": "no"}
    )
    assert status == 503

    # A 500 is retried under retryOn 5xx too: four tries, then the 500 passes on.
    status, _ = await mesh.get(f"http://frontend:{PORT}/status/500")
    assert status == 500
    assert sum(1 for path, _ in mesh.primary.received if path == "/status/500") == 4


async def test_mirror_receives_copies(mesh: Mesh) -> None:
    await mesh.apply_virtual_service(
        [
            {
                "route": [dest("frontend-primary", 100), dest("frontend-canary", 0)],
                "mirror": {"host": "frontend-canary"},
                "mirrorPercentage": {"value": 100.0},
                "headers": {
                    "request": {"set": {"x-mirrored-route": "yes"}},
                    "response": {"set": {"x-mesh": "playground"}},
                },
            }
        ]
    )
    for i in range(10):
        assert await mesh.backend_of(f"http://frontend:{PORT}/copy/{i}") == "primary"
    await wait_for(
        lambda: len([p for p, _ in mesh.canary.received if p.startswith("/copy/")]) == 10,
        timeout=10,
    )
    copies = [(p, h) for p, h in mesh.canary.received if p.startswith("/copy/")]
    assert sorted(p for p, _ in copies) == sorted(f"/copy/{i}" for i in range(10))
    assert all(h["Host"] == f"frontend-shadow:{PORT}" for _, h in copies)
    assert all(h["x-mirrored-route"] == "yes" for _, h in copies)
    async with mesh.session.get(
        f"http://frontend.{mesh.namespace}:{PORT}/", proxy=mesh.proxy.url
    ) as response:
        assert response.headers["x-mesh"] == "playground"


async def test_metrics_have_istio_names_labels_and_counts(mesh: Mesh) -> None:
    ns = mesh.namespace
    await mesh.apply_virtual_service(
        [
            {
                "match": [{"uri": {"prefix": "/status/"}}],
                "route": [dest("frontend-canary")],
                "retries": {"attempts": 0},
            },
            {"route": [dest("frontend-primary")]},
        ]
    )
    for _ in range(30):
        assert (await mesh.get(f"http://frontend:{PORT}/"))[0] == 200
    for _ in range(10):
        assert (await mesh.get(f"http://frontend:{PORT}/status/500"))[0] == 500
    samples = await mesh.metrics()

    def total(name: str, **labels: str) -> float:
        return sum(
            value
            for sample, found, value in samples
            if sample == name and all(found.get(k) == v for k, v in labels.items())
        )

    destination = {"reporter": "destination", "destination_workload_namespace": ns}
    assert (
        total(
            "istio_requests_total",
            **destination,
            destination_workload="frontend-primary",
            response_code="200",
        )
        == 30
    )
    assert (
        total(
            "istio_requests_total",
            **destination,
            destination_workload="frontend",
            response_code="500",
        )
        == 10
    )
    assert (
        total(
            "istio_requests_total",
            **destination,
            destination_workload="frontend",
            response_code="200",
        )
        == 0
    )
    assert (
        total(
            "istio_requests_total",
            reporter="source",
            source_workload="loadtester",
            source_workload_namespace=ns,
        )
        == 40
    )
    assert (
        total(
            "istio_request_duration_milliseconds_count",
            **destination,
            destination_workload="frontend-primary",
        )
        == 30
    )
    assert (
        total(
            "istio_request_duration_milliseconds_bucket",
            **destination,
            destination_workload="frontend-primary",
            le="+Inf",
        )
        == 30
    )

    one = next(
        labels
        for name, labels, _ in samples
        if name == "istio_requests_total"
        and labels.get("destination_workload") == "frontend"
        and labels["reporter"] == "destination"
    )
    assert one == {
        "reporter": "destination",
        "source_workload": "loadtester",
        "source_workload_namespace": ns,
        "source_app": "loadtester",
        "source_version": "v1",
        "destination_workload": "frontend",
        "destination_workload_namespace": ns,
        "destination_app": "frontend",
        "destination_version": "v1",
        "destination_service": f"frontend-canary.{ns}.svc.cluster.local",
        "destination_service_name": "frontend-canary",
        "destination_service_namespace": ns,
        "request_protocol": "http",
        "response_code": "500",
        "response_flags": "-",
        "connection_security_policy": "none",
    }
    buckets = sorted(
        float(labels["le"])
        for name, labels, _ in samples
        if name == "istio_request_duration_milliseconds_bucket"
        and labels.get("destination_workload") == "frontend"
    )
    assert buckets[:4] == [0.5, 1, 5, 10] and buckets[-2:] == [3600000, float("inf")]


async def test_a_client_hanging_up_mid_answer_is_counted_not_raised(
    mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    """Istio counts a client disconnect with the response flag DC; no error is logged."""
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", mesh.proxy.port)
        writer.write(
            f"GET http://frontend-canary.{mesh.namespace}:{PORT}/stream HTTP/1.1\r\n"
            f"Host: frontend-canary.{mesh.namespace}:{PORT}\r\n\r\n".encode()
        )
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        await reader.readexactly(1000)
        writer.transport.abort()  # hang up mid-answer

    def flagged() -> float:
        return sum(
            value
            for name, labels, value in samples
            if name == "istio_requests_total"
            and labels.get("reporter") == "source"
            and labels.get("response_flags") == "DC"
        )

    samples: list[tuple[str, dict[str, str], float]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        samples = await mesh.metrics()
        if flagged() >= 3:
            break
        await asyncio.sleep(0.2)
    assert flagged() == 3
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert (await mesh.get(f"http://frontend:{PORT}/", as_caller=True))[0] == 200


async def test_post_bodies_go_through_and_come_back(mesh: Mesh) -> None:
    payload = b"x" * 300_000
    async with mesh.session.post(
        f"http://frontend-canary.{mesh.namespace}:{PORT}/echo", data=payload, proxy=mesh.proxy.url
    ) as response:
        assert response.status == 200
        assert await response.read() == payload


@pytest.mark.skipif(shutil.which("hey") is None, reason="Debian's hey is not installed")
async def test_hey_through_the_proxy_is_counted_for_the_calling_pod(mesh: Mesh) -> None:
    """hey takes its proxy from -x; credentials in it name the calling pod."""
    hey = await asyncio.create_subprocess_exec(
        "hey",
        "-n",
        "100",
        "-c",
        "5",
        "-x",
        f"http://{mesh.caller_ip}@127.0.0.1:{mesh.proxy.port}",
        f"http://frontend-canary:{PORT}/",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(hey.communicate(), 60)
    assert hey.returncode == 0, output
    assert "[200]\t100 responses" in output.decode(), output.decode()
    samples = await mesh.metrics()
    assert (
        sum(
            value
            for name, labels, value in samples
            if name == "istio_requests_total"
            and labels["reporter"] == "destination"
            and labels["source_workload"] == "loadtester"
            and labels["destination_workload"] == "frontend"
        )
        == 100
    )


async def test_command_line_proxy_serves_and_stops_on_sigterm(
    mesh: Mesh, cluster: devcluster.LocalCluster
) -> None:
    port, metrics_port = processes.free_port(), processes.free_port()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flagger.playground.meshproxy",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--port",
        str(port),
        "--metrics-port",
        str(metrics_port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "HTTP_PROXY": "", "http_proxy": ""},
    )
    try:

        async def healthy() -> bool:
            try:
                async with mesh.session.get(f"http://127.0.0.1:{metrics_port}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(healthy)
        url = f"http://frontend.{mesh.namespace}.svc.cluster.local:{PORT}/"
        async with mesh.session.get(url, proxy=f"http://127.0.0.1:{port}") as response:
            assert response.status == 200
            assert (await response.json())["backend"] == "primary"
        async with mesh.session.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            lines = (await response.text()).splitlines()
        assert any(
            line.startswith("istio_requests_total{")
            and 'reporter="destination"' in line
            and line.endswith(" 1.0")
            for line in lines
        ), lines
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(child.communicate(), 30)
    assert child.returncode == 0, output.decode()
