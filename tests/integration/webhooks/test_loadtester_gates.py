"""Gates across a restart: with ``-gates-file`` and ``-gates-configmap`` an opened gate is still
open after the loadtester is killed (SIGKILL, so nothing is saved on the way out) and started
again; without either, gates are forgotten as in Flagger.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

from flagger.devcluster import cluster as devcluster
from tests.integration.webhooks.conftest import Loadtester, StartLoadtester

MakePayload = Callable[..., dict[str, Any]]


async def _change_gates(lt: Loadtester, make_payload: MakePayload) -> None:
    assert (await lt.post("/gate/open", make_payload("frontend", "test")))[0] == 202
    assert (await lt.post("/rollback/open", make_payload("backend", "test")))[0] == 202
    assert (await lt.post("/gate/open", make_payload("backend", "test")))[0] == 202
    assert (await lt.post("/gate/close", make_payload("backend", "test")))[0] == 202


async def _assert_gates_kept(lt: Loadtester, make_payload: MakePayload) -> None:
    assert await lt.post("/gate/check", make_payload("frontend", "test")) == (200, "Approved")
    assert await lt.post("/rollback/check", make_payload("backend", "test")) == (200, "Approved")
    assert await lt.post("/gate/check", make_payload("backend", "test")) == (403, "Forbidden")
    assert await lt.post("/rollback/check", make_payload("frontend", "test")) == (403, "Forbidden")
    assert await lt.post("/gate/check", make_payload("never", "test")) == (403, "Forbidden")


async def test_gates_file_keeps_gates_across_a_kill(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: pathlib.Path
) -> None:
    gates_file = tmp_path / "state" / "gates.json"
    first = await start_loadtester("-gates-file", str(gates_file))
    await _change_gates(first, make_payload)
    first.kill()

    assert json.loads(gates_file.read_text()) == {
        "gates": {"frontend.test": True, "rollback.backend.test": True, "backend.test": False},
        "keys": {},
    }

    second = await start_loadtester(f"--gates-file={gates_file}")
    assert f"gates kept in file {gates_file}: 3 loaded" in second.messages()
    await _assert_gates_kept(second, make_payload)


async def test_idempotency_keys_survive_a_loadtester_kill(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: pathlib.Path
) -> None:
    """A cmd task repeated with its key (a daemon retrying a step) runs once, even when the
    loadtester was killed in between; another key runs; the header counts as the metadata."""
    gates_file, out = tmp_path / "gates.json", tmp_path / "runs"
    command = f"echo run >> {out}"
    first = await start_loadtester("-gates-file", str(gates_file))
    assert (await first.post("/", make_payload(cmd=command, idempotencyKey="step-1")))[0] == 202
    await first.wait_for_message(f"command finished {command}")
    first.kill()

    second = await start_loadtester("-gates-file", str(gates_file))
    assert (await second.post("/", make_payload(cmd=command, idempotencyKey="step-1")))[0] == 202
    await second.wait_for_message(f"command skipped {command}: idempotency key step-1 already ran")
    assert (await second.post("/", make_payload(cmd=command, idempotencyKey="step-2")))[0] == 202
    await second.wait_for_message(f"command finished {command}")
    assert out.read_text() == "run\nrun\n"


async def test_unreadable_gates_file_stops_the_start_with_a_message(tmp_path: pathlib.Path) -> None:
    import subprocess
    import sys

    gates_file = tmp_path / "gates.json"
    gates_file.write_text("{broken")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flagger.webhooks.loadtester.app",
            "-port=0",
            "-host=127.0.0.1",
            f"-gates-file={gates_file}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert f"gates file {gates_file} is not JSON" in done.stderr


async def test_without_a_store_gates_are_lost_on_restart(
    start_loadtester: StartLoadtester, make_payload: MakePayload
) -> None:
    first = await start_loadtester()
    assert (await first.post("/gate/open", make_payload()))[0] == 202
    first.kill()
    second = await start_loadtester()
    assert await second.post("/gate/check", make_payload()) == (403, "Forbidden")


@pytest.mark.cluster
async def test_gates_configmap_keeps_gates_across_a_kill(
    start_loadtester: StartLoadtester,
    make_payload: MakePayload,
    cluster: devcluster.LocalCluster,
    namespace: str,
) -> None:
    flags = (
        f"-gates-configmap={namespace}/loadtester-gates",
        "-kubeconfig",
        str(cluster.kubeconfig),
    )
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    first = await start_loadtester(*flags, env=env)
    await _change_gates(first, make_payload)
    first.kill()

    stored = cluster.api("GET", f"/api/v1/namespaces/{namespace}/configmaps/loadtester-gates")
    assert stored["data"] == {
        "frontend.test": "true",
        "rollback.backend.test": "true",
        "backend.test": "false",
    }

    second = await start_loadtester(*flags, env=env)
    assert f"gates kept in configmap {namespace}/loadtester-gates: 3 loaded" in second.messages()
    await _assert_gates_kept(second, make_payload)
