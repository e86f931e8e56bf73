"""The operators a bench run compares: this daemon, and Flagger (Go) when its binary is found."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import signal
import subprocess
import sys

OURS = pathlib.Path(sys.executable).parent / "flagger"


@dataclasses.dataclass(frozen=True)
class Operator:
    """How to start one operator against a kubeconfig, serving /metrics on a port."""

    label: str
    binary: pathlib.Path
    prefix: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def argv(self, kubeconfig: pathlib.Path, port: int, *more: str) -> list[str]:
        flags = [
            f"-kubeconfig={kubeconfig}",
            "-mesh-provider=kubernetes",
            "-metrics-server=http://127.0.0.1:9",
            f"-port={port}",
            "-log-level=info",
        ]
        return [str(self.binary), *self.prefix, *flags, *self.extra, *more]


def ours(*extra: str, binary: pathlib.Path | None = None) -> Operator:
    """This daemon (``binary``: another checkout's ``flagger``, e.g. for a before/after)."""
    return Operator("ours", binary or OURS, ("run",), tuple(extra))


def flagger_go(explicit: str | None) -> Operator | None:
    """Flagger (Go) from ``explicit`` or ``$FLAGGER_GO``; None when neither names a binary."""
    path = explicit or os.environ.get("FLAGGER_GO") or ""
    found = shutil.which(path) if path else None
    return Operator("flagger", pathlib.Path(found)) if found else None


class Running:
    """A started operator process in a session of its own, logging to a file."""

    def __init__(self, argv: list[str], log: pathlib.Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after 20 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
