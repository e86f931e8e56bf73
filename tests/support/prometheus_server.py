"""A real Prometheus, scraping exporters that the tests run themselves.

:func:`start_prometheus` runs the ``prometheus`` binary (Debian package ``prometheus``; its
system service is not used) on a free 127.0.0.1 port with a temporary config and data
directory, scraping the given ``host:port`` targets every second, and waits until it is ready.
:func:`start_exporter` serves a ``prometheus_client`` registry on a free 127.0.0.1 port.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import prometheus_client
import pytest

PROMETHEUS_BINARY = "prometheus"
READY_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclasses.dataclass
class PrometheusServer:
    """A running Prometheus: its base ``url`` and the process behind it."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: pathlib.Path

    def stop(self) -> None:
        """Terminate Prometheus (kill it if it does not stop within 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        """What Prometheus wrote so far (for failure messages)."""
        path = self.workdir / "prometheus.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def start_prometheus(
    targets: Sequence[str], workdir: pathlib.Path, scrape_interval: str = "1s"
) -> PrometheusServer:
    """Start Prometheus scraping ``targets`` (``host:port`` on 127.0.0.1) and wait until ready.

    Skips the test when the binary is not installed (``apt-get install prometheus``).
    """
    binary = shutil.which(PROMETHEUS_BINARY)
    if binary is None:
        pytest.skip("the prometheus binary is not installed (Debian package 'prometheus')")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  evaluation_interval: {scrape_interval}\n"
        "scrape_configs:\n"
        "  - job_name: test\n"
        "    static_configs:\n"
        f"      - targets: [{', '.join(repr(t) for t in targets)}]\n"
    )
    port = free_port()
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, workdir)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: PrometheusServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"prometheus exited with {server.process.returncode}:\n{server.log()}"
            )
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"prometheus not ready after {READY_TIMEOUT_SECONDS}s:\n{server.log()}")


@dataclasses.dataclass
class Exporter:
    """A ``prometheus_client`` registry served over HTTP on 127.0.0.1."""

    registry: prometheus_client.CollectorRegistry
    target: str  # host:port, for a scrape config
    server: Any

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_exporter(registry: prometheus_client.CollectorRegistry) -> Exporter:
    """Serve ``registry`` on a free 127.0.0.1 port (in a background thread)."""
    port = free_port()
    server, _thread = prometheus_client.start_http_server(port, addr="127.0.0.1", registry=registry)
    return Exporter(registry, f"127.0.0.1:{port}", server)
