"""One container of a pod, run as a local process: start, probe, restart, stop.

A :class:`ContainerRunner` is the node agent's container runtime and prober for one container:

1. it asks for a :class:`Launch` (argv, environment, working directory) each time it starts the
   process, so a ConfigMap change is seen on a restart, as with a kubelet; a missing reference
   keeps the container waiting (``CreateContainerConfigError``) and is tried again every second;
2. the process runs in a session of its own (so stopping it stops whatever it started), with
   its output appended to the container's log file, and is asked by the kernel to die with
   the agent;
3. probes follow Kubernetes: the startup probe first, then readiness (Ready only after it
   passes; no probe: Ready once the process runs) and liveness (failures past the threshold
   restart the container). One liberty: until the container is Ready for the first time, the
   readiness probe runs every :data:`FIRST_READY_INTERVAL` seconds instead of ``periodSeconds``,
   so nobody waits ten seconds for an app that started in one;
4. an exited process is started again by the pod's ``restartPolicy``, after a back-off that
   starts at :data:`BACKOFF_INITIAL` seconds and doubles up to :data:`BACKOFF_MAX` (reset after a
   run of :data:`BACKOFF_RESET` seconds), counting ``restartCount``;
5. :meth:`ContainerRunner.stop` sends SIGTERM to the process group, then SIGKILL after the
   grace period.

A container whose image has no local program (``prepare`` None) waits in ``ImagePullBackOff``
and is never Ready, as a bad image on a cluster.
:meth:`ContainerRunner.status` is the container's ``containerStatuses`` entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import datetime
import os
import pathlib
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from flagger.observability import logs
from flagger.playground import node_podspec, node_probes

__all__ = ["ContainerRunner", "Launch", "Prepare", "Record", "now_rfc3339"]

BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 60.0
BACKOFF_RESET = 60.0
CONFIG_RETRY = 1.0
FIRST_READY_INTERVAL = 0.5
_PR_SET_PDEATHSIG = 1


@dataclasses.dataclass(frozen=True)
class Launch:
    """What to start: the command line, the whole environment and the working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: pathlib.Path


#: Builds the Launch for the next start; raises `node_podspec.ConfigError` when it cannot.
Prepare = Callable[[], Awaitable[Launch]]
#: Records an Event on the pod: (type, reason, message).
Record = Callable[[str, str, str], None]


def now_rfc3339() -> str:
    """The current time as Kubernetes writes it (seconds, UTC)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM when the agent dies."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal_group(pid: int, signum: int) -> None:
    """Signal the process group led by ``pid`` (the process and what it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


class ContainerRunner:
    """Runs, probes and restarts one container's process; reports its status."""

    def __init__(
        self,
        *,
        spec: dict[str, Any],
        prepare: Prepare | None,
        log_path: pathlib.Path,
        restart_policy: str,
        pod_ip: str,
        session: aiohttp.ClientSession,
        notify: Callable[[], None],
        record: Record,
        kill_grace: float,
        log: logs.CanaryLogger,
    ) -> None:
        self.name = str(spec["name"])
        self.image = str(spec.get("image", ""))
        self._prepare = prepare
        self._log_path = log_path
        self._restart_policy = restart_policy
        self._pod_ip = pod_ip
        self._session = session
        self._notify = notify
        self._record = record
        self._kill_grace = kill_grace
        self._log = log.bind(container=self.name)
        self._readiness = node_probes.parse(spec.get("readinessProbe"), spec)
        self._liveness = node_probes.parse(spec.get("livenessProbe"), spec)
        self._startup = node_probes.parse(spec.get("startupProbe"), spec)
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = False
        self.started = False
        self.restart_count = 0
        self._ever_ready = False
        self._state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
        self._last_state: dict[str, Any] = {}
        self._last_config_error = ""

    # --- reading --------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The PID of the running process, if any."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def runs_process(self) -> bool:
        """Whether the image has a local program (otherwise the container is only reported)."""
        return self._prepare is not None

    def status(self) -> dict[str, Any]:
        """The container's entry in the pod's ``status.containerStatuses``."""
        pid = self.pid
        return {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "containerID": f"playground://{pid}" if pid else "",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self._state,
            "lastState": self._last_state,
        }

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the container (in a background task)."""
        if self._prepare is None:
            self._waiting("ImagePullBackOff", f'Back-off pulling image "{self.image}"')
            return
        self._task = asyncio.create_task(self._run(self._prepare), name=f"container {self.name}")

    async def stop(self, grace: float) -> None:
        """Stop for good: no more restarts; SIGTERM, then SIGKILL after ``grace`` seconds."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        process = self._process
        if process is not None and process.returncode is None:
            self._log.info("Stopping container", pid=process.pid, grace_seconds=grace)
            await self._terminate(process, grace)
        self.ready = False

    async def _terminate(self, process: asyncio.subprocess.Process, grace: float) -> None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
        # Whatever the process started and left behind in its group goes too.
        _signal_group(process.pid, signal.SIGKILL)

    # --- the loop -------------------------------------------------------------------------

    async def _run(self, prepare: Prepare) -> None:
        backoff = BACKOFF_INITIAL
        first = True
        while True:
            try:
                launch = await prepare()
            except node_podspec.ConfigError as error:
                self._waiting("CreateContainerConfigError", str(error))
                if str(error) != self._last_config_error:
                    self._last_config_error = str(error)
                    self._record("Warning", "Failed", f"Error: {error}")
                await asyncio.sleep(CONFIG_RETRY)
                continue
            if not first:
                self.restart_count += 1
            first = False
            began = time.monotonic()
            started_at = now_rfc3339()
            try:
                process = await self._spawn(launch)
            except OSError as error:
                self._waiting("RunContainerError", f"{type(error).__name__}: {error}")
                exit_code = 128
            else:
                exit_code = await self._supervise(process, started_at)
            if not self._restarts(exit_code):
                self._state = self._last_state
                self._last_state = {}
                self._notify()
                return
            if time.monotonic() - began >= BACKOFF_RESET:
                backoff = BACKOFF_INITIAL
            if "waiting" not in self._state:
                self._waiting(
                    "CrashLoopBackOff",
                    f"back-off {backoff:.0f}s restarting failed container={self.name}",
                )
            self._record("Warning", "BackOff", f"Back-off restarting failed container {self.name}")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _spawn(self, launch: Launch) -> asyncio.subprocess.Process:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                *launch.argv,
                env=launch.env,
                cwd=str(launch.cwd),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self._process = process
        self._log.info("Started container", pid=process.pid, argv=launch.argv)
        self._record("Normal", "Started", f"Started container {self.name}")
        return process

    async def _supervise(self, process: asyncio.subprocess.Process, started_at: str) -> int:
        """Probe the running process until it exits; its exit code (128+signal when killed)."""
        self._state = {"running": {"startedAt": started_at}}
        self.started = self._startup is None
        self._notify()
        prober = asyncio.create_task(self._probe(process), name=f"probes {self.name}")
        try:
            returncode = await process.wait()
        finally:
            prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await prober
        exit_code = returncode if returncode >= 0 else 128 - returncode
        self._log.info("Container exited", pid=process.pid, exit_code=exit_code)
        self.ready = False
        self._last_state = {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": started_at,
                "finishedAt": now_rfc3339(),
                "containerID": f"playground://{process.pid}",
            }
        }
        self._state = {"waiting": {"reason": "ContainerCreating"}}
        self._notify()
        return exit_code

    def _restarts(self, exit_code: int) -> bool:
        if self._restart_policy == "Never":
            return False
        return self._restart_policy != "OnFailure" or exit_code != 0

    def _waiting(self, reason: str, message: str) -> None:
        self._state = {"waiting": {"reason": reason, "message": message}}
        self.ready = False
        self._notify()

    # --- probes ---------------------------------------------------------------------------

    async def _probe(self, process: asyncio.subprocess.Process) -> None:
        if self._startup is not None:
            if not await self._until_started(self._startup, process):
                return
            self.started = True
            self._notify()
        await asyncio.gather(self._ready_loop(), self._live_loop(process))

    async def _until_started(
        self, probe: node_probes.Probe, process: asyncio.subprocess.Process
    ) -> bool:
        await asyncio.sleep(probe.initial_delay)
        failures = 0
        while True:
            passed, why = await node_probes.check(probe, self._pod_ip, self._session)
            if passed:
                return True
            failures += 1
            if failures >= probe.failure_threshold:
                await self._kill_unhealthy(process, "Startup", why)
                return False
            await asyncio.sleep(probe.period)

    async def _ready_loop(self) -> None:
        probe = self._readiness
        if probe is None or probe.kind == "pass":
            self._set_ready(True)
            return
        await asyncio.sleep(probe.initial_delay)
        successes = failures = 0
        while True:
            passed, why = await node_probes.check(probe, self._pod_ip, self._session)
            if passed:
                successes, failures = successes + 1, 0
                if successes >= probe.success_threshold:
                    self._set_ready(True)
            else:
                successes, failures = 0, failures + 1
                if failures >= probe.failure_threshold:
                    if self.ready:
                        self._record("Warning", "Unhealthy", f"Readiness probe failed: {why}")
                    self._set_ready(False)
            interval = probe.period if self._ever_ready else min(probe.period, FIRST_READY_INTERVAL)
            await asyncio.sleep(interval)

    async def _live_loop(self, process: asyncio.subprocess.Process) -> None:
        probe = self._liveness
        if probe is None or probe.kind == "pass":
            return
        await asyncio.sleep(probe.initial_delay)
        failures = 0
        while True:
            passed, why = await node_probes.check(probe, self._pod_ip, self._session)
            failures = 0 if passed else failures + 1
            if failures >= probe.failure_threshold:
                await self._kill_unhealthy(process, "Liveness", why)
                return
            await asyncio.sleep(probe.period)

    async def _kill_unhealthy(
        self, process: asyncio.subprocess.Process, which: str, why: str
    ) -> None:
        self._log.info(f"{which} probe failed, restarting container", reason=why)
        self._record("Warning", "Unhealthy", f"{which} probe failed: {why}")
        self._record(
            "Normal",
            "Killing",
            f"Container {self.name} failed {which.lower()} probe, will be restarted",
        )
        self._set_ready(False)
        await self._terminate(process, self._kill_grace)

    def _set_ready(self, ready: bool) -> None:
        if ready:
            self._ever_ready = True
        if ready != self.ready:
            self.ready = ready
            self._notify()
