"""The loadtester runs each command once per idempotency key, whatever the task type.

For ``cmd`` (background), ``bash``, ``kubectl``, ``helm`` and ``helmv3`` (blocking) tasks: a
call repeated with its key (a daemon retrying a step after a crash, or an HTTP retry) does not
run the command again and its answer says so (``Idempotent-Replayed: true``; a blocking task's
repeat gets the first run's status and output); a different key runs it again; the key is read
from the ``Idempotency-Key`` header or ``metadata.idempotencyKey``. The application runs in
process on 127.0.0.1; the tools are small scripts on ``PATH`` that append to a file, so every
run is counted.
"""

from __future__ import annotations

import asyncio
import pathlib
import stat
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import test_utils

from flagger.hooks import idempotency
from flagger.webhooks.loadtester import access as access_rules
from flagger.webhooks.loadtester import app, tasks
from flagger.webhooks.loadtester import gates as gates_store

TOOLS = ("kubectl", "helm")


@pytest.fixture
def runs(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """The file every run appends a line to; fake ``kubectl`` and ``helm`` on ``PATH``."""
    out = tmp_path / "runs"
    out.write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {out}\necho "{tool} ran $*"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return out


@pytest.fixture
async def client() -> AsyncIterator[test_utils.TestClient[Any, Any]]:
    application = app.build_app(
        access_rules.Access(),
        gates_store.Gates(gates_store.MemoryStore()),
        tasks.CommandRunner(timeout=30.0),
        idempotency_window=600.0,
    )
    server = test_utils.TestServer(application, host="127.0.0.1", port=0)
    async with test_utils.TestClient(server) as opened:
        yield opened


def _payload(task_type: str, command: str, **metadata: str) -> dict[str, Any]:
    return {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "abc",
        "metadata": {"type": task_type, "cmd": command, **metadata},
    }


async def _lines(runs: pathlib.Path, count: int) -> list[str]:
    """The runs so far, once there are ``count`` (background ``cmd`` tasks take a moment)."""
    for _ in range(1000):  # up to 20 s: a shared machine can be slow to start a process
        lines = runs.read_text().splitlines()
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.02)
    return runs.read_text().splitlines()


CASES = [
    ("cmd", "sh -c 'echo cmd $0 >> {runs}' {word}"),
    ("bash", "echo bash {word} >> {runs}; echo bash ran {word}"),
    ("kubectl", "get pods {word}"),
    ("helm", "test {word}"),
    ("helmv3", "test {word}"),
]


@pytest.mark.parametrize(("task_type", "template"), CASES, ids=[c[0] for c in CASES])
async def test_a_repeated_key_runs_once_and_the_answer_says_so(
    client: test_utils.TestClient[Any, Any], runs: pathlib.Path, task_type: str, template: str
) -> None:
    command = template.format(runs=runs, word="one")
    first = await client.post(
        "/", json=_payload(task_type, command), headers={idempotency.HEADER: "step-1"}
    )
    assert first.status in (200, 202), await first.text()
    assert app.REPLAYED_HEADER not in first.headers
    assert len(await _lines(runs, 1)) == 1

    # the same key, in the header or in the metadata: not run again, and said so
    for again in (
        await client.post(
            "/", json=_payload(task_type, command), headers={idempotency.HEADER: "step-1"}
        ),
        await client.post("/", json=_payload(task_type, command, idempotencyKey="step-1")),
    ):
        assert again.status == first.status
        assert again.headers[app.REPLAYED_HEADER] == "true"
        if task_type == "cmd":
            assert await again.text() == "command skipped: idempotency key step-1 already ran"
        else:  # the first run's answer, as it was
            assert await again.text() == await first.text()
    await asyncio.sleep(0.2)  # room for a wrongly started background run to show up
    assert len(runs.read_text().splitlines()) == 1

    # another key (the next step) runs it again
    second = await client.post(
        "/", json=_payload(task_type, command), headers={idempotency.HEADER: "step-2"}
    )
    assert second.status == first.status and app.REPLAYED_HEADER not in second.headers
    assert len(await _lines(runs, 2)) == 2


async def test_without_a_key_every_call_runs(
    client: test_utils.TestClient[Any, Any], runs: pathlib.Path
) -> None:
    command = f"echo bash >> {runs}"
    for _ in range(2):
        answer = await client.post("/", json=_payload("bash", command))
        assert answer.status == 200
    assert runs.read_text().splitlines() == ["bash", "bash"]


async def test_a_repeat_during_the_first_run_waits_for_its_answer(
    client: test_utils.TestClient[Any, Any], runs: pathlib.Path
) -> None:
    """An HTTP retry of a slow blocking task (the daemon's attempt timed out) gets the first
    run's answer when it ends, and the command runs once."""
    command = f"sleep 0.5; echo bash >> {runs}; echo done"
    headers = {idempotency.HEADER: "slow"}
    body = _payload("bash", command, returnCmdOutput="true")
    first, again = await asyncio.gather(
        client.post("/", json=body, headers=headers),
        client.post("/", json=body, headers=headers),
    )
    assert (first.status, await first.text()) == (200, "done\n")
    assert (again.status, await again.text()) == (200, "done\n")
    assert [app.REPLAYED_HEADER in r.headers for r in (first, again)].count(True) == 1
    assert runs.read_text().splitlines() == ["bash"]


async def test_a_failed_run_is_answered_as_a_failure_again_not_rerun(
    client: test_utils.TestClient[Any, Any], runs: pathlib.Path
) -> None:
    command = f"echo bash >> {runs}; exit 3"
    headers = {idempotency.HEADER: "failing"}
    first = await client.post("/", json=_payload("bash", command), headers=headers)
    again = await client.post("/", json=_payload("bash", command), headers=headers)
    assert first.status == again.status == 500
    assert await again.text() == await first.text()
    assert again.headers[app.REPLAYED_HEADER] == "true"
    assert runs.read_text().splitlines() == ["bash"]


async def test_a_key_that_ran_before_a_restart_is_refused_not_rerun(
    tmp_path: pathlib.Path, runs: pathlib.Path
) -> None:
    """The key is kept across a restart (gates file), its answer is not: a repeat is a 409
    that names the reason, so the check fails rather than passing unearned or running twice."""
    store = tmp_path / "gates.json"
    command = f"echo bash >> {runs}"
    headers = {idempotency.HEADER: "before-restart"}
    for attempt in range(2):
        gates = gates_store.Gates(gates_store.FileStore(store))
        await gates.load()
        application = app.build_app(
            access_rules.Access(), gates, tasks.CommandRunner(timeout=30.0), 600.0
        )
        server = test_utils.TestServer(application, host="127.0.0.1", port=0)
        async with test_utils.TestClient(server) as fresh:
            answer = await fresh.post("/", json=_payload("bash", command), headers=headers)
            if attempt == 0:
                assert answer.status == 200
            else:
                assert answer.status == 409
                assert answer.headers[app.REPLAYED_HEADER] == "true"
                assert "already ran (before this loadtester restarted" in await answer.text()
    assert runs.read_text().splitlines() == ["bash"]
