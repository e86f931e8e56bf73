"""The playground's node agent against a real control plane without kwok.

One control plane (started with ``kwok=False``) and one agent serve the whole module; the real
kube-scheduler binds the pods to the agent's node. Until the demo app exists, podinfo's image is
played by a stand-in (a small HTTP server that answers with its argv, environment and config
files), mapped in the agent's image table the same way the demo app is; one test runs the real
demo app and is skipped while ``flagger.playground.demoapp`` is missing.

What is checked is what a user sees: Deployments becoming Available, processes answering on
their pod IPs, the environment and files a process gets, Ready following the probe, restarts
counted, deleted pods stopping their processes and leaving the API, events for images without a
process, the node staying Ready with a fresh lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import ipaddress
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client
from flagger.playground import node_images, nodeagent

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="module")]

NODE = "playground-node"
PODINFO = "ghcr.io/stefanprodan/podinfo"
ENVSERVER = "playground.test/envserver"

# A stand-in app: answers /healthz, /argv, /env and /files (the files under --config-path).
STAND_IN = r"""
import argparse, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8080)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--config-path", default="")
options, _ = parser.parse_known_args()

def files():
    found = {}
    for root, _, names in os.walk(options.config_path or "/nonexistent"):
        for name in names:
            path = os.path.join(root, name)
            with open(path) as handle:
                found[os.path.relpath(path, options.config_path)] = handle.read()
    return found

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        answers = {"/healthz": "ok", "/argv": sys.argv, "/env": dict(os.environ),
                   "/files": files() if self.path == "/files" else None}
        if self.path not in answers:
            self.send_error(404)
            return
        body = json.dumps(answers[self.path]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer((options.host, options.port), Handler).serve_forever()
"""
STAND_IN_PODINFO = node_images.ImageProgram(
    argv=(sys.executable, "-c", STAND_IN),
    binaries=frozenset({"podinfo"}),
    host_args=("--host", "{pod_ip}"),
    env={"PODINFO_VERSION": "{tag}"},
)
AGENT_ENV = {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.0/8"}


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plane() -> Iterator[devcluster.LocalCluster]:
    """A control plane with no node and no kwok."""
    started = devcluster.LocalCluster.start(kwok=False)
    try:
        yield started
    finally:
        started.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(plane: devcluster.LocalCluster) -> AsyncIterator[kube_client.Kube]:
    kube = await kube_client.Kube.connect(str(plane.kubeconfig))
    try:
        yield kube
    finally:
        await kube.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agent(
    api: kube_client.Kube, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[nodeagent.NodeAgent]:
    images = {**node_images.DEFAULT_IMAGES, PODINFO: STAND_IN_PODINFO, ENVSERVER: STAND_IN_PODINFO}
    running = nodeagent.NodeAgent(
        api, NODE, tmp_path_factory.mktemp("node"), AGENT_ENV, images=images, heartbeat_seconds=2.0
    )
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def ns(plane: devcluster.LocalCluster) -> Iterator[str]:
    name = f"agent-{uuid.uuid4().hex[:6]}"
    plane.api(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )
    yield name
    plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


# --- helpers ------------------------------------------------------------------------------


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 30.0, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def http_json(ip: str, port: int, path: str) -> Any:
    """GET a JSON answer from a pod; a process without a readiness probe is Ready as soon as it
    runs, so a refused connection is tried again for a few seconds."""
    deadline = time.monotonic() + 10
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(
                    f"http://{ip}:{port}{path}", timeout=aiohttp.ClientTimeout(total=5)
                ) as answer:
                    assert answer.status == 200, await answer.text()
                    return await answer.json(content_type=None)
            except aiohttp.ClientConnectorError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


def pod(
    name: str, image: str, *, command: list[str] | None = None, **container: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "app", "image": image, **container}
    if command is not None:
        spec["command"] = command
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [spec], "terminationGracePeriodSeconds": 5},
    }


async def create(api: kube_client.Kube, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
    obj["metadata"]["namespace"] = ns
    return await api.create(obj)


async def get_pod(api: kube_client.Kube, ns: str, name: str) -> dict[str, Any] | None:
    return await api.get("v1", "Pod", name, ns)


def condition(obj: dict[str, Any] | None, kind: str) -> str | None:
    for found in ((obj or {}).get("status") or {}).get("conditions") or []:
        if found["type"] == kind:
            return str(found["status"])
    return None


async def running_pod(
    api: kube_client.Kube, ns: str, name: str, *, ready: bool = True
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await get_pod(api, ns, name)
        if (
            found
            and found.get("status", {}).get("phase") == "Running"
            and (not ready or condition(found, "Ready") == "True")
        ):
            return found
        return None

    result: dict[str, Any] = await eventually(check, what=f"pod {name} running")
    return result


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def events_of(api: kube_client.Kube, ns: str, name: str) -> list[dict[str, Any]]:
    return [e for e in await api.list("v1", "Event", ns) if e["involvedObject"].get("name") == name]


# --- the node -----------------------------------------------------------------------------


async def test_node_is_registered_ready_and_its_lease_is_renewed(
    agent: nodeagent.NodeAgent, api: kube_client.Kube
) -> None:
    node = await api.get("v1", "Node", NODE)
    assert node is not None and condition(node, "Ready") == "True"
    assert node["status"]["allocatable"]["pods"] in ("1000", "1k")
    lease = await api.get("coordination.k8s.io/v1", "Lease", NODE, "kube-node-lease")
    assert lease is not None
    first = lease["spec"]["renewTime"]

    async def renewed() -> bool:
        again = await api.get("coordination.k8s.io/v1", "Lease", NODE, "kube-node-lease")
        return bool(again and again["spec"]["renewTime"] != first)

    await eventually(renewed, timeout=10, what="lease renewal")
    taints = (await api.get("v1", "Node", NODE) or {}).get("spec", {}).get("taints") or []
    assert not taints, taints


# --- pods as processes --------------------------------------------------------------------


async def _deployment_available(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> list[dict[str, Any]]:
    container = {
        "name": "podinfo",
        "image": f"{PODINFO}:6.1.0",
        "command": ["./podinfo", "--port=9898", "--level=info"],
        "ports": [{"name": "http", "containerPort": 9898}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2},
    }
    await create(
        api,
        ns,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "podinfo"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "podinfo"}},
                "template": {
                    "metadata": {"labels": {"app": "podinfo"}},
                    "spec": {"containers": [container]},
                },
            },
        },
    )

    async def available() -> bool:
        found = await api.get("apps/v1", "Deployment", "podinfo", ns)
        status = (found or {}).get("status") or {}
        return status.get("availableReplicas") == 2 and condition(found, "Available") == "True"

    await eventually(available, timeout=60, what="Deployment Available")
    pods = await api.list("v1", "Pod", ns, label_selector="app=podinfo")
    assert len(pods) == 2
    return pods


async def test_deployment_of_podinfo_becomes_available_with_processes_on_pod_ips(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    pods = await _deployment_available(agent, api, ns)
    addresses = {p["status"]["podIP"] for p in pods}
    assert len(addresses) == 2
    for found in pods:
        ip = found["status"]["podIP"]
        assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("127.0.0.0/8")
        assert ip != "127.0.0.1" and found["status"]["hostIP"] == "127.0.0.1"
        assert found["status"]["podIPs"] == [{"ip": ip}]
        assert found["spec"]["nodeName"] == NODE
        (status,) = found["status"]["containerStatuses"]
        assert status["ready"] is True and status["restartCount"] == 0
        assert "startedAt" in status["state"]["running"]
        argv = await http_json(ip, 9898, "/argv")
        assert argv[1:] == ["--port=9898", "--level=info", "--host", ip]
        env = await http_json(ip, 9898, "/env")
        assert env["PODINFO_VERSION"] == "6.1.0"
        assert env["HOSTNAME"] == found["metadata"]["name"]
        # The mesh proxy learns who calls: the pod's namespace and name ride in the URL.
        assert env["HTTP_PROXY"] == f"http://{ns}:{found['metadata']['name']}@127.0.0.1:9"
        pid = agent.processes()[(ns, found["metadata"]["name"], "podinfo")]
        assert alive(pid)
        log = agent.pod_directory(ns, found["metadata"]["name"])
        assert log is not None and (log / "logs" / "podinfo.log").exists()


@pytest.mark.skipif(
    importlib.util.find_spec("flagger.playground.demoapp") is None,
    reason="flagger.playground.demoapp is not written yet",
)
async def test_deployment_of_podinfo_runs_the_real_demo_app(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    agent.images[PODINFO] = node_images.DEFAULT_IMAGES[PODINFO]
    try:
        pods = await _deployment_available(agent, api, ns)
    finally:
        agent.images[PODINFO] = STAND_IN_PODINFO
    for found in pods:
        answer = await http_json(found["status"]["podIP"], 9898, "/version")
        assert answer["version"] == "6.1.0"


@pytest.mark.skipif(
    importlib.util.find_spec("flagger.webhooks.loadtester.app") is None,
    reason="flagger.webhooks.loadtester.app is not written yet",
)
async def test_the_loadtester_image_runs_the_loadtester_ready_by_its_charts_exec_probe(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    health = {
        "exec": {
            "command": [
                "wget",
                "--quiet",
                "--tries=1",
                "--timeout=4",
                "--spider",
                "http://localhost:8080/healthz",
            ]
        },
        "timeoutSeconds": 5,
    }
    await create(
        api,
        ns,
        pod(
            "loadtester",
            "ghcr.io/fluxcd/flagger-loadtester:0.34.0",
            command=["./loadtester", "-port=8080", "-log-level=info", "-timeout=1h"],
            readinessProbe=health,
            livenessProbe=health,
        ),
    )
    found = await running_pod(api, ns, "loadtester")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{found['status']['podIP']}:8080/healthz") as answer,
    ):
        assert answer.status == 200


async def test_env_and_config_files_come_from_configmaps_and_secrets(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    await create(
        api,
        ns,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"GREETING": "hello", "COLOR": "blue"},
        },
    )
    await create(
        api,
        ns,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "stringData": {"TOKEN": "s3cr3t"},
        },
    )
    spec = pod(
        "configured",
        f"{ENVSERVER}:1.0",
        args=["--port=8080", "--config-path=/etc/app/config"],
        envFrom=[
            {"configMapRef": {"name": "settings"}, "prefix": "CM_"},
            {"secretRef": {"name": "creds"}},
        ],
        env=[
            {
                "name": "MY_GREETING",
                "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "GREETING"}},
            },
            {"name": "MY_TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "TOKEN"}}},
            {"name": "SENTENCE", "value": "$(MY_GREETING) world"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {
                "name": "MISSING",
                "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}},
            },
        ],
        volumeMounts=[{"name": "config", "mountPath": "/etc/app/config"}],
    )
    spec["spec"]["volumes"] = [
        {
            "name": "config",
            "projected": {
                "sources": [
                    {"configMap": {"name": "settings"}},
                    {
                        "secret": {
                            "name": "creds",
                            "items": [{"key": "TOKEN", "path": "secret/token.txt"}],
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}
                            ]
                        }
                    },
                ]
            },
        }
    ]
    await create(api, ns, spec)
    found = await running_pod(api, ns, "configured")
    ip = found["status"]["podIP"]
    env = await http_json(ip, 8080, "/env")
    assert env["CM_GREETING"] == "hello" and env["CM_COLOR"] == "blue"
    assert env["TOKEN"] == "s3cr3t" and env["MY_TOKEN"] == "s3cr3t"
    assert env["MY_GREETING"] == "hello" and env["SENTENCE"] == "hello world"
    assert (env["POD_NAME"], env["POD_NAMESPACE"], env["APP"]) == ("configured", ns, "configured")
    assert env["POD_IP"] == ip and "MISSING" not in env
    files = await http_json(ip, 8080, "/files")
    assert files == {
        "GREETING": "hello",
        "COLOR": "blue",
        "secret/token.txt": "s3cr3t",
        "labels": 'app="configured"',
    }


async def test_a_missing_configmap_keeps_the_container_waiting_until_it_exists(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    await create(
        api,
        ns,
        pod(
            "late",
            f"{ENVSERVER}:1.0",
            args=["--port=8080"],
            envFrom=[{"configMapRef": {"name": "later"}}],
        ),
    )

    async def waiting() -> str | None:
        found = await get_pod(api, ns, "late")
        statuses = ((found or {}).get("status") or {}).get("containerStatuses") or []
        return statuses[0]["state"].get("waiting", {}).get("reason") if statuses else None

    assert await eventually(waiting, what="waiting reason") == "CreateContainerConfigError"
    await create(
        api,
        ns,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "later"},
            "data": {"ARRIVED": "yes"},
        },
    )
    found = await running_pod(api, ns, "late")
    assert (await http_json(found["status"]["podIP"], 8080, "/env"))["ARRIVED"] == "yes"


async def test_a_failing_readiness_probe_keeps_the_pod_unready(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    probe = {"periodSeconds": 1, "failureThreshold": 1}
    await create(
        api,
        ns,
        pod(
            "unready",
            f"{ENVSERVER}:1.0",
            args=["--port=8080"],
            readinessProbe={"httpGet": {"path": "/missing", "port": 8080}, **probe},
        ),
    )
    await create(
        api,
        ns,
        pod(
            "tcp-ready",
            f"{ENVSERVER}:1.0",
            args=["--port=8080"],
            readinessProbe={"tcpSocket": {"port": 8080}, **probe},
        ),
    )
    await running_pod(api, ns, "tcp-ready")
    found = await running_pod(api, ns, "unready", ready=False)
    assert (await http_json(found["status"]["podIP"], 8080, "/healthz")) == "ok"
    await asyncio.sleep(3)
    later = await get_pod(api, ns, "unready")
    assert condition(later, "Ready") == "False"
    assert condition(later, "ContainersReady") == "False"
    assert later is not None and later["status"]["containerStatuses"][0]["ready"] is False


async def test_a_killed_process_is_restarted_and_counted(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    await create(api, ns, pod("crashy", f"{ENVSERVER}:1.0", args=["--port=8080"]))
    found = await running_pod(api, ns, "crashy")
    pid = agent.processes()[(ns, "crashy", "app")]
    os.kill(pid, signal.SIGKILL)

    async def restarted() -> dict[str, Any] | None:
        again = await get_pod(api, ns, "crashy")
        status = ((again or {}).get("status") or {}).get("containerStatuses") or [{}]
        if status[0].get("restartCount") == 1 and status[0].get("ready"):
            return again
        return None

    again = await eventually(restarted, what="restart")
    terminated = again["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert terminated["exitCode"] == 137 and terminated["reason"] == "Error"
    new_pid = agent.processes()[(ns, "crashy", "app")]
    assert new_pid != pid and alive(new_pid)
    assert (await http_json(found["status"]["podIP"], 8080, "/healthz")) == "ok"


async def test_a_failing_liveness_probe_restarts_the_container(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    await create(
        api,
        ns,
        pod(
            "unhealthy",
            f"{ENVSERVER}:1.0",
            args=["--port=8080"],
            livenessProbe={
                "httpGet": {"path": "/missing", "port": 8080},
                "periodSeconds": 1,
                "failureThreshold": 2,
            },
        ),
    )

    async def restarted() -> bool:
        found = await get_pod(api, ns, "unhealthy")
        status = ((found or {}).get("status") or {}).get("containerStatuses") or [{}]
        return int(status[0].get("restartCount") or 0) >= 1

    await eventually(restarted, what="liveness restart")
    reasons = {e["reason"] for e in await events_of(api, ns, "unhealthy")}
    assert {"Unhealthy", "Killing"} <= reasons


async def test_a_deleted_pod_stops_its_process_and_disappears(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    await create(api, ns, pod("doomed", f"{ENVSERVER}:1.0", args=["--port=8080"]))
    found = await running_pod(api, ns, "doomed")
    ip = found["status"]["podIP"]
    pid = agent.processes()[(ns, "doomed", "app")]
    await api.delete("v1", "Pod", "doomed", ns)  # the default grace period: 5s from the spec

    async def gone() -> bool:
        return await get_pod(api, ns, "doomed") is None

    await eventually(gone, timeout=20, what="pod deletion")
    assert not alive(pid)
    assert (ns, "doomed", "app") not in agent.processes()
    assert ip not in agent.addresses.taken()


async def test_an_unknown_image_waits_in_image_pull_back_off_and_is_never_ready(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str
) -> None:
    await create(
        api, ns, pod("web", "nginx:1.27", readinessProbe={"httpGet": {"path": "/", "port": 80}})
    )

    async def backing_off() -> dict[str, Any] | None:
        found = await get_pod(api, ns, "web")
        statuses = ((found or {}).get("status") or {}).get("containerStatuses") or []
        waiting = statuses[0].get("state", {}).get("waiting", {}) if statuses else {}
        return found if waiting.get("reason") == "ImagePullBackOff" else None

    found = await eventually(backing_off, what="ImagePullBackOff")
    assert found["status"]["phase"] == "Pending"
    assert condition(found, "Ready") == "False"
    assert (ns, "web", "app") not in agent.processes()

    async def events() -> dict[str, str]:
        return {e["reason"]: e["message"] for e in await events_of(api, ns, "web")}

    recorded = await eventually(
        lambda: _having(events, {"Failed", "BackOff"}), what="Failed and BackOff events"
    )
    assert recorded["BackOff"] == 'Back-off pulling image "nginx:1.27"'
    assert recorded["Failed"].startswith('Failed to pull image "nginx:1.27": ')
    await asyncio.sleep(2)  # still not Ready a while later
    assert condition(await get_pod(api, ns, "web"), "Ready") == "False"


async def _having(
    read: Callable[[], Awaitable[dict[str, str]]], reasons: set[str]
) -> dict[str, str] | None:
    found = await read()
    return found if reasons <= found.keys() else None


# --- stopping -----------------------------------------------------------------------------


async def test_stopping_an_agent_kills_its_processes(
    agent: nodeagent.NodeAgent, api: kube_client.Kube, ns: str, tmp_path: pathlib.Path
) -> None:
    second = nodeagent.NodeAgent(
        api,
        "playground-node-2",
        tmp_path,
        AGENT_ENV,
        images=agent.images,
    )
    await second.start()
    try:
        spec = pod("pinned", f"{ENVSERVER}:1.0", args=["--port=8080"])
        spec["spec"]["nodeName"] = "playground-node-2"
        await create(api, ns, spec)
        found = await running_pod(api, ns, "pinned")
        # Each agent has a block of its own: the two never hand out the same address.
        assert second.block is not None and agent.block is not None
        assert second.block.octet != agent.block.octet
        assert found["status"]["podIP"] == second.block.first
        pid = second.processes()[(ns, "pinned", "app")]
    finally:
        await second.stop()
        await api.delete("v1", "Node", "playground-node-2")
    assert not alive(pid)


async def test_the_command_line_agent_runs_pods_and_stops_them_on_sigterm(
    plane: devcluster.LocalCluster,
    agent: nodeagent.NodeAgent,
    api: kube_client.Kube,
    ns: str,
    tmp_path: pathlib.Path,
) -> None:
    node = "playground-node-3"
    spec = pod("cli", "nginx:1.27")
    spec["spec"]["nodeName"] = node
    await create(api, ns, spec)
    with (tmp_path / "agent.log").open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flagger.playground.nodeagent",
                "--kubeconfig",
                str(plane.kubeconfig),
                "--node-name",
                node,
                "--workdir",
                str(tmp_path / "work"),
                "--first-address",
                "127.0.2.2",
                "--env",
                "HTTP_PROXY=http://127.0.0.1:9",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    async def addressed() -> dict[str, Any] | None:
        found = await get_pod(api, ns, "cli")
        return found if ((found or {}).get("status") or {}).get("podIP") else None

    try:
        found = await eventually(addressed, what="pod cli addressed")
        assert found["status"]["podIP"] == "127.0.2.2"
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 20)
        with contextlib.suppress(Exception):
            await api.delete("v1", "Node", node)
    assert code == 0
    lines = [json.loads(line) for line in (tmp_path / "agent.log").read_text().splitlines()]
    messages = [line["msg"] for line in lines]
    assert "Node agent started" in messages and "Node agent stopped" in messages
