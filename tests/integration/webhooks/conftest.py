"""The loadtester as users run it: ``python -m flagger.webhooks.loadtester.app`` in a process of its
own on 127.0.0.1, a free port, JSON logs in a file the tests read.

``start_loadtester(*flags, env=...)`` starts one and waits for its "Starting load tester" line;
every process started is stopped after the test (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest

from tests.support.logged_process import LoggedProcess

_STARTED = re.compile(r"Starting load tester v\S+ API on port (\d+)")


def payload(name: str = "podinfo", namespace: str = "test", **metadata: str) -> dict[str, Any]:
    """Flagger's webhook payload for canary ``name.namespace`` with ``metadata``."""
    body: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "phase": "Progressing",
        "checksum": "abc",
    }
    if metadata:
        body["metadata"] = metadata
    return body


class Loadtester(LoggedProcess):
    """One loadtester process; ``url`` once started."""

    def __init__(
        self, flags: list[str], log: pathlib.Path, env: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(flags, log)
        self.env = dict(os.environ if env is None else env)
        self.url = ""

    async def start(self, timeout: float = 20.0) -> Loadtester:
        self.log.write_text("")
        argv = [sys.executable, "-m", "flagger.webhooks.loadtester.app", "-host", "127.0.0.1"]
        process = self.spawn([*argv, "-port=0", "-log-level=debug", *self.flags], env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _STARTED.search(self.log.read_text(errors="replace"))
            if found:
                self.url = f"http://127.0.0.1:{found.group(1)}"
                return self
            if process.poll() is not None:
                raise AssertionError(
                    f"loadtester exited {process.returncode}:\n"
                    + self.log.read_text(errors="replace")
                )
            await asyncio.sleep(0.05)
        raise AssertionError("loadtester did not start:\n" + self.log.read_text(errors="replace"))

    def messages(self) -> list[str]:
        return [line.get("msg", "") for line in self.lines()]

    async def wait_for_message(self, pattern: str, timeout: float = 15.0, count: int = 1) -> None:
        """Wait until ``count`` log messages match the regular expression ``pattern``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for m in self.messages() if re.search(pattern, m)) >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no log message matching {pattern!r}:\n" + "\n".join(self.messages()))

    async def post(
        self,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        token: str | None = None,
        method: str = "POST",
    ) -> tuple[int, str]:
        """Send ``body`` as JSON (or ``raw`` bytes); the status and the response text."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
            session.request(method, self.url + path, data=data, headers=headers) as response,
        ):
            return response.status, await response.text()


StartLoadtester = Callable[..., Awaitable[Loadtester]]


@pytest.fixture
async def start_loadtester(tmp_path: pathlib.Path) -> AsyncIterator[StartLoadtester]:
    """Start loadtesters with the given flags; all are stopped after the test."""
    started: list[Loadtester] = []

    async def start(*flags: str, env: Mapping[str, str] | None = None) -> Loadtester:
        process = Loadtester(list(flags), tmp_path / f"loadtester-{len(started)}.log", env)
        started.append(process)
        return await process.start()

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def make_payload() -> Callable[..., dict[str, Any]]:
    """:func:`payload`: Flagger's webhook payload for a canary, with metadata."""
    return payload
