"""The loadtester's HTTP API against a real process: fixed endpoints, gates, rollback gates,
malformed requests, and the access rules (namespace regexp, bearer token, command allow-list).

Matrix: endpoint x (open/closed gate, good/bad payload, matching/non-matching namespace,
no/wrong/right token, allowed/refused command).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.webhooks.conftest import StartLoadtester

MakePayload = Callable[..., dict[str, Any]]


async def test_fixed_endpoints_answer_like_flaggers(
    start_loadtester: StartLoadtester, make_payload: MakePayload
) -> None:
    lt = await start_loadtester()
    assert await lt.post("/healthz", method="GET") == (200, "OK")
    assert await lt.post("/gate/approve", make_payload()) == (200, "OK")
    assert await lt.post("/gate/halt", make_payload()) == (403, "Forbidden")
    status, text = await lt.post("/metrics", method="GET")
    assert status == 200
    assert "process_cpu_seconds_total" in text or "python_info" in text


async def test_gates_start_closed_and_open_and_close_per_canary(
    start_loadtester: StartLoadtester, make_payload: MakePayload
) -> None:
    lt = await start_loadtester()
    podinfo, other = make_payload("podinfo", "test"), make_payload("backend", "test")

    assert await lt.post("/gate/check", podinfo) == (403, "Forbidden")
    assert await lt.post("/gate/open", podinfo) == (202, "")
    assert await lt.post("/gate/check", podinfo) == (200, "Approved")
    assert await lt.post("/gate/check", other) == (403, "Forbidden")
    assert await lt.post("/gate/close", podinfo) == (202, "")
    assert await lt.post("/gate/check", podinfo) == (403, "Forbidden")

    messages = lt.messages()
    assert "podinfo.test gate opened" in messages
    assert "podinfo.test gate check: approved true" in messages
    assert "podinfo.test gate closed" in messages
    assert "backend.test gate check: approved false" in messages


async def test_rollback_gates_are_separate_from_the_promotion_gates(
    start_loadtester: StartLoadtester, make_payload: MakePayload
) -> None:
    lt = await start_loadtester()
    podinfo = make_payload()

    assert await lt.post("/rollback/check", podinfo) == (403, "Forbidden")
    assert await lt.post("/gate/open", podinfo) == (202, "")
    assert await lt.post("/rollback/check", podinfo) == (403, "Forbidden")
    assert await lt.post("/rollback/open", podinfo) == (202, "")
    assert await lt.post("/rollback/check", podinfo) == (200, "Approved")
    assert await lt.post("/gate/close", podinfo) == (202, "")
    assert await lt.post("/rollback/check", podinfo) == (200, "Approved")
    assert await lt.post("/rollback/close", podinfo) == (202, "")
    assert await lt.post("/rollback/check", podinfo) == (403, "Forbidden")
    assert "rollback.podinfo.test rollback opened" in lt.messages()


async def test_malformed_task_requests_are_refused_with_flaggers_messages(
    start_loadtester: StartLoadtester, make_payload: MakePayload
) -> None:
    lt = await start_loadtester()

    status, text = await lt.post("/", raw=b"{not json")
    assert status == 400 and "decoding the request body failed" in text
    assert (await lt.post("/gate/check", raw=b""))[0] == 400
    assert await lt.post("/", make_payload()) == (400, "metadata not found in payload")
    assert await lt.post("/", make_payload(type="grpc", cmd="x")) == (400, "unknown task type grpc")
    assert await lt.post("/", make_payload(type="cmd")) == (400, "cmd not found in metadata")
    assert await lt.post("/", make_payload(logCmdOutput="true")) == (
        400,
        "cmd not found in metadata",
    )
    for task_type in ("concord", "ngrinder"):
        status, text = await lt.post("/", make_payload(type=task_type, cmd="x"))
        assert status == 501
        assert f"task type {task_type} is not supported" in text


async def test_namespace_regexp_refuses_other_namespaces_everywhere_but_approve_and_halt(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: Any
) -> None:
    lt = await start_loadtester("-namespace-regexp=^test$")
    outsider = make_payload("podinfo", "test-2", cmd=f"touch {tmp_path}/ran")

    for path in (
        "/",
        "/gate/check",
        "/gate/open",
        "/gate/close",
        "/rollback/check",
        "/rollback/open",
        "/rollback/close",
    ):
        assert await lt.post(path, outsider) == (403, "Forbidden"), path
    assert await lt.post("/gate/approve", outsider) == (200, "OK")

    assert await lt.post("/gate/open", make_payload("podinfo", "test")) == (202, "")
    assert await lt.post("/", make_payload("podinfo", "test", cmd="true")) == (202, "")
    assert not (tmp_path / "ran").exists()


async def test_token_guards_every_endpoint_but_healthz(
    start_loadtester: StartLoadtester, make_payload: MakePayload
) -> None:
    lt = await start_loadtester("--token", "s3cret")

    assert await lt.post("/healthz", method="GET") == (200, "OK")
    for path in ("/gate/approve", "/gate/check", "/gate/open", "/", "/metrics"):
        status, text = await lt.post(path, make_payload(cmd="true"))
        assert status == 401, path
        assert "Authorization: Bearer" in text
        assert (await lt.post(path, make_payload(cmd="true"), token="wrong"))[0] == 401
    assert await lt.post("/gate/approve", make_payload(), token="s3cret") == (200, "OK")
    assert await lt.post("/gate/open", make_payload(), token="s3cret") == (202, "")
    assert await lt.post("/gate/check", make_payload(), token="s3cret") == (200, "Approved")


async def test_token_from_the_environment(
    start_loadtester: StartLoadtester, make_payload: MakePayload
) -> None:
    import os

    lt = await start_loadtester(env={**os.environ, "LOADTESTER_TOKEN": "from-env"})
    assert (await lt.post("/gate/approve", make_payload()))[0] == 401
    assert await lt.post("/gate/approve", make_payload(), token="from-env") == (200, "OK")


async def test_allow_list_refuses_commands_that_match_no_pattern(
    start_loadtester: StartLoadtester, make_payload: MakePayload, tmp_path: Any
) -> None:
    marker = tmp_path / "allowed"
    lt = await start_loadtester("-allow", r"touch \S+", "--allow=kubectl get \\S+")

    status, text = await lt.post("/", make_payload(cmd=f"rm -rf {tmp_path}"))
    assert status == 403
    assert f'command "rm -rf {tmp_path}" is not allowed' in text
    status, text = await lt.post("/", make_payload(type="bash", cmd="cat /etc/passwd"))
    assert status == 403 and '"cat /etc/passwd"' in text
    # a prefix is not enough: the whole command must match
    status, _ = await lt.post("/", make_payload(cmd=f"touch {marker}; rm -rf {tmp_path}"))
    assert status == 403
    # tool tasks are matched on the command line they run
    status, text = await lt.post("/", make_payload(type="kubectl", cmd="delete ns test"))
    assert status == 403 and '"kubectl delete ns test"' in text

    assert await lt.post("/", make_payload(cmd=f"touch {marker}")) == (202, "")
    await lt.wait_for_message(f"command finished touch {marker}")
    assert marker.exists()
    assert tmp_path.exists()
