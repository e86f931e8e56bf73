"""Loadtester tasks against a real process: ``cmd`` (asynchronous, duplicates skipped, per-task
timeout killing the whole process group), ``bash`` (blocking, output, failures), ``helm`` and
``helmv3`` (missing binary, fake binary), environment passed through, and a real ``hey`` run.
``kubectl`` against the local control plane is in ``test_loadtester_kubectl.py``.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from tests.integration.webhooks.conftest import StartLoadtester
from tests.support.local_server import Handler, LocalServer

MakePayload = Callable[..., dict[str, Any]]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not running; it just has not been reaped by its (dead) parent yet
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_cmd_answers_202_at_once_and_runs_in_the_background(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: pathlib.Path
) -> None:
    lt = await start_loadtester()
    out = tmp_path / "out"

    began = time.monotonic()
    status, text = await lt.post("/", make_payload(cmd=f"sleep 1; echo ran >> {out}"))
    assert (status, text) == (202, "")
    assert time.monotonic() - began < 0.8
    assert not out.exists()

    await lt.wait_for_message(rf"command finished sleep 1; echo ran >> {out}")
    assert out.read_text() == "ran\n"
    assert any(m.startswith("command starting sleep 1") for m in lt.messages())


async def test_cmd_already_running_is_skipped_not_queued(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: pathlib.Path
) -> None:
    lt = await start_loadtester()
    out = tmp_path / "runs"
    command = f"echo run >> {out}; sleep 1.5"

    assert (await lt.post("/", make_payload(cmd=command)))[0] == 202
    await asyncio.sleep(0.3)
    assert (await lt.post("/", make_payload(cmd=command)))[0] == 202
    assert (await lt.post("/", make_payload(cmd=command)))[0] == 202
    # another canary's identical command is its own task
    assert (await lt.post("/", make_payload("backend", cmd=command)))[0] == 202
    await lt.wait_for_message("command finished", count=2)
    assert out.read_text() == "run\nrun\n"
    assert lt.messages().count(f"command skipped {command} is already running") == 2

    # once finished, the same command runs again
    assert (await lt.post("/", make_payload(cmd=command)))[0] == 202
    await lt.wait_for_message("command finished", count=3)
    assert out.read_text() == "run\nrun\nrun\n"


async def test_cmd_timeout_kills_the_command_and_its_children(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: pathlib.Path
) -> None:
    lt = await start_loadtester("-timeout", "1s")
    pid_file, out = tmp_path / "pid", tmp_path / "out"
    command = f"sleep 30 & echo $! > {pid_file}; wait; echo late >> {out}"

    began = time.monotonic()
    assert (await lt.post("/", make_payload(cmd=command)))[0] == 202
    await lt.wait_for_message(r"command failed .* signal: killed", timeout=10)
    assert time.monotonic() - began < 5
    child = int(pid_file.read_text())
    for _ in range(50):
        if not _alive(child):
            break
        await asyncio.sleep(0.1)
    assert not _alive(child), "the command's child survived the timeout"
    assert not out.exists()


async def test_bash_blocks_and_answers_200_or_500_with_output(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: pathlib.Path
) -> None:
    lt = await start_loadtester()

    assert await lt.post("/", make_payload(type="bash", cmd="echo hidden")) == (200, "")
    assert await lt.post(
        "/", make_payload(type="bash", cmd="echo shown; echo err >&2", returnCmdOutput="true")
    ) == (200, "shown\nerr\n")
    # bash, not sh: [[ ]] works
    assert await lt.post(
        "/", make_payload(type="bash", cmd="[[ 1 == 1 ]] && echo bash", returnCmdOutput="true")
    ) == (200, "bash\n")
    assert await lt.post("/", make_payload(type="bash", cmd="false")) == (
        500,
        "command false failed: : exit status 1",
    )
    assert await lt.post("/", make_payload(type="bash", cmd="echo oops; exit 3")) == (
        500,
        "command echo oops; exit 3 failed: oops\n: exit status 3",
    )


async def test_bash_is_bounded_by_the_task_timeout(
    start_loadtester: StartLoadtester, make_payload: MakePayload
) -> None:
    lt = await start_loadtester("--timeout=1s")
    began = time.monotonic()
    assert await lt.post("/", make_payload(type="bash", cmd="sleep 30")) == (
        500,
        "command sleep 30 failed: : signal: killed",
    )
    assert time.monotonic() - began < 5


async def test_tasks_inherit_the_loadtesters_environment(
    start_loadtester: StartLoadtester, make_payload: MakePayload
) -> None:
    lt = await start_loadtester(env={**os.environ, "HTTP_PROXY": "http://127.0.0.9:8080"})
    assert await lt.post(
        "/", make_payload(type="bash", cmd="echo $HTTP_PROXY", returnCmdOutput="true")
    ) == (200, "http://127.0.0.9:8080\n")


async def test_helm_missing_is_a_500_naming_the_binary(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: pathlib.Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "bash"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    lt = await start_loadtester(env={**os.environ, "PATH": str(bin_dir)})

    status, text = await lt.post("/", make_payload(type="helm", cmd="test podinfo"))
    assert status == 500
    assert '"helm" is not installed on this loadtester' in text
    status, text = await lt.post("/", make_payload(type="helmv3", cmd="test podinfo"))
    assert status == 500
    assert '"helmv3" or "helm" is not installed' in text


async def test_helm_tasks_run_the_helm_binary_with_the_command_split_on_spaces(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: pathlib.Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text('#!/bin/sh\nfor a in "$@"; do echo "arg:$a"; done\n[ "$1" = test ] || exit 4\n')
    helm.chmod(0o755)
    lt = await start_loadtester(env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})

    for task_type in ("helm", "helmv3"):  # helmv3 falls back to helm when there is no helmv3
        assert await lt.post(
            "/",
            make_payload(type=task_type, cmd="test  podinfo --timeout 3m", returnCmdOutput="true"),
        ) == (200, "arg:test\narg:podinfo\narg:--timeout\narg:3m\n")
    assert await lt.post("/", make_payload(type="helm", cmd="upgrade podinfo")) == (
        500,
        "command upgrade podinfo failed: arg:upgrade\narg:podinfo\n: exit status 4",
    )


class _Counter(LocalServer):
    """An HTTP server counting requests by Host header; also works as hey's forward proxy."""

    def __init__(self) -> None:
        super().__init__()
        self.hosts: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.hosts.append(request.headers.get("Host", ""))
        return web.Response(text="ok")

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("*", "/{tail:.*}", self.handle)]


@pytest.fixture
async def counter() -> AsyncIterator[_Counter]:
    server = await _Counter().start()
    try:
        yield server
    finally:
        await server.stop()


async def test_hey_load_test_as_a_cmd_task(
    start_loadtester: StartLoadtester, make_payload: MakePayload, counter: _Counter
) -> None:
    if shutil.which("hey") is None:
        pytest.fail("hey is not installed: apt-get install -y hey")
    lt = await start_loadtester("-log-cmd-output")
    command = f"hey -z 2s -q 10 -c 2 {counter.url}/"

    assert await lt.post("/", make_payload(cmd=command)) == (202, "")
    await lt.wait_for_message(f"command finished {command}", timeout=20)
    # 2 workers x 10 requests/s x 2 s = 40
    assert 25 <= len(counter.hosts) <= 45, len(counter.hosts)
    assert any("Status code distribution" in m for m in lt.messages())  # -log-cmd-output


async def test_hey_reaches_cluster_names_through_a_proxy_given_with_x(
    start_loadtester: StartLoadtester, make_payload: MakePayload, counter: _Counter
) -> None:
    """hey ignores HTTP_PROXY; ``-x http://proxy`` sends absolute-form requests to the proxy."""
    lt = await start_loadtester(env={**os.environ, "HTTP_PROXY": counter.url})
    command = f"hey -n 6 -c 2 -x {counter.url} http://podinfo-canary.test:9898/"

    assert await lt.post("/", make_payload(cmd=command)) == (202, "")
    await lt.wait_for_message(f"command finished {command}", timeout=20)
    assert counter.hosts == ["podinfo-canary.test:9898"] * 6


async def test_sigterm_stops_the_server_and_kills_running_commands(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: pathlib.Path
) -> None:
    lt = await start_loadtester()
    pid_file = tmp_path / "pid"
    assert (await lt.post("/", make_payload(cmd=f"sleep 60 & echo $! > {pid_file}; wait")))[
        0
    ] == 202
    await lt.wait_for_message("command starting")
    for _ in range(50):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.05)
    child = int(pid_file.read_text())

    began = time.monotonic()
    assert lt.stop() == 0
    assert time.monotonic() - began < 5
    assert "HTTP server stopped" in lt.messages()
    for _ in range(50):
        if not _alive(child):
            break
        await asyncio.sleep(0.1)
    assert not _alive(child)
