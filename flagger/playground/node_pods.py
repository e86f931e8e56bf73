"""One pod on the playground node: its address, directory, containers, status and end.

A :class:`PodWorker` does for one pod what a kubelet's pod worker does:

1. takes an address from the :class:`~flagger.playground.node_status.AddressPool` (the one the
   pod already reports, when the agent restarted);
2. writes the pod's volumes into ``<workdir>/pods/<namespace>_<name>_<uid>/volumes`` (waiting,
   with a ``FailedMount`` event, while a ConfigMap or Secret is missing) and refreshes them
   every :data:`VOLUME_REFRESH_SECONDS`;
3. starts a :class:`~flagger.playground.node_containers.ContainerRunner` per container: images
   in the table run their program with the pod's environment and the agent's (``HTTP_PROXY``,
   ``NO_PROXY``...), other images run nothing: their containers wait in
   ``ImagePullBackOff`` (never Ready) with ``Failed`` and ``BackOff`` Events, as on a cluster;
4. writes the pod's status through the status subresource whenever a container changes;
5. when the pod is being deleted, stops the processes (grace period from the pod, capped) and
   then deletes the pod object with grace 0, as a kubelet confirms a deletion; when the pod
   object vanishes first (a forced deletion), it just stops the processes.

Process output goes to ``<pod dir>/logs/<container>.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import pathlib
import secrets
import shutil
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from flagger.kube import client as kube_client
from flagger.kube import errors
from flagger.observability import logs
from flagger.playground import node_containers, node_images, node_mesh, node_podspec, node_status

__all__ = ["COMPONENT", "EventWriter", "PodContext", "PodWorker", "base_environment"]

COMPONENT = "playground-nodeagent"
VOLUME_REFRESH_SECONDS = 10.0
STATUS_DEBOUNCE_SECONDS = 0.05
STATUS_RETRY_SECONDS = 1.0
#: Variables of the agent's own environment that every process inherits.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")

log = logs.get_logger(__name__)


def base_environment() -> dict[str, str]:
    """What every process gets before the pod's own variables: a usable PATH and locale."""
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class EventWriter:
    """Writes core/v1 Events about pods in the background; failures are logged, not raised."""

    def __init__(self, kube: kube_client.Kube, node_name: str) -> None:
        self._kube = kube
        self._node_name = node_name
        self._tasks: set[asyncio.Task[None]] = set()

    def record(
        self,
        pod: Mapping[str, Any],
        kind: str,
        reason: str,
        message: str,
        container: str | None = None,
    ) -> None:
        """Queue an Event of type ``kind`` (Normal, Warning) on ``pod``."""
        meta = pod.get("metadata") or {}
        now = node_containers.now_rfc3339()
        involved: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        }
        if container:
            involved["fieldPath"] = f"spec.containers{{{container}}}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name')}.{secrets.token_hex(8)}",
                "namespace": meta.get("namespace"),
            },
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": COMPONENT, "host": self._node_name},
            "reportingComponent": COMPONENT,
            "reportingInstance": self._node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        task = asyncio.create_task(self._write(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, event: dict[str, Any]) -> None:
        try:
            await self._kube.create(event)
        except Exception as error:  # an Event is best effort
            log.warning("Could not write an event", reason=event["reason"], error=str(error))

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait (a bounded time) for the queued Events."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


@dataclasses.dataclass
class PodContext:
    """What every pod worker shares with the agent."""

    kube: kube_client.Kube
    node_name: str
    host_ip: str
    workdir: pathlib.Path
    env: Mapping[str, str]
    images: Mapping[str, node_images.ImageProgram]
    addresses: node_status.AddressPool
    session: aiohttp.ClientSession
    events: EventWriter
    grace_cap: float

    async def fetch(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A ConfigMap or Secret, or None."""
        return await self.kube.get("v1", kind, name, namespace)


class PodWorker:
    """Runs one pod's containers and reports its status until the pod goes away."""

    def __init__(
        self, context: PodContext, pod: dict[str, Any], on_done: Callable[[PodWorker], None]
    ) -> None:
        meta = pod["metadata"]
        self.uid = str(meta["uid"])
        self.namespace = str(meta["namespace"])
        self.name = str(meta["name"])
        self.pod = pod
        self.address = ""
        self._context = context
        self._on_done = on_done
        self._wake = asyncio.Event()
        self._vanished = False
        self._finished = False
        self._task: asyncio.Task[None] | None = None
        self._runners: list[node_containers.ContainerRunner] = []
        self._volumes: dict[str, pathlib.Path] = {}
        self._status: node_status.PodStatus | None = None
        self._written: dict[str, Any] | None = None
        self._mount_error = ""
        self.directory = context.workdir / "pods" / f"{self.namespace}_{self.name}_{self.uid[:8]}"
        self._log = log.bind(pod=f"{self.namespace}/{self.name}")

    # --- from the agent -------------------------------------------------------------------

    def start(self) -> None:
        """Start working on the pod (in a background task)."""
        self._task = asyncio.create_task(self._run(), name=f"pod {self.namespace}/{self.name}")

    def update(self, pod: dict[str, Any]) -> None:
        """The pod object changed."""
        self.pod = pod
        self._wake.set()

    def vanished(self) -> None:
        """The pod object is gone from the API: stop the processes, delete nothing."""
        self._vanished = True
        self._wake.set()

    async def shutdown(self, grace: float) -> None:
        """Stop every process of the pod now (the agent is stopping)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._finish(grace)

    def pids(self) -> dict[str, int]:
        """Container name -> PID of its running process."""
        return {r.name: r.pid for r in self._runners if r.pid is not None}

    @property
    def done(self) -> bool:
        """True once the pod's processes stopped and its address was returned."""
        return self._finished

    # --- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._work()
        except asyncio.CancelledError:
            raise
        except Exception:
            self._log.error("Pod worker failed", exc_info=True)
        await self._finish(self._grace())

    async def _work(self) -> None:
        spec = self.pod.get("spec") or {}
        self.address = self._context.addresses.allocate((self.pod.get("status") or {}).get("podIP"))
        self._status = node_status.PodStatus(self.address, self._context.host_ip)
        self._log.info("Pod assigned", pod_ip=self.address)
        self._runners = [self._runner(container) for container in spec.get("containers") or []]
        while not await self._mount():
            if await self._wait_for_end(node_containers.CONFIG_RETRY):
                return
        if (self.pod.get("metadata") or {}).get("deletionTimestamp"):
            await self._finish(0.0)  # deleted before it ever ran
            await self._confirm_deletion()
            return
        for runner in self._runners:
            runner.start()
        refreshed = asyncio.get_running_loop().time()
        while True:
            if await self._wait_for_end(VOLUME_REFRESH_SECONDS):
                return
            if asyncio.get_running_loop().time() - refreshed >= VOLUME_REFRESH_SECONDS:
                await self._mount()
                refreshed = asyncio.get_running_loop().time()

    async def _wait_for_end(self, timeout: float) -> bool:
        """Write the status, wait for news; True when the pod has ended (and was handled)."""
        await self._write_status()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        await asyncio.sleep(STATUS_DEBOUNCE_SECONDS)
        if self._vanished:
            self._log.info("Pod is gone; stopping its containers")
            await self._finish(self._grace())
            return True
        if (self.pod.get("metadata") or {}).get("deletionTimestamp"):
            grace = self._grace()
            self._log.info("Pod is being deleted; stopping its containers", grace_seconds=grace)
            await self._finish(grace)
            await self._confirm_deletion()
            return True
        return False

    async def _mount(self) -> bool:
        """Write or refresh the volumes; False (with a FailedMount event) while one cannot be."""
        try:
            self._volumes = await node_podspec.write_volumes(
                self._view(), self.directory / "volumes", self._context.fetch
            )
        except node_podspec.ConfigError as error:
            if str(error) != self._mount_error:
                self._mount_error = str(error)
                self._context.events.record(
                    self.pod, "Warning", "FailedMount", f"MountVolume.SetUp failed: {error}"
                )
            return False
        except errors.ApiError as error:
            self._log.warning("Could not read a volume's source", error=str(error))
            return bool(self._volumes)
        self._mount_error = ""
        return True

    def _grace(self) -> float:
        meta = self.pod.get("metadata") or {}
        spec = self.pod.get("spec") or {}
        seconds = meta.get("deletionGracePeriodSeconds")
        if seconds is None:
            seconds = spec.get("terminationGracePeriodSeconds", 30)
        return float(min(max(float(seconds or 0), 0.0), self._context.grace_cap))

    async def _finish(self, grace: float) -> None:
        if self._finished:
            return
        self._finished = True
        await asyncio.gather(*(runner.stop(grace) for runner in self._runners))
        if self.address:
            self._context.addresses.release(self.address)
        shutil.rmtree(self.directory / "volumes", ignore_errors=True)
        self._on_done(self)

    async def _confirm_deletion(self) -> None:
        """Delete the pod object for good (grace 0), only the instance this worker ran."""
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}"
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": self.uid},
        }
        try:
            await self._context.kube.request("DELETE", path, body=body)
        except (errors.NotFound, errors.Conflict):
            pass
        except errors.ApiError as error:
            self._log.warning("Could not delete the pod", error=str(error))
            return
        self._log.info("Pod deleted")

    # --- containers -----------------------------------------------------------------------

    def _runner(self, container: dict[str, Any]) -> node_containers.ContainerRunner:
        context = self._context
        image = str(container.get("image", ""))
        found = node_images.lookup(context.images, image)
        name = str(container["name"])
        if found is None:
            # As a kubelet whose registry lacks the image: the pod never becomes Ready.
            context.events.record(
                self.pod,
                "Warning",
                "Failed",
                f'Failed to pull image "{image}": the playground has no local program for '
                "this image (known: " + ", ".join(sorted(context.images)) + ")",
                container=name,
            )
            context.events.record(
                self.pod, "Normal", "BackOff", f'Back-off pulling image "{image}"', container=name
            )
            self._log.info("Image has no local program: ImagePullBackOff", image=image)
        prepare = None if found is None else self._preparer(container, *found)
        return node_containers.ContainerRunner(
            spec=container,
            prepare=prepare,
            log_path=self.directory / "logs" / f"{name}.log",
            restart_policy=str((self.pod.get("spec") or {}).get("restartPolicy") or "Always"),
            pod_ip=self.address,
            session=context.session,
            notify=self._wake.set,
            record=lambda kind, reason, message: context.events.record(
                self.pod, kind, reason, message, container=name
            ),
            kill_grace=self._grace(),
            log=self._log,
        )

    def _preparer(
        self, container: dict[str, Any], program: node_images.ImageProgram, tag: str
    ) -> node_containers.Prepare:
        async def prepare() -> node_containers.Launch:
            pod = self._view()
            own = await node_podspec.container_env(pod, container, self._context.fetch)
            env = {
                **base_environment(),
                **program.environment(tag),
                "HOSTNAME": self.name,
                **node_mesh.identified_proxy_env(self._context.env, self.namespace, self.name),
                **own,
            }
            command = [node_podspec.expand(str(w), own) for w in container.get("command") or []]
            args = [node_podspec.expand(str(w), own) for w in container.get("args") or []]
            argv = program.command_line(command, args, self.address)
            argv = node_podspec.rewrite_paths(argv, node_podspec.mounts(container, self._volumes))
            self.directory.mkdir(parents=True, exist_ok=True)
            return node_containers.Launch(argv=argv, env=env, cwd=self.directory)

        return prepare

    def _view(self) -> dict[str, Any]:
        """The pod with the addresses this agent gave it (for the downward API)."""
        status = {
            "podIP": self.address,
            "podIPs": [{"ip": self.address}],
            "hostIP": self._context.host_ip,
            "hostIPs": [{"ip": self._context.host_ip}],
        }
        return {**self.pod, "status": status}

    # --- status ---------------------------------------------------------------------------

    async def _write_status(self) -> None:
        if self._status is None or self._finished:
            return
        restart_policy = str((self.pod.get("spec") or {}).get("restartPolicy") or "Always")
        status = self._status.build([r.status() for r in self._runners], restart_policy)
        if status == self._written:
            return
        try:
            await self._context.kube.patch(
                "v1",
                "Pod",
                self.name,
                self.namespace,
                {"status": status},
                patch_type="strategic",
                subresource="status",
            )
        except errors.NotFound:
            self._vanished = True
            self._wake.set()
            return
        except errors.ApiError as error:
            self._log.warning("Could not write the pod status", error=str(error))
            await asyncio.sleep(STATUS_RETRY_SECONDS)
            self._wake.set()  # try again on the next round
            return
        self._written = status
