"""Flagger (Go) itself, for side-by-side tests: the binary named by ``FLAGGER_GO_BIN``.

``make switchover-flagger`` and ``make diff-flagger`` set it (building
``github.com/fluxcd/flagger/cmd/flagger@v1.44.0`` with ``go install`` when needed); without it the
tests that need Flagger (Go) skip, so ``make test`` never needs Go for them.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
from collections.abc import Sequence

import pytest

from tests.support import polling
from tests.support.logged_process import LoggedProcess

VERSION = "1.44.0"


def binary() -> pathlib.Path:
    """The Flagger (Go) binary, or skip the test with the reason."""
    named = os.environ.get("FLAGGER_GO_BIN", "")
    if not named:
        pytest.skip("FLAGGER_GO_BIN is not set (make switchover-flagger / diff-flagger set it)")
    path = pathlib.Path(named)
    if not os.access(path, os.X_OK):
        pytest.skip(f"FLAGGER_GO_BIN={named} is not an executable")
    return path


class FlaggerGo(LoggedProcess):
    """Flagger (Go) with the given flags, its JSON log lines appended to ``log``."""

    def __init__(self, path: pathlib.Path, flags: Sequence[str], log: pathlib.Path) -> None:
        super().__init__(flags, log)
        self.path = path

    def start(self) -> FlaggerGo:
        self.spawn([str(self.path), *self.flags], start_new_session=True)
        return self

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def messages(self, canary: str) -> list[str]:
        return [line["msg"] for line in self.lines() if line.get("canary") == canary]


#: Poll until a predicate holds (:func:`tests.support.polling.wait`).
wait = polling.wait
