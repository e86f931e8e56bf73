"""The daemon as users run it: ``flagger run`` in a process of its own, logging JSON lines.

Tests read what it logged (``msg`` per canary, in order), kill it with SIGKILL to prove nothing is
lost, and start it again. Every process started is stopped by :meth:`Daemon.stop`.
"""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

FLAGGER = pathlib.Path(sys.executable).parent / "flagger"


class Daemon:
    """``flagger run`` with the given flags; log lines appended to ``log``."""

    def __init__(self, flags: Sequence[str], log: pathlib.Path) -> None:
        self.flags, self.log = list(flags), log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(FLAGGER), "run", *self.flags],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 15 s; the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def lines(self) -> list[dict[str, Any]]:
        """Every JSON log line so far (other output is ignored)."""
        found = []
        for raw in self.log.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    found.append(json.loads(raw))
                except json.JSONDecodeError:
                    continue
        return found

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
