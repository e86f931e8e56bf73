"""The demo app as the node agent runs it: ``python -m flagger.playground.demoapp`` in a process.

Each test starts real processes on their own loopback addresses (127.0.0.2, 127.0.0.3) with podinfo
flags, environment and config files, talks HTTP to them, and stops them by PID. The matrix:

- configuration: flag beats environment beats ``config.yaml`` beats default; unknown flags are
  ignored and named once in the log; bool/list flag forms as pod specs write them;
- endpoints: ``/`` JSON and HTML, ``/version``, ``/echo`` alone and forwarding to a second
  instance (directly and through ``HTTP_PROXY``), ``/status``, ``/delay``, probes, ``/env``,
  ``/configs``, ``/token``, ``/store``, ``/panic``, random errors;
- metrics: podinfo's names and labels on the main port and on ``--port-metrics``;
- shutdown: SIGTERM finishes requests in flight, probes fail while draining, exit status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from flagger.playground import demoapp

_PROXY_VARS = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


def free_port(host: str) -> int:
    """A port nobody listens on at ``host`` right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class DemoProcess:
    """One demo app process on ``host``; log lines in ``log``."""

    def __init__(
        self, host: str, flags: Sequence[str], env: Mapping[str, str], log: pathlib.Path
    ) -> None:
        self.host, self.port, self.log = host, free_port(host), log
        self.url = f"http://{host}:{self.port}"
        environ = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}
        environ = {k: v for k, v in environ.items() if not k.startswith("PODINFO_")}
        environ.update(env)
        command = [
            sys.executable,
            "-m",
            "flagger.playground.demoapp",
            f"--host={host}",
            f"--port={self.port}",
            "--shutdown-delay=0",
            *flags,
        ]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environ
            )

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{self.url}/healthz") as reply:
                    if reply.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise AssertionError(f"demo app not serving at {self.url}; log:\n{self.log.read_text()}")

    def lines(self) -> list[dict[str, Any]]:
        found = []
        for raw in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                found.append(json.loads(raw))
        return found

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


Start = Callable[..., Awaitable[DemoProcess]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as client:
        yield client


@pytest.fixture
async def start(tmp_path: pathlib.Path, session: aiohttp.ClientSession) -> AsyncIterator[Start]:
    """Start demo apps; every one is stopped (by PID) after the test."""
    started: list[DemoProcess] = []

    async def launch(
        *flags: str, env: Mapping[str, str] | None = None, host: str = "127.0.0.2"
    ) -> DemoProcess:
        log = tmp_path / f"demoapp-{len(started)}.log"
        app = DemoProcess(host, flags, env or {}, log)
        started.append(app)
        await app.wait_ready(session)
        return app

    yield launch
    for app in started:
        app.stop()


# --- configuration (in process) -----------------------------------------------------------------


def test_flags_as_pod_specs_write_them() -> None:
    settings, ignored = demoapp.parse_settings(
        [
            "./podinfo",
            "--port=9898",
            "--port-metrics=9797",
            "--grpc-port=9999",
            "--grpc-service-name=podinfo",
            "--level=info",
            "--random-delay=false",
            "--random-error",
            "--backend-url=http://a:9898/echo,http://b:9898/echo",
            "--backend-url",
            "http://c:9898/echo",
            "--frobnicate=1",
        ],
        {},
    )
    assert settings.port == 9898 and settings.port_metrics == 9797
    assert settings.random_delay is False and settings.random_error is True
    assert settings.backend_urls == (
        "http://a:9898/echo",
        "http://b:9898/echo",
        "http://c:9898/echo",
    )
    assert "./podinfo" in ignored and "--frobnicate=1" in ignored
    assert "--grpc-port=9999" in ignored


def test_flag_beats_env_beats_config_file_beats_default(tmp_path: pathlib.Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "ui-color: '#aaaaaa'\nui-message: from file\nui-logo: file.png\nhttp-client-timeout: 1m\n"
    )
    settings, _ = demoapp.parse_settings(
        [f"--config-path={tmp_path}", "--ui-color=#ff0000"],
        {
            "PODINFO_UI_COLOR": "#00ff00",
            "PODINFO_UI_MESSAGE": "from env",
            "PODINFO_BACKEND_URL": "http://x/echo http://y/echo",
            "PODINFO_VERSION": "3.1.1",
        },
    )
    assert settings.ui_color == "#ff0000"
    assert settings.message == "from env"
    assert settings.ui_logo == "file.png"
    assert settings.http_client_timeout == 60.0
    assert settings.backend_urls == ("http://x/echo", "http://y/echo")
    assert settings.version == "3.1.1"
    defaults, _ = demoapp.parse_settings([], {})
    assert defaults.message == "greetings from podinfo v6.0.0"
    assert defaults.ui_color == "#34577c" and defaults.host == "127.0.0.1"
    assert defaults.shutdown_delay == 3.0  # podinfo's drain wait, skipped at debug level
    assert demoapp.parse_settings(["--level=debug"], {})[0].shutdown_delay == 0.0


def test_a_malformed_value_exits_with_status_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        demoapp.parse_settings(["--port=ninety"], {})
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        demoapp.parse_settings(["--random-error=maybe"], {})


def test_path_labels_are_podinfos() -> None:
    assert demoapp.url_to_label("/") == "root"
    assert demoapp.url_to_label("/readyz/disable") == "readyz_disable"
    assert demoapp.url_to_label("/api/delay/{wait}") == "api_delay_wait"
    assert demoapp.parse_duration("1m30s") == 90.0
    assert demoapp.parse_duration("250ms") == 0.25


# --- endpoints (real processes) -----------------------------------------------------------------


async def test_info_has_podinfos_shape_from_flags_and_env(
    start: Start, session: aiohttp.ClientSession
) -> None:
    app = await start(
        "--ui-color=#ff0000",
        "--ui-logo=https://x/logo.gif",
        env={
            "PODINFO_VERSION": "3.1.1",
            "PODINFO_UI_MESSAGE": "hello canary",
            "PODINFO_UI_COLOR": "#00ff00",
            "HOSTNAME": "frontend-7d9f-abcde",
        },
    )
    async with session.get(f"{app.url}/") as reply:
        assert reply.status == 200
        assert reply.content_type == "application/json"
        info = await reply.json()
    assert set(info) == {
        "hostname",
        "version",
        "revision",
        "color",
        "logo",
        "message",
        "goos",
        "goarch",
        "runtime",
        "num_goroutine",
        "num_cpu",
    }
    assert info["hostname"] == "frontend-7d9f-abcde"
    assert info["version"] == "3.1.1"
    assert info["message"] == "hello canary"
    assert info["color"] == "#ff0000"
    assert info["logo"] == "https://x/logo.gif"
    assert int(info["num_cpu"]) >= 1
    async with session.get(f"{app.url}/api/info") as reply:
        assert (await reply.json())["version"] == "3.1.1"
    async with session.get(f"{app.url}/version") as reply:
        assert await reply.json() == {"commit": "unknown", "version": "3.1.1"}


async def test_browsers_get_a_page_with_a_ping_button(
    start: Start, session: aiohttp.ClientSession
) -> None:
    app = await start(env={"HOSTNAME": "frontend-1", "PODINFO_UI_MESSAGE": "<b>hi</b>"})
    async with session.get(f"{app.url}/", headers={"Accept": "text/html,*/*"}) as reply:
        assert reply.status == 200
        assert reply.content_type == "text/html"
        page = await reply.text()
    assert "frontend-1" in page
    assert "&lt;b&gt;hi&lt;/b&gt;" in page and "<b>hi</b>" not in page
    assert '<button id="ping"' in page and 'fetch("/echo"' in page
    async with session.get(f"{app.url}/", headers={"User-Agent": "Mozilla/5.0"}) as reply:
        assert reply.content_type == "text/html"


async def test_echo_answers_the_body_with_202(start: Start, session: aiohttp.ClientSession) -> None:
    app = await start("--ui-color=#123456")
    async with session.post(f"{app.url}/echo", data=b"test") as reply:
        assert reply.status == 202
        assert await reply.read() == b"test"
        assert reply.headers["X-Color"] == "#123456"
        assert reply.headers["Content-Type"] == "application/octet-stream"
    async with session.post(f"{app.url}/api/echo", data=b"again") as reply:
        assert await reply.read() == b"again"


async def test_echo_forwards_to_every_backend(start: Start, session: aiohttp.ClientSession) -> None:
    backend = await start(host="127.0.0.3")
    frontend = await start(
        f"--backend-url={backend.url}/echo", f"--backend-url={backend.url}/status/500"
    )
    async with session.post(f"{frontend.url}/echo", data=b"payload") as reply:
        assert reply.status == 200
        answers = await reply.json()
    assert answers == ["payload", f"backend {backend.url}/status/500 response status code 500"]
    unreachable = f"http://127.0.0.3:{free_port('127.0.0.3')}/echo"
    lonely = await start(env={"PODINFO_BACKEND_URL": unreachable})
    async with session.post(f"{lonely.url}/echo", data=b"x") as reply:
        [answer] = await reply.json()
    assert answer.startswith(f"backend {unreachable} call failed")


async def test_backend_calls_go_through_http_proxy(
    start: Start, session: aiohttp.ClientSession
) -> None:
    """Cluster names resolve only in the mesh proxy: the app must send them there."""
    seen: list[tuple[str, str, bytes]] = []

    async def proxy(request: web.BaseRequest) -> web.StreamResponse:
        seen.append((str(request.url), request.headers.get("Host", ""), await request.read()))
        return web.Response(text="answered by the mesh")

    server = web.Server(proxy)
    runner = web.ServerRunner(server)
    await runner.setup()
    port = free_port("127.0.0.1")
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        frontend = await start(
            "--backend-url=http://backend.test.svc.cluster.local:9898/echo",
            env={"HTTP_PROXY": f"http://127.0.0.1:{port}", "NO_PROXY": "127.0.0.2"},
        )
        async with session.post(f"{frontend.url}/echo", data=b"ping") as reply:
            assert await reply.json() == ["answered by the mesh"]
    finally:
        await runner.cleanup()
    [(url, host, body)] = seen
    assert url == "http://backend.test.svc.cluster.local:9898/echo"
    assert host == "backend.test.svc.cluster.local:9898"
    assert body == b"ping"


async def test_status_and_delay(start: Start, session: aiohttp.ClientSession) -> None:
    app = await start()
    async with session.get(f"{app.url}/status/500") as reply:
        assert reply.status == 500
        assert await reply.json() == {"status": 500}
    async with session.post(f"{app.url}/status/201") as reply:
        assert reply.status == 201
    async with session.delete(f"{app.url}/status/200") as reply:
        assert reply.status == 405
    began = time.monotonic()
    async with session.get(f"{app.url}/delay/1") as reply:
        assert reply.status == 200
        assert await reply.json() == {"delay": 1}
    took = time.monotonic() - began
    assert 1.0 <= took < 2.0


async def test_probes_follow_readyz_enable_and_disable(
    start: Start, session: aiohttp.ClientSession
) -> None:
    app = await start()
    async with session.get(f"{app.url}/readyz") as reply:
        assert reply.status == 200 and await reply.json() == {"status": "OK"}
    async with session.post(f"{app.url}/readyz/disable") as reply:
        assert reply.status == 202
    async with session.get(f"{app.url}/readyz") as reply:
        assert reply.status == 503
    async with session.get(f"{app.url}/healthz") as reply:
        assert reply.status == 200
    async with session.post(f"{app.url}/readyz/enable") as reply:
        assert reply.status == 202
    async with session.get(f"{app.url}/readyz") as reply:
        assert reply.status == 200
    unready = await start("--unready", host="127.0.0.3")
    async with session.get(f"{unready.url}/readyz") as reply:
        assert reply.status == 503


async def test_env_and_mounted_configs(
    start: Start, session: aiohttp.ClientSession, tmp_path: pathlib.Path
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.yaml").write_text("ui-message: from the configmap\n")
    (config / "backend.env").write_text("A=1\n")
    (config / "..data").mkdir()
    app = await start(f"--config-path={config}", env={"PODINFO_UI_COLOR": "#abcdef"})
    async with session.get(f"{app.url}/env") as reply:
        environment = await reply.json()
    assert "PODINFO_UI_COLOR=#abcdef" in environment
    assert all("=" in entry for entry in environment)
    async with session.get(f"{app.url}/configs") as reply:
        assert await reply.json() == {
            "backend.env": "A=1\n",
            "config.yaml": "ui-message: from the configmap\n",
        }
    async with session.get(f"{app.url}/") as reply:
        assert (await reply.json())["message"] == "from the configmap"


async def test_token_and_store_as_the_charts_tests_use_them(
    start: Start, session: aiohttp.ClientSession, tmp_path: pathlib.Path
) -> None:
    app = await start(f"--data-path={tmp_path}")
    async with session.post(f"{app.url}/token", data=b"test") as reply:
        token = (await reply.json())["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    async with session.get(f"{app.url}/token/validate", headers=bearer) as reply:
        assert reply.status == 200
        assert (await reply.json())["token_name"] == "test"
    forged = {"Authorization": f"Bearer {token[:-4]}AAAA"}
    async with session.get(f"{app.url}/token/validate", headers=forged) as reply:
        assert reply.status == 401
    async with session.post(f"{app.url}/store", data=b"test") as reply:
        assert reply.status == 202
        digest = (await reply.json())["hash"]
    assert digest == hashlib.sha1(b"test").hexdigest()
    assert (tmp_path / digest).read_bytes() == b"test"
    async with session.get(f"{app.url}/store/{digest}") as reply:
        assert await reply.read() == b"test"


async def test_metrics_have_podinfos_names_and_labels(
    start: Start, session: aiohttp.ClientSession
) -> None:
    metrics_port = free_port("127.0.0.2")
    app = await start(
        f"--port-metrics={metrics_port}",
        "--grpc-port=9999",
        "--cache-server=redis:6379",
        "--frobnicate",
    )
    for path in ("/", "/status/500", "/status/500", "/delay/0", "/readyz", "/nowhere"):
        async with session.get(f"{app.url}{path}") as reply:
            await reply.read()
    async with session.get(f"{app.url}/metrics") as reply:
        assert reply.status == 200
        text = await reply.text()
    assert (
        'http_request_duration_seconds_count{method="GET",path="status",status="500"} 2.0' in text
    )
    assert 'http_request_duration_seconds_count{method="GET",path="root",status="200"} 1.0' in text
    assert 'http_request_duration_seconds_count{method="GET",path="delay",status="200"} 1.0' in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",path="readyz"' in text
    assert 'http_requests_total{status="500"} 2.0' in text
    assert 'http_requests_total{status="404"}' not in text  # unmatched routes are not counted
    assert "_created" not in text
    async with session.get(f"http://127.0.0.2:{metrics_port}/metrics") as reply:
        assert 'path="status",status="500"' in await reply.text()
    async with session.get(f"http://127.0.0.2:{metrics_port}/healthz") as reply:
        assert await reply.text() == "OK"
    [ignored] = [line for line in app.lines() if line.get("msg", "").startswith("ignoring flags")]
    assert set(ignored["flags"]) == {
        "--frobnicate",
        "--grpc-port=9999",
        "--cache-server=redis:6379",
    }


async def test_random_errors_answer_podinfos_codes(
    start: Start, session: aiohttp.ClientSession
) -> None:
    app = await start("--random-error=true")
    codes = []
    for _ in range(40):
        async with session.get(f"{app.url}/version") as reply:
            codes.append(reply.status)
    assert 200 in codes
    assert {code for code in codes if code != 200} <= {400, 409, 500}
    assert any(code != 200 for code in codes)


async def test_sigterm_drains_and_exits_0(
    tmp_path: pathlib.Path, session: aiohttp.ClientSession
) -> None:
    app = DemoProcess("127.0.0.2", ["--shutdown-delay=1"], {}, tmp_path / "app.log")
    try:
        await app.wait_ready(session)
        in_flight = asyncio.ensure_future(session.get(f"{app.url}/delay/2"))
        await asyncio.sleep(0.3)
        app.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        async with session.get(f"{app.url}/readyz") as reply:  # draining: still answering
            assert reply.status == 503
        async with session.get(f"{app.url}/healthz") as reply:
            assert reply.status == 503
        reply = await in_flight
        assert reply.status == 200 and await reply.json() == {"delay": 2}
        reply.release()
        assert await asyncio.to_thread(app.process.wait, 15) == 0
        assert any(line.get("msg") == "Shutting down HTTP/HTTPS server" for line in app.lines())
    finally:
        app.stop()


async def test_panic_exits_255(start: Start, session: aiohttp.ClientSession) -> None:
    app = await start()
    with contextlib.suppress(aiohttp.ClientError):
        async with session.get(f"{app.url}/panic") as reply:
            await reply.read()
    assert await asyncio.to_thread(app.process.wait, 10) == 255
