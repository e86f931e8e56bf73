"""nginx as an ingress controller for the tests: the process, the Ingress watch, the metrics.

- :class:`NginxProcess` runs Debian's ``nginx`` binary with a private prefix and configuration in
  a temporary directory (pid file, logs and temp paths there), listening on a free 127.0.0.1
  port, and reloads it with ``nginx -s reload``.
- :class:`IngressController` lists and watches the Ingresses of one namespace on the local
  control plane, renders them (:mod:`.config`) and reloads nginx whenever the configuration
  changes. Each configuration has a generation number that nginx returns in a response header,
  so :meth:`IngressController.wait_applied` knows when a reload is serving.
- :class:`AccessLogExporter` tails nginx's JSON access log and publishes, with ingress-nginx's
  names and labels, ``nginx_ingress_controller_requests`` (a counter, exposed without the
  ``_total`` suffix prometheus_client would add) and the histogram
  ``nginx_ingress_controller_response_duration_seconds`` (``_sum``, ``_count``, ``_bucket``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import prometheus_client
import pytest

from flagger.kube import client as kube_client
from flagger.kube import errors as kube_errors

from . import config

NGINX_BINARY = "nginx"
INGRESS_API = "networking.k8s.io/v1"
CONTROLLER_LABELS = {
    "controller_namespace": "ingress-nginx",
    "controller_class": "k8s.io/ingress-nginx",
    "controller_pod": "ingress-nginx-controller-test",
}
REQUEST_LABELS = ("status", "method", "path", "host", "namespace", "ingress", "service", "canary")


def nginx_binary() -> str:
    """The nginx binary; skips the test when Debian's ``nginx`` package is not installed."""
    for candidate in (shutil.which(NGINX_BINARY), "/usr/sbin/nginx"):
        if candidate and pathlib.Path(candidate).exists():
            return candidate
    pytest.skip("the nginx binary is not installed (Debian package 'nginx')")


class NginxProcess:
    """One nginx master (daemonized, found by its pid file) with a private prefix."""

    def __init__(self, workdir: pathlib.Path, port: int) -> None:
        self.workdir, self.port = workdir, port
        self.binary = nginx_binary()
        self.conf = workdir / "nginx.conf"
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        self.started = False

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [
                self.binary,
                "-p",
                str(self.workdir),
                "-c",
                str(self.conf),
                "-e",
                str(self.workdir / "error.log"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"nginx {' '.join(args) or 'start'} failed: {done.stderr}\n{self.conf.read_text()}"
            )

    def apply(self, text: str) -> None:
        """Write the configuration, test it, and start nginx or reload it."""
        self.conf.write_text(text)
        self._run("-t", "-q")
        if self.started:
            self._run("-s", "reload")
        else:
            self._run()
            self.started = True

    def pid(self) -> int | None:
        path = self.workdir / "nginx.pid"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def workers(self) -> list[int]:
        """The master's child processes (after a reload, old workers linger until they finish
        their requests; a configuration is fully in effect when only new ones are left)."""
        master = self.pid()
        found: list[int] = []
        if master is None:
            return found
        for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == master:
                    found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        """``nginx -s stop``, then make sure this master (by its pid file) is gone."""
        if not self.started:
            return
        pid = self.pid()
        with contextlib.suppress(RuntimeError):
            self._run("-s", "stop")
        self.started = False
        if pid is None:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class IngressController:
    """Watches a namespace's Ingresses and keeps nginx's configuration in step with them."""

    def __init__(
        self,
        kube: kube_client.Kube,
        namespace: str,
        nginx: NginxProcess,
        addresses: Mapping[str, str],
        prefix: str = config.DEFAULT_PREFIX,
    ) -> None:
        self.kube, self.namespace, self.nginx = kube, namespace, nginx
        self.addresses, self.prefix = dict(addresses), prefix
        self.ingresses: dict[str, dict[str, Any]] = {}
        self.generation = 0
        self.locations: list[config.Location] = []
        self.rendered = ""
        self.errors: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._sync()
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.nginx.stop()

    async def _watch(self) -> None:
        while True:
            try:
                items, version = await self.kube.list_snapshot(
                    INGRESS_API, "Ingress", self.namespace
                )
                self.ingresses = {i["metadata"]["name"]: i for i in items}
                self._render()
                async for event in self.kube.watch(
                    INGRESS_API,
                    "Ingress",
                    self.namespace,
                    resource_version=version,
                    timeout_seconds=60,
                ):
                    obj = event.get("object") or {}
                    name = str((obj.get("metadata") or {}).get("name") or "")
                    if event.get("type") == "DELETED":
                        self.ingresses.pop(name, None)
                    elif event.get("type") in ("ADDED", "MODIFIED"):
                        self.ingresses[name] = obj
                    else:
                        continue
                    self._render()
            except asyncio.CancelledError:
                raise
            except (TimeoutError, kube_errors.Gone, aiohttp.ClientError) as exc:
                self.errors.append(repr(exc))
                await asyncio.sleep(0.2)
            except Exception as exc:  # keep watching; the test sees the errors if it fails
                self.errors.append(repr(exc))
                await asyncio.sleep(0.5)

    async def _sync(self) -> None:
        items = await self.kube.list(INGRESS_API, "Ingress", self.namespace)
        self.ingresses = {i["metadata"]["name"]: i for i in items}
        self._render()

    def _render(self) -> None:
        found = config.locations(list(self.ingresses.values()), self.prefix)
        if found == self.locations and self.nginx.started:
            return
        generation = self.generation + 1
        text = config.render(
            found,
            self.addresses,
            port=self.nginx.port,
            workdir=str(self.nginx.workdir),
            generation=generation,
        )
        self.nginx.apply(text)
        self.generation, self.locations, self.rendered = generation, found, text

    def location(self, ingress: str) -> config.Location | None:
        """The current location of a main Ingress (its first path)."""
        for found in self.locations:
            if found.ingress == ingress:
                return found
        return None

    async def wait_applied(
        self,
        predicate: Callable[[IngressController], bool],
        session: aiohttp.ClientSession,
        host: str,
        timeout: float = 30.0,
    ) -> None:
        """Until ``predicate(self)`` holds and nginx answers with the current generation."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if predicate(self):
                want = str(self.generation)
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(
                        f"http://127.0.0.1:{self.nginx.port}/__generation", headers={"Host": host}
                    ) as resp:
                        if (
                            resp.headers.get(config.GENERATION_HEADER) == want
                            and len(self.nginx.workers()) == 1
                        ):
                            return
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"nginx configuration not applied within {timeout}s; "
            f"locations={self.locations} errors={self.errors[-3:]}"
        )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _RequestsCounter:
    """``nginx_ingress_controller_requests`` as ingress-nginx exposes it: a counter named
    without the ``_total`` suffix that prometheus_client would add, so written out here."""

    name = "nginx_ingress_controller_requests"

    def __init__(self) -> None:
        self.counts: dict[tuple[str, ...], float] = {}
        self.lock = threading.Lock()

    def inc(self, labels: tuple[str, ...]) -> None:
        with self.lock:
            self.counts[labels] = self.counts.get(labels, 0.0) + 1.0

    def exposition(self) -> str:
        with self.lock:
            rows = sorted(self.counts.items())
        lines = [
            f"# HELP {self.name} The total number of client requests",
            f"# TYPE {self.name} counter",
        ]
        for labels, value in rows:
            pairs = {**CONTROLLER_LABELS, **dict(zip(REQUEST_LABELS, labels, strict=True))}
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(pairs.items()))
            lines.append(f"{self.name}{{{text}}} {value}")
        return "\n".join(lines) + "\n"


class AccessLogExporter:
    """Tails nginx's JSON access log into a ``prometheus_client`` registry."""

    def __init__(self, log: pathlib.Path) -> None:
        self.log = log
        self.registry = prometheus_client.CollectorRegistry()
        self.requests = _RequestsCounter()
        self.response_duration = prometheus_client.Histogram(
            "nginx_ingress_controller_response_duration_seconds",
            "The time spent on receiving the response from the upstream server",
            [*CONTROLLER_LABELS, *REQUEST_LABELS],
            registry=self.registry,
        )
        self.lines = 0
        self._offset = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._tail())

    def exposition(self) -> bytes:
        """The Prometheus text format of both metrics."""
        self.read_new()
        return self.requests.exposition().encode() + prometheus_client.generate_latest(
            self.registry
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.read_new()

    async def _tail(self) -> None:
        while True:
            self.read_new()
            await asyncio.sleep(0.2)

    def read_new(self) -> None:
        """Account for every complete line written since the last call."""
        if not self.log.exists():
            return
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n")
        if end < 0:
            return
        self._offset += end + 1
        for raw in data[: end + 1].splitlines():
            self._account(raw)

    def _account(self, raw: bytes) -> None:
        try:
            entry = json.loads(raw)
        except ValueError:
            return
        if not entry.get("ingress"):
            return  # the default server, or a probe outside any Ingress
        self.lines += 1
        labels = tuple(str(entry.get(name) or "") for name in REQUEST_LABELS)
        self.requests.inc(labels)
        seconds = _seconds(str(entry.get("upstream_response_time") or ""))
        if seconds is not None:
            self.response_duration.labels(*CONTROLLER_LABELS.values(), *labels).observe(seconds)


def _seconds(value: str) -> float | None:
    """nginx's ``$upstream_response_time`` (``0.004``, or ``0.002, 0.004`` after retries)."""
    total = 0.0
    for part in value.split(","):
        part = part.strip()
        if not part or part == "-":
            return None
        total += float(part)
    return total
