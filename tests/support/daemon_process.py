"""The daemon as users run it: ``flagger run`` in a process of its own, logging JSON lines.

Tests read what it logged (``msg`` per canary, in order), kill it with SIGKILL to prove nothing is
lost, and start it again. Every process started is stopped by :meth:`Daemon.stop`.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time
from typing import Any

from flagger.devcluster import cluster as devcluster
from tests.support.logged_process import LoggedProcess

FLAGGER = pathlib.Path(sys.executable).parent / "flagger"


def run_flags(
    kubeconfig: pathlib.Path | str,
    namespace: str,
    provider: str = "kubernetes",
    *more: str,
    metrics_server: str | None = "http://127.0.0.1:9",
) -> list[str]:
    """The flags both operators (``flagger run`` and Flagger Go) are started with in tests:
    ``kubeconfig``, one watched ``namespace``, the mesh ``provider``, a free port, the
    ``metrics_server`` (default: none to reach, 127.0.0.1:9; ``None``: the flag's default);
    then ``more``."""
    flags = ["-kubeconfig", str(kubeconfig), "-namespace", namespace, "-mesh-provider", provider]
    if metrics_server is not None:
        flags += ["-metrics-server", metrics_server]
    return [*flags, "-port", "0", *more]


class Daemon(LoggedProcess):
    """``flagger run`` with the given flags; log lines appended to ``log``."""

    stop_grace = 15.0

    def start(self) -> Daemon:
        self.spawn([str(FLAGGER), "run", *self.flags])
        return self

    def messages(self, canary: str) -> list[str]:
        """The ``msg`` of every line about ``canary`` (``name.namespace``), in order."""
        return [line["msg"] for line in self.lines() if line.get("canary") == canary]

    def wait_for(self, canary: str, predicate: Any, timeout: float, what: str) -> list[str]:
        """Poll the log until ``predicate(messages)`` holds; fail with the log's tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(canary)
            if predicate(found):
                return found
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.5)
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])
        raise AssertionError(f"{what} not seen for {canary} within {timeout}s; log tail:\n{tail}")

    def wait_phase(
        self, cluster: devcluster.LocalCluster, canary: str, phase: str, timeout: float
    ) -> None:
        """Wait until the Canary ``canary`` (``name.namespace``) is in ``phase``; fail with the
        phase it is in and its last log messages."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if canary_phase(cluster, canary) == phase:
                return
            time.sleep(0.5)
        raise AssertionError(
            f"{canary} not {phase} within {timeout}s (is {canary_phase(cluster, canary)}): "
            f"{self.messages(canary)[-15:]}"
        )


def canary_phase(cluster: devcluster.LocalCluster, canary: str) -> str:
    """``status.phase`` of the Canary ``canary`` (``name.namespace``), read with kubectl."""
    name, namespace = canary.split(".", 1)
    out = cluster.kubectl("get", "canary", name, "-n", namespace, "-o", "json").stdout
    return str((json.loads(out).get("status") or {}).get("phase") or "")
