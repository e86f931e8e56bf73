"""A child process the tests start, its output appended to a log file: what the daemon,
loadtester and Flagger (Go) wrappers share."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
from collections.abc import Sequence
from typing import Any, ClassVar


class LoggedProcess:
    """``flags`` for the program; :meth:`spawn` runs it with stdout and stderr appended to
    ``log``; :meth:`stop` asks it to end (SIGTERM, then SIGKILL after :attr:`stop_grace`)."""

    #: Seconds :meth:`stop` waits after SIGTERM before SIGKILL.
    stop_grace: ClassVar[float] = 10.0

    def __init__(self, flags: Sequence[str], log: pathlib.Path) -> None:
        self.flags, self.log = list(flags), log
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` (no stdin) with its output appended to the log."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **popen
            )
        return self.process

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, saved or cleaned up on the way out."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after :attr:`stop_grace` seconds; the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.stop_grace)
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
