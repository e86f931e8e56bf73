"""The allow-list cannot be bypassed: a corpus of attacks against a real loadtester process.

The loadtester runs with a token, ``-namespace-regexp '^test$'`` and the argv-shaped ``-allow``
rules docs/webhooks.md recommends (plus deliberately loose curl/hey/kubectl/helm rules, so that
the dangerous-argument layer is what refuses argument injection). Every attack tries to create
a marker file or to reach the local HTTP server on its ``/attack`` path. Each must be answered
403 (or 401/400), and none may have run: no marker, no ``/attack`` request, no "command
starting" line for it. Then the legitimate commands of Flagger's docs (hey with ``-H`` and
``-host``, ``curl -sd``, helm tests) still run, with the real Debian ``hey`` and ``curl``.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.integration.webhooks.conftest import Loadtester, StartLoadtester, payload
from tests.support.local_server import Handler, LocalServer

TOKEN = "s3cret-token"
HOST = r"[a-z0-9.-]+(:\d+)?"
RULES = [
    # docs/webhooks.md's recommended rules
    rf"hey -z \d+[smh] -q \d+ -c \d+ http://{HOST}/\S*",
    rf"hey -z \d+[smh] -q \d+ -c \d+ -H 'Cookie: [a-z]+=[a-z]+' http://{HOST}/\S*",
    rf"hey -z \d+[smh] -q \d+ -c \d+ -host [a-z0-9.-]+ http://{HOST}/\S*",
    rf"curl -sd [a-z]+ http://{HOST}/\S*",
    r"helm test [a-z0-9-]+ --timeout \d+[sm]",
    # loose on purpose: argument injection must be stopped by the dangerous-argument layer
    r"curl \S+ \S+ \S+",
    r"curl \S+ \S+",
    r"curl \S+",
    r"hey \S+ \S+ \S+",
    r"kubectl \S+ \S+ \S+ \S+",
    r"helm \S+ \S+ \S+ \S+",
]


class _Server(LocalServer):
    """The load test target on 127.0.0.1: counts requests by path."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        await request.read()
        return web.Response(text="token ok")

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("*", "/{tail:.*}", self.handle)]


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    target = await _Server().start()
    try:
        yield target
    finally:
        await target.stop()


def attacks(url: str, marker: pathlib.Path) -> list[dict[str, str]]:
    """Metadata of each attack (``type`` defaults to ``cmd``)."""
    m = str(marker)
    hey = f"hey -z 1m -q 10 -c 2 {url}/"
    cmds = [
        # the list, against the recommended hey and curl rules
        f"{hey}; touch {m}",
        f"hey -z 1m; touch {m}",
        f"{hey} || touch {m}",
        f"{hey} && touch {m}",
        f"{hey} & touch {m}",
        f"{hey} | touch {m}",
        f"hey -z $(touch {m}) -q 10 -c 2 {url}/",
        f"hey -z `touch {m}` -q 10 -c 2 {url}/",
        f"hey -z 1m;touch${{IFS}}{m}; -q 10 -c 2 {url}/",
        f"hey -z 1m -q 10 -c 2 {url}/$(touch {m})",
        f"hey -z 1m -q 10 -c 2 {url}/>{m}",
        f"hey -z 1m -q 10 -c 2 {url}/ >{m}",
        f"curl -sd test http://a;touch${{IFS}}{m};#",
        f"curl -sd test {url}/attack >{m}",
        # newlines and other control characters
        f"{hey}\ntouch {m}",
        f"{hey}\rtouch {m}",
        f"{hey}\x00touch {m}",
        f"hey -z 1m -q 10 -c 2 '{url}/\ntouch {m}'",
        # quoting tricks
        f"{hey}';'touch {m}",
        f'{hey}";"touch {m}',
        f'hey -z 1m -q 10 -c 2 "{url}/$(touch {m})"',
        f"hey -z 1m -q 10 -c 2 '{url}/'\"$(touch {m})\"",
        f"{hey} \\; touch {m}",
        f"{hey} '",
        f"hey -z 1m -q 10 -c 2 '{url}/attack -o {m}'",
        # environment expansion
        f"hey -z $HOME -q 10 -c 2 {url}/",
        f"hey -z ${{PATH}} -q 10 -c 2 {url}/",
        f"hey -z 1m -q 10 -c 2 {url}/$LOADTESTER_TOKEN",
        # globbing, braces, tilde, history, comments, subshells, here-docs, process substitution
        f"/???/?ouch {m}",
        f"hey -z 1m -q 10 -c 2 {url}/*",
        f"{{touch,{m}}}",
        "hey -z 1m -q 10 -c 2 ~/x",
        f"{hey} !!",
        f"(touch {m})",
        f"hey <<EOF\ntouch {m}\nEOF",
        f"hey -z 1m -q 10 -c 2 <(touch {m})",
        f"{hey}#; touch {m}",
        # programs the rules do not name
        f"touch {m}",
        f"sh -c 'touch {m}'",
        f"/usr/bin/touch {m}",
        f"env touch {m}",
        f"X=1 touch {m}",
        f"exec touch {m}",
        f"heyy -z 1m -q 10 -c 2 {url}/",
        # argument injection into curl and hey (loose rules admit the shape)
        f"curl -o {m} {url}/attack",
        f"curl --output {m} {url}/attack",
        f"curl --out {m} {url}/attack",
        f"curl -sSo{m} {url}/attack",
        f"curl -D {m} {url}/attack",
        f"curl -c {m} {url}/attack",
        f"curl --trace {m} {url}/attack",
        f"curl -K {m} {url}/attack",
        f"curl -d @/etc/passwd {url}/attack",
        f"curl -F f=@/etc/passwd {url}/attack",
        f"curl -T /etc/passwd {url}/attack",
        f"curl --unix-socket /run/x {url}/attack",
        f"curl -: {url}/attack",
        f"curl -- {url}/attack",
        "curl file:///etc/passwd",
        f"curl gopher://{url.removeprefix('http://')}/attack",
        f"hey -D /etc/passwd {url}/attack",
        f"hey --D=/etc/passwd {url}/attack",
        f"hey -o csv {url}/attack",
        f"hey -z 1m -- {url}/attack",
        f"kubectl --kubeconfig {m} get pods",
        f"kubectl -s {url}/attack get pods",
        "kubectl --token stolen get pods",
    ]
    found = [{"cmd": c} for c in cmds]
    # tool and bash tasks
    found += [
        {"type": "bash", "cmd": hey},
        {"type": "bash", "cmd": f"touch {m}"},
        {"type": "helm", "cmd": f"test podinfo --post-renderer /usr/bin/touch {m}"},
        {"type": "helm", "cmd": f"test podinfo --timeout 3m; touch {m}"},
        {"type": "kubectl", "cmd": f"get pods $(touch {m})"},
    ]
    return found


async def _post(lt: Loadtester, body: dict[str, Any], token: str | None = TOKEN) -> int:
    status, text = await lt.post("/", body, token=token)
    if status == 403 and body.get("namespace") == "test":
        assert "is not allowed by this loadtester: " in text, text  # with the reason
    return status


async def test_every_bypass_attempt_is_refused_and_nothing_runs(
    start_loadtester: StartLoadtester, server: _Server, tmp_path: pathlib.Path
) -> None:
    if shutil.which("hey") is None or shutil.which("curl") is None:
        pytest.fail("hey and curl are needed: apt-get install -y hey curl")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text('#!/bin/sh\necho "helm $*" >> "$(dirname "$0")/helm.log"\n')
    helm.chmod(0o755)
    marker = tmp_path / "marker"
    flags = ["-token", TOKEN, "-namespace-regexp", "^test$"]
    for rule in RULES:
        flags += ["-allow", rule]
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    lt = await start_loadtester(*flags, env=env)

    corpus = attacks(server.url, marker)
    answers = {}
    for metadata in corpus:
        answers[repr(metadata)] = await _post(lt, payload(**metadata))
    # the namespace regexp must match the whole name: "test\n" and friends are not "test"
    for namespace in ("test\n", "test\r\n", "xtest", "test-2", ""):
        body = payload(namespace=namespace, cmd=f"hey -z 1s -q 1 -c 1 {server.url}/attack")
        answers[f"namespace {namespace!r}"] = await _post(lt, body)
    # no token, a wrong token
    legit = payload(cmd=f"hey -z 1s -q 1 -c 1 {server.url}/attack")
    answers["no token"] = await _post(lt, legit, token=None)
    answers["wrong token"] = await _post(lt, legit, token="s3cret-tokem")

    allowed = {what: status for what, status in answers.items() if status not in (400, 401, 403)}
    assert not allowed, f"attacks not refused: {allowed}"
    assert len(answers) >= 50, len(answers)
    await asyncio.sleep(1.0)  # anything that slipped through has had time to run
    assert not marker.exists(), "an attack ran"
    assert "/attack" not in server.paths, "an attack reached the server"
    assert not (bin_dir / "helm.log").exists(), "an attack ran helm"
    assert not any(m.startswith("command starting") for m in lt.messages())
    refusals = [m for m in lt.messages() if "is not allowed by this loadtester" in m]
    assert len(refusals) == len(corpus), "each refusal is logged with its reason"

    # the legitimate commands of Flagger's docs still run, without a shell
    legitimate = [
        f"hey -z 1s -q 5 -c 1 {server.url}/hey",
        f"hey -z 1s -q 5 -c 1 -H 'Cookie: type=insider' {server.url}/cookie",
        f"hey -z 1s -q 5 -c 1 -host app.example.com {server.url}/host",
        f"curl -sd test {server.url}/token",
    ]
    for command in legitimate:
        assert await _post(lt, payload(cmd=command)) == 202, command
    assert await lt.post(
        "/", payload(type="helm", cmd="test podinfo --timeout 3m"), token=TOKEN
    ) == (200, "")
    for command in legitimate:
        await lt.wait_for_message(f"command finished {command}", timeout=20)
    assert {"/hey", "/cookie", "/host", "/token"} <= set(server.paths)
    assert (bin_dir / "helm.log").read_text() == "helm test podinfo --timeout 3m\n"
    assert not marker.exists()
