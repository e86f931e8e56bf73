"""Everything the playground runs, started in order and stopped in reverse.

1. the local control plane (etcd, kube-apiserver, controller-manager, scheduler) without kwok;
2. the node agent, which runs the pods of known images as processes on 127.0.0.N;
3. the mesh proxy (the Istio data plane every process talks through, ``HTTP_PROXY``);
4. Debian's Prometheus, scraping the proxy, the daemon and the demo apps' pods;
5. the CRDs (ours and Istio's), then the daemon itself: ``flagger run`` in a process of its own;
6. with ``gitops=True``, Flux's source-, kustomize- and helm-controller (`flux_controllers`,
   built once from the Go module proxy) and a Git repository served on 127.0.0.1 (`gitserver`).

:class:`Stack` is an async context manager; leaving it stops every process it started, by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from types import TracebackType
from typing import Any

from flagger.devcluster import cluster as devcluster
from flagger.devcluster import processes
from flagger.kube import client as kube_client
from flagger.playground import flux_controllers, gitserver, meshproxy, nodeagent
from flagger.playground import prometheus_process as prometheus_api

ROOT = pathlib.Path(__file__).resolve().parents[2]
NODE_NAME = "playground-node"
JOBS = ("mesh", "flagger", "pods")


@dataclasses.dataclass
class Endpoints:
    """Where the user reaches what the playground runs."""

    kubeconfig: pathlib.Path
    proxy: str
    prometheus: str
    daemon_metrics: str
    daemon_log: pathlib.Path
    git_url: str = ""
    checkout: pathlib.Path | None = None

    @property
    def git_lines(self) -> str:
        """The Git lines of the "keeps running" note (none in Helm mode)."""
        if not self.git_url:
            return ""
        return (
            f"  git:          git clone {self.git_url}  (or commit in {self.checkout})\n"
            f"  flux:         kubectl --kubeconfig {self.kubeconfig} get gitrepositories,"
            "kustomizations,helmreleases -A\n"
        )


class Stack:
    """The playground's processes (see the module docstring)."""

    def __init__(self, workdir: pathlib.Path | None = None, *, gitops: bool = False) -> None:
        self.workdir = workdir or pathlib.Path(tempfile.mkdtemp(prefix="flagger-playground-"))
        self.gitops = gitops
        self.flux: flux_controllers.Flux | None = None
        self.git: gitserver.GitServer | None = None
        #: How long building Flux's controllers took in this run (0 when cached).
        self.flux_build_seconds = 0.0
        self.cluster: devcluster.LocalCluster | None = None
        self.kube: kube_client.Kube | None = None
        self.agent: nodeagent.NodeAgent | None = None
        self.proxy: meshproxy.MeshProxy | None = None
        self.prometheus: prometheus_api.Prometheus | None = None
        self.daemon: processes.Process | None = None
        self.proxy_port = self.mesh_metrics_port = self.daemon_port = 0
        self._targets_task: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Stack:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self, progress: Any = print) -> None:
        """Start everything; ``progress(text)`` is told what is happening."""
        flux_home = await asyncio.to_thread(self._flux_home, progress) if self.gitops else None
        progress("starting the local control plane (built from Go modules on first use)...")
        self.cluster = await asyncio.to_thread(devcluster.LocalCluster.start, kwok=False)
        progress(f"control plane ready in {self.cluster.ready_seconds:.1f}s")
        self.kube = await kube_client.Kube.connect(str(self.cluster.kubeconfig))
        await asyncio.to_thread(self._install_crds)
        if flux_home is not None:
            began = time.monotonic()
            self.flux = flux_controllers.Flux(self.cluster, self.workdir / "flux", flux_home)
            await asyncio.to_thread(self.flux.start)
            self.git = gitserver.GitServer(self.workdir / "git")
            await self.git.start()
            progress(
                f"Flux's source-, kustomize- and helm-controller running "
                f"({time.monotonic() - began:.1f}s); Git repository at {self.git.url}"
            )
        self.proxy_port = processes.free_port()
        self.mesh_metrics_port = processes.free_port()
        self.proxy = meshproxy.MeshProxy(self.kube)
        await self.proxy.start("127.0.0.1", self.proxy_port, self.mesh_metrics_port)
        progress(f"mesh proxy on {self.proxy_url} (Istio telemetry on :{self.mesh_metrics_port})")
        env = {
            "HTTP_PROXY": self.proxy_url,
            "http_proxy": self.proxy_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "KUBECONFIG": str(self.cluster.kubeconfig),
            "PATH": f"{self.cluster.bin_dir}:{os.environ.get('PATH', '')}",
        }
        self.agent = nodeagent.NodeAgent(self.kube, NODE_NAME, self.workdir / "pods", env)
        await self.agent.start()
        block = self.agent.block
        progress(
            "node agent running pods as processes on "
            + (f"127.{block.octet}.0.0/16" if block else "127.0.0.0/8")
        )
        self.prometheus = prometheus_api.Prometheus(self.workdir / "prometheus", JOBS)
        await asyncio.to_thread(self.prometheus.start)
        self.prometheus.set_targets("mesh", [f"127.0.0.1:{self.mesh_metrics_port}"])
        progress(f"Prometheus on {self.prometheus.url}")
        self.daemon_port = processes.free_port()
        self.prometheus.set_targets("flagger", [f"127.0.0.1:{self.daemon_port}"])
        flagger = pathlib.Path(sys.executable).parent / "flagger"
        self.daemon = processes.start(
            "flagger",
            [
                str(flagger),
                "run",
                "-kubeconfig",
                str(self.cluster.kubeconfig),
                "-mesh-provider",
                "istio",
                "-metrics-server",
                self.prometheus.url,
                "-port",
                str(self.daemon_port),
                "-log-level",
                "info",
                "-cluster-name",
                "playground",
            ],
            self.workdir,
            env={**os.environ, **env},
        )
        progress(f"flagger daemon running (metrics on :{self.daemon_port})")
        self._targets_task = asyncio.create_task(self._follow_pods())

    async def stop(self) -> None:
        """Stop everything started, in reverse order."""
        if self._targets_task is not None:
            self._targets_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._targets_task
        if self.daemon is not None:
            await asyncio.to_thread(self.daemon.stop)
        if self.prometheus is not None:
            await asyncio.to_thread(self.prometheus.stop)
        if self.git is not None:
            await self.git.stop()
        if self.flux is not None:
            await asyncio.to_thread(self.flux.stop)
        if self.agent is not None:
            await self.agent.stop()
        if self.proxy is not None:
            await self.proxy.stop()
        if self.kube is not None:
            await self.kube.close()
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- what users reach -----------------------------------------------------------------

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def endpoints(self) -> Endpoints:
        assert self.cluster is not None and self.prometheus is not None
        return Endpoints(
            self.cluster.kubeconfig,
            self.proxy_url,
            self.prometheus.url,
            f"http://127.0.0.1:{self.daemon_port}/metrics",
            self.workdir / "flagger.log",
            self.git.url if self.git else "",
            self.workdir / "checkout" if self.git else None,
        )

    def daemon_lines(self) -> list[dict[str, Any]]:
        """The daemon's JSON log lines so far."""
        path = self.workdir / "flagger.log"
        found = []
        for raw in path.read_text(errors="replace").splitlines() if path.exists() else []:
            if raw.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    found.append(json.loads(raw))
        return found

    # --- internals ------------------------------------------------------------------------

    def _flux_home(self, progress: Any) -> pathlib.Path:
        """Flux's controllers, built first when the cache lacks them (timed)."""
        try:
            return flux_controllers.locate(build=False)
        except flux_controllers.FluxMissing:
            pass
        progress("building Flux's controllers from the Go module proxy (once; cached after)...")
        began = time.monotonic()
        home = flux_controllers.locate()
        self.flux_build_seconds = time.monotonic() - began
        progress(f"Flux's controllers built in {self.flux_build_seconds:.0f}s")
        return home

    def _install_crds(self) -> None:
        assert self.cluster is not None
        for path in (
            ROOT / "deploy" / "crds" / "crds.yaml",
            ROOT / "tests" / "fixtures" / "crds" / "networking.istio.io.yaml",
        ):
            self.cluster.kubectl("apply", "--server-side", "-f", str(path))
        names = [
            "crd/canaries.flagger.app",
            "crd/metrictemplates.flagger.app",
            "crd/alertproviders.flagger.app",
            "crd/virtualservices.networking.istio.io",
            "crd/destinationrules.networking.istio.io",
        ]
        self.cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)

    async def _follow_pods(self) -> None:
        """Keep Prometheus scraping every running demo-app pod."""
        assert self.kube is not None and self.prometheus is not None
        while True:
            try:
                pods = await self.kube.list("v1", "Pod")
                targets = sorted(
                    f"{pod['status']['podIP']}:{port['containerPort']}"
                    for pod in pods
                    if (pod.get("status") or {}).get("podIP")
                    and (pod.get("status") or {}).get("phase") == "Running"
                    for container in pod["spec"]["containers"]
                    if "podinfo" in container.get("image", "")
                    for port in container.get("ports") or []
                    if port.get("name") == "http"
                )
                self.prometheus.set_targets("pods", targets)
            except Exception:  # a hiccup of the API server must not end the playground
                pass
            await asyncio.sleep(2)
