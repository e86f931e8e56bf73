"""Child processes of the local control plane: start, wait for health, stop by PID.

Every child is started in its own session with a parent-death signal, so that even when the
Python process is killed outright the control plane does not outlive it.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGTERM it when its parent dies."""
    # Without glibc the atexit/fixture stop still applies.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class StartFailed(RuntimeError):
    """A component exited or did not become healthy in time; the message has its log's tail."""


@dataclasses.dataclass
class Process:
    """One running component, its command line and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: pathlib.Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 25) -> str:
        """The last lines of the component's log."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if not self.alive():
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=grace)
        except ProcessLookupError:
            pass


def start(
    name: str, argv: Sequence[str], log_dir: pathlib.Path, env: dict[str, str] | None = None
) -> Process:
    """Start ``argv`` with stdout and stderr going to ``<log_dir>/<name>.log``."""
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            env=env,
        )
    return Process(name, popen, log)


def wait_until(process: Process, check: Callable[[], bool], timeout: float) -> None:
    """Poll ``check`` until it is true; fail early when the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise StartFailed(
                f"{process.name} exited with code {process.popen.returncode}:\n{process.tail()}"
            )
        try:
            if check():
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise StartFailed(f"{process.name} not healthy after {timeout:.0f}s:\n{process.tail()}")


def http_ok(url: str, token: str | None = None, context: ssl.SSLContext | None = None) -> bool:
    """True when ``url`` answers 200."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False
