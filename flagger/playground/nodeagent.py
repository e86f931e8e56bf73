"""The playground's node agent: a small kubelet that runs pods as local processes.

The playground has a real control plane but no container runtime. The node agent takes the
kubelet's place (and kwok's, which only pretends): it

- registers a Node (``playground-node`` by default) with plenty of allocatable room, keeps its
  ``Ready`` condition's heartbeat and its ``kube-node-lease`` Lease fresh every
  ``heartbeat_seconds``, so the controller-manager never marks it NotReady;
- watches the pods the real kube-scheduler binds to it, and runs each one with a
  :class:`~flagger.playground.node_pods.PodWorker`: an address of its own (in a 127.X.0.0/16
  block the agent claims, so agents side by side never share one), its
  volumes as files, a process per container for the images of
  :data:`~flagger.playground.node_images.DEFAULT_IMAGES` (the demo app for podinfo, the
  loadtester for flagger-loadtester), readiness/liveness probes, restarts, and the status a
  kubelet reports; containers of other images wait in ``ImagePullBackOff`` and are never
  Ready, as a bad image on a cluster;
- stops a pod's processes when it is deleted and then confirms the deletion.

Every process gets the agent's ``env`` too: that is how the playground's mesh proxy becomes the
``HTTP_PROXY`` of every app, with the pod's identity in it and shims for tools that ignore it
(`node_mesh`), so a bare ``svc`` resolves in the pod's namespace as with cluster DNS. Logs are
JSON lines (``flagger.observability.logs``); each pod's process output is in
``<workdir>/pods/<namespace>_<name>_<uid>/logs/<container>.log``.

Command line::

    python -m flagger.playground.nodeagent --kubeconfig admin.kubeconfig \\
        --workdir /tmp/node --env HTTP_PROXY=http://127.0.0.1:15001 --env NO_PROXY=127.0.0.1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import pathlib
import platform
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from flagger.kube import client as kube_client
from flagger.kube import errors, informers
from flagger.observability import logs
from flagger.playground import node_containers, node_images, node_mesh, node_pods, node_status

__all__ = ["DEFAULT_NODE_NAME", "NodeAgent", "main"]

DEFAULT_NODE_NAME = "playground-node"
HEARTBEAT_SECONDS = 10.0
LEASE_DURATION_SECONDS = 40
#: The longest a pod's processes get between SIGTERM and SIGKILL.
GRACE_CAP_SECONDS = 10.0
#: Between SIGTERM and SIGKILL when the agent itself stops.
STOP_GRACE_SECONDS = 2.0
CAPACITY = {"cpu": "64", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "100Gi"}

log = logs.get_logger(__name__)


def _micro_time() -> str:
    """Now as a Kubernetes MicroTime (a Lease's renewTime)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reduce_pod(node_name: str) -> Any:
    """The informer's view of a pod: what the agent acts on, None for pods of other nodes."""

    def reduce(pod: dict[str, Any]) -> dict[str, Any] | None:
        spec = pod.get("spec") or {}
        if spec.get("nodeName") != node_name:
            return None
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        kept = (
            "name",
            "namespace",
            "uid",
            "labels",
            "annotations",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        )
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {key: meta.get(key) for key in kept},
            "spec": spec,
            "status": {"podIP": status.get("podIP"), "phase": status.get("phase")},
        }

    return reduce


class NodeAgent:
    """Registers a node and runs the pods bound to it as local processes."""

    def __init__(
        self,
        kube: kube_client.Kube,
        node_name: str,
        workdir: pathlib.Path,
        env: Mapping[str, str] | None = None,
        *,
        images: Mapping[str, node_images.ImageProgram] | None = None,
        first_address: str | None = None,
        host_ip: str = "127.0.0.1",
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        grace_cap_seconds: float = GRACE_CAP_SECONDS,
    ) -> None:
        self.kube = kube
        self.node_name = node_name
        self.workdir = pathlib.Path(workdir)
        self.env = dict(env or {})
        #: Repository -> program; may be changed while running (read when a pod starts).
        self.images: dict[str, node_images.ImageProgram] = dict(
            node_images.DEFAULT_IMAGES if images is None else images
        )
        self.host_ip = host_ip
        #: Without ``first_address``, a /16 block of 127.0.0.0/8 no other agent holds.
        self.block = None if first_address else node_status.AddressBlock.claim()
        if self.block is not None:
            self.addresses = node_status.AddressPool(self.block.first, self.block.last)
        else:
            self.addresses = node_status.AddressPool(first_address or "127.0.0.2")
        self._heartbeat_seconds = heartbeat_seconds
        self._grace_cap = grace_cap_seconds
        self._workers: dict[str, node_pods.PodWorker] = {}
        self._by_key: dict[informers.ObjectKey, str] = {}
        self._ended: set[str] = set()
        self._informer: informers.Informer[dict[str, Any] | None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._events: node_pods.EventWriter | None = None
        self._context: node_pods.PodContext | None = None
        self._ready_since = ""
        self._log = log.bind(node=node_name)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Register the node, start heartbeats and run the pods bound to it."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        shims = self.workdir / "bin"
        if node_mesh.write_shims(shims):
            path = self.env.get("PATH") or os.environ.get("PATH", "")
            self.env["PATH"] = f"{shims}:{path}"
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        self._events = node_pods.EventWriter(self.kube, self.node_name)
        self._context = node_pods.PodContext(
            kube=self.kube,
            node_name=self.node_name,
            host_ip=self.host_ip,
            workdir=self.workdir,
            env=self.env,
            images=self.images,
            addresses=self.addresses,
            session=self._session,
            events=self._events,
            grace_cap=self._grace_cap,
        )
        await self._register()
        self._heartbeat = asyncio.create_task(self._beat(), name=f"heartbeat {self.node_name}")
        self._informer = informers.Informer(
            self.kube, "v1", "Pod", reduce=_reduce_pod(self.node_name)
        )
        self._informer.subscribe(self._on_pod)
        self._informer.start()
        await self._informer.wait_synced(60)
        self._log.info("Node agent started", workdir=str(self.workdir))

    async def stop(self) -> None:
        """Stop watching and heartbeating; stop every process the agent started, by PID."""
        if self._informer is not None:
            await self._informer.stop()
            self._informer = None
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        workers = list(self._workers.values())
        await asyncio.gather(
            *(w.shutdown(min(STOP_GRACE_SECONDS, self._grace_cap)) for w in workers)
        )
        self._workers.clear()
        self._by_key.clear()
        self._ended.clear()
        if self._events is not None:
            await self._events.flush()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.block is not None:
            self.block.release()
        self._log.info("Node agent stopped", pods=len(workers))

    async def __aenter__(self) -> NodeAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- reading --------------------------------------------------------------------------

    def processes(self) -> dict[tuple[str, str, str], int]:
        """(namespace, pod, container) -> PID of every process running now."""
        found: dict[tuple[str, str, str], int] = {}
        for worker in self._workers.values():
            for container, pid in worker.pids().items():
                found[(worker.namespace, worker.name, container)] = pid
        return found

    def pod_directory(self, namespace: str, name: str) -> pathlib.Path | None:
        """The working directory of a running pod (volumes, logs), if the agent runs it."""
        for worker in self._workers.values():
            if (worker.namespace, worker.name) == (namespace, name):
                return worker.directory
        return None

    # --- the node -------------------------------------------------------------------------

    def _node_status(self) -> dict[str, Any]:
        now = node_containers.now_rfc3339()
        self._ready_since = self._ready_since or now
        conditions = [
            {
                "type": kind,
                "status": "False",
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": self._ready_since,
            }
            for kind, reason, message in (
                ("MemoryPressure", "KubeletHasSufficientMemory", "enough memory"),
                ("DiskPressure", "KubeletHasNoDiskPressure", "no disk pressure"),
                ("PIDPressure", "KubeletHasSufficientPID", "enough PIDs"),
            )
        ]
        conditions.append(
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "playground node agent is posting ready status",
                "lastHeartbeatTime": now,
                "lastTransitionTime": self._ready_since,
            }
        )
        return {
            "capacity": CAPACITY,
            "allocatable": CAPACITY,
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": self.host_ip},
                {"type": "Hostname", "address": self.node_name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kernelVersion": platform.release(),
                "osImage": platform.platform(),
                "containerRuntimeVersion": "playground://local-processes",
                "kubeletVersion": "v0.0.0-playground",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    async def _register(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "labels": {
                    "kubernetes.io/hostname": self.node_name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "flagger.app/playground": "true",
                },
                "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
            },
            "spec": {},
            "status": self._node_status(),
        }
        with contextlib.suppress(errors.Conflict):
            await self.kube.create(node)
        await self._post_status()
        await self._renew_lease()
        self._log.info("Node registered")

    async def _post_status(self) -> None:
        await self.kube.patch(
            "v1",
            "Node",
            self.node_name,
            None,
            {"status": self._node_status()},
            patch_type="strategic",
            subresource="status",
        )

    async def _renew_lease(self) -> None:
        spec = {
            "holderIdentity": self.node_name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": _micro_time(),
        }
        try:
            await self.kube.patch(
                "coordination.k8s.io/v1", "Lease", self.node_name, "kube-node-lease", {"spec": spec}
            )
        except errors.NotFound:
            node = await self.kube.get("v1", "Node", self.node_name)
            owners = (
                []
                if node is None
                else [
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "name": self.node_name,
                        "uid": node["metadata"]["uid"],
                    }
                ]
            )
            await self.kube.create(
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {
                        "name": self.node_name,
                        "namespace": "kube-node-lease",
                        "ownerReferences": owners,
                    },
                    "spec": spec,
                }
            )

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                await self._renew_lease()
                await self._post_status()
            except errors.NotFound:
                self._log.warning("Node object gone; registering again")
                with contextlib.suppress(errors.ApiError):
                    await self._register()
            except errors.ApiError as error:
                self._log.warning("Heartbeat failed", error=str(error))

    # --- pods -----------------------------------------------------------------------------

    def _on_pod(
        self, key: informers.ObjectKey, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        if new is None:
            uid = self._by_key.pop(key, None)
            self._ended.discard(uid or "")
            worker = self._workers.get(uid or "")
            if worker is not None:
                worker.vanished()
            return
        uid = str(new["metadata"]["uid"])
        previous = self._by_key.get(key)
        if previous is not None and previous != uid and previous in self._workers:
            self._workers[previous].vanished()
        self._by_key[key] = uid
        worker = self._workers.get(uid)
        if worker is None:
            if uid in self._ended:
                return  # its processes stopped; the API has not forgotten it yet
            if new["status"].get("phase") in ("Succeeded", "Failed"):
                return  # finished before the agent (re)started: nothing to run
            if self._context is None:
                return
            worker = node_pods.PodWorker(self._context, new, self._forget)
            self._workers[uid] = worker
            worker.start()
        else:
            worker.update(new)

    def _forget(self, worker: node_pods.PodWorker) -> None:
        if self._workers.get(worker.uid) is worker:
            del self._workers[worker.uid]
            self._ended.add(worker.uid)


# --- command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flagger.playground.nodeagent",
        description="Run the pods bound to one node as local processes (the playground's kubelet).",
    )
    parser.add_argument(
        "--kubeconfig",
        help="kubeconfig of the control plane (default: in-cluster or ~/.kube/config)",
    )
    parser.add_argument(
        "--node-name",
        default=DEFAULT_NODE_NAME,
        help=f"the Node to register (default {DEFAULT_NODE_NAME})",
    )
    parser.add_argument(
        "--workdir",
        type=pathlib.Path,
        help="where pods' volumes and logs go (default: a new temporary dir)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable every process gets, e.g. HTTP_PROXY=... (repeatable)",
    )
    parser.add_argument(
        "--first-address",
        help="the first pod address handed out (default: a 127.X.0.0/16 block no other agent "
        "on this machine holds, from 127.X.0.2)",
    )
    parser.add_argument("--heartbeat-seconds", type=float, default=HEARTBEAT_SECONDS)
    parser.add_argument("--log-level", default="info", help="debug, info, warn or error")
    return parser


def _parse_env(pairs: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            parser.error(f"--env wants NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


async def _serve(args: argparse.Namespace, env: dict[str, str]) -> None:
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="flagger-node-"))
    kube = await kube_client.Kube.connect(args.kubeconfig)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    agent = NodeAgent(
        kube,
        args.node_name,
        workdir,
        env,
        first_address=args.first_address,
        heartbeat_seconds=args.heartbeat_seconds,
    )
    try:
        await agent.start()
        await stopping.wait()
    finally:
        await agent.stop()
        await kube.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the node agent until SIGINT or SIGTERM; the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    env = _parse_env(args.env, parser)
    try:
        logs.setup(args.log_level)
    except ValueError as error:
        parser.error(str(error))
    asyncio.run(_serve(args, env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
