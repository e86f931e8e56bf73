"""Webhook calls against a real HTTP receiver on 127.0.0.1.

Matrix: the request (method, path, content type, exact JSON body), success up to 202 and
failure from 203 with the body as the message, timeouts, retries (500, 503, 429 retried; 501
and 4xx not; connection refused retried), ``retries: 0``, bad timeouts and URLs, and
``disableTLS`` against a self-signed HTTPS receiver.
"""

from __future__ import annotations

import json
import pathlib
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.hooks import calls, idempotency, payloads

MakeCanary = Callable[..., canary_api.Canary]
FAST = calls.CallPolicy(wait_min=0.01, wait_max=0.05)


def hook(url: str, **fields: Any) -> analysis_api.CanaryWebhook:
    return analysis_api.CanaryWebhook.model_validate(
        {"name": "acceptance-test", "url": url, **fields}
    )


async def test_posts_flaggers_json_document(receiver: Any, make_canary: MakeCanary) -> None:
    canary = make_canary(status={"phase": "Progressing", "lastAppliedSpec": "abc"})
    result = await calls.call(
        hook(f"{receiver.url}/gate/check", type="pre-rollout", metadata={"cmd": "curl"}),
        canary,
        "Progressing",
    )
    assert result.ok and result.status == 200 and result.attempts == 1
    [request] = receiver.received
    assert request.path == "/gate/check"
    assert request.headers["Content-Type"] == "application/json"
    key = idempotency.hook_key(canary, hook("x", type="pre-rollout"), "Progressing")
    assert request.headers["Idempotency-Key"] == key
    assert json.loads(request.body) == {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": payloads.checksum(canary),
        "metadata": {"cmd": "curl", "idempotencyKey": key},
    }


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (201, True), (202, True), (203, False), (204, False), (403, False)],
)
async def test_success_means_status_up_to_202(
    receiver: Any, make_canary: MakeCanary, status: int, ok: bool
) -> None:
    receiver.answer({"status": status, "body": "" if status == 204 else "gate closed"})
    result = await calls.call(hook(receiver.url), make_canary(), "Progressing")
    assert result.ok is ok
    assert result.status == status
    assert result.attempts == 1


async def test_failure_message_is_the_response_body(receiver: Any, make_canary: MakeCanary) -> None:
    receiver.answer({"status": 403, "body": "Forbidden: gate podinfo.test is closed"})
    result = await calls.call(hook(receiver.url), make_canary(), "Progressing")
    assert not result.ok
    assert str(result) == "Forbidden: gate podinfo.test is closed"
    assert (
        f"Halt podinfo.test advancement pre-rollout check acceptance-test failed {result}"
        == "Halt podinfo.test advancement pre-rollout check acceptance-test failed "
        "Forbidden: gate podinfo.test is closed"
    )


async def test_slow_receiver_times_out(receiver: Any, make_canary: MakeCanary) -> None:
    receiver.answer({"delay": 2.0})
    began = time.monotonic()
    result = await calls.call(hook(receiver.url, timeout="300ms"), make_canary(), "Progressing")
    assert time.monotonic() - began < 1.5
    assert not result.ok and result.status is None
    assert result.message == (
        f'POST {receiver.url} giving up after 1 attempt(s): Post "{receiver.url}": '
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    )


async def test_timeout_is_per_attempt_and_retried(receiver: Any, make_canary: MakeCanary) -> None:
    receiver.answer({"delay": 2.0}, {"status": 200})
    result = await calls.call(
        hook(receiver.url, timeout="300ms", retries=1), make_canary(), "Progressing", policy=FAST
    )
    assert result.ok and result.attempts == 2


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_retryable_statuses_are_retried_up_to_retries(
    receiver: Any, make_canary: MakeCanary, status: int
) -> None:
    receiver.answer({"status": status, "body": "try later"})
    result = await calls.call(
        hook(receiver.url, retries=3), make_canary(), "Progressing", policy=FAST
    )
    assert len(receiver.received) == 4
    assert result.attempts == 4 and not result.ok
    assert result.status == status and result.body == "try later"
    assert result.message == f"POST {receiver.url} giving up after 4 attempt(s)"


async def test_retry_succeeds_when_the_receiver_recovers(
    receiver: Any, make_canary: MakeCanary
) -> None:
    receiver.answer({"status": 503}, {"status": 500}, {"status": 202})
    result = await calls.call(
        hook(receiver.url, retries=5), make_canary(), "Progressing", policy=FAST
    )
    assert result.ok and result.status == 202 and len(receiver.received) == 3


@pytest.mark.parametrize("status", [501, 400, 404])
async def test_501_and_client_errors_are_not_retried(
    receiver: Any, make_canary: MakeCanary, status: int
) -> None:
    receiver.answer({"status": status, "body": "nope"})
    result = await calls.call(
        hook(receiver.url, retries=3), make_canary(), "Progressing", policy=FAST
    )
    assert len(receiver.received) == 1
    assert not result.ok and result.message == "nope"


async def test_a_5xx_without_retries_gives_go_retryablehttps_message(
    receiver: Any, make_canary: MakeCanary
) -> None:
    receiver.answer({"status": 500, "body": "exit status 1"})
    result = await calls.call(hook(receiver.url), make_canary(), "Progressing")
    assert len(receiver.received) == 1
    assert result.message == f"POST {receiver.url} giving up after 1 attempt(s)"
    assert result.body == "exit status 1"


async def test_backoff_grows_between_attempts(receiver: Any, make_canary: MakeCanary) -> None:
    receiver.answer({"status": 503})
    policy = calls.CallPolicy(wait_min=0.1, wait_max=0.25)
    began = time.monotonic()
    await calls.call(hook(receiver.url, retries=3), make_canary(), "Progressing", policy=policy)
    # Waits 0.1, 0.2 and 0.25 (capped): at least 0.55 s in all.
    assert 0.5 <= time.monotonic() - began < 2.0


async def test_retry_after_is_honoured_within_the_bound(
    receiver: Any, make_canary: MakeCanary
) -> None:
    receiver.answer({"status": 429, "headers": {"Retry-After": "3600"}}, {"status": 200})
    began = time.monotonic()
    result = await calls.call(
        hook(receiver.url, retries=1),
        make_canary(),
        "Progressing",
        policy=calls.CallPolicy(wait_min=0.01, wait_max=0.2),
    )
    assert result.ok
    assert 0.15 <= time.monotonic() - began < 1.5


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_is_retried(make_canary: MakeCanary) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/"
    result = await calls.call(hook(url, retries=2), make_canary(), "Progressing", policy=FAST)
    assert result.attempts == 3 and not result.ok and result.status is None
    port = url.rsplit(":", 1)[1].rstrip("/")
    assert result.message == (
        f'POST {url} giving up after 3 attempt(s): Post "{url}": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    )


async def test_invalid_timeout_fails_without_a_request(
    receiver: Any, make_canary: MakeCanary
) -> None:
    result = await calls.call(hook(receiver.url, timeout="10 seconds"), make_canary(), "")
    assert not result.ok and result.message == 'time: invalid duration "10 seconds"'
    assert receiver.received == []


async def test_one_character_timeout_means_ten_seconds(
    receiver: Any, make_canary: MakeCanary
) -> None:
    result = await calls.call(hook(receiver.url, timeout="5"), make_canary(), "")
    assert result.ok


async def test_url_without_scheme_is_not_retried(make_canary: MakeCanary) -> None:
    result = await calls.call(
        hook("podinfo-loadtester/", retries=3), make_canary(), "", policy=FAST
    )
    assert result.attempts == 1
    assert result.message == (
        'POST podinfo-loadtester/ giving up after 1 attempt(s): Post "podinfo-loadtester/": '
        'unsupported protocol scheme ""'
    )


async def test_password_in_url_is_redacted_in_the_message(make_canary: MakeCanary) -> None:
    url = f"http://user:secret@127.0.0.1:{_closed_port()}/"
    result = await calls.call(hook(url), make_canary(), "")
    assert "secret" not in result.message and "user:xxxxx@" in result.message


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    directory: pathlib.Path = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_disable_tls_accepts_an_untrusted_certificate(
    self_signed: ssl.SSLContext, make_canary: MakeCanary
) -> None:
    from tests.unit.hooks.conftest import Receiver

    server = Receiver()
    await server.start(ssl_context=self_signed)
    try:
        refused = await calls.call(hook(server.url, retries=2), make_canary(), "", policy=FAST)
        accepted = await calls.call(hook(server.url, disableTLS=True), make_canary(), "")
    finally:
        await server.stop()
    assert not refused.ok and refused.attempts == 1
    assert "tls: failed to verify certificate" in refused.message
    assert accepted.ok and len(server.received) == 1
