"""Pure pieces of the loadtester: payload decoding, access rules (token, namespace regexp,
allow-list), Go-compatible booleans and error texts, tool command lines, and gates written
through their store."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping

import pytest

from flagger.webhooks.loadtester import app, tasks
from flagger.webhooks.loadtester import gates as gate_stores
from flagger.webhooks.loadtester.access import Access, compile_rules
from flagger.webhooks.loadtester.commands import Refused


def test_payload_is_flaggers_webhook_payload() -> None:
    payload = app.decode_payload(
        b'{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"x",'
        b'"metadata":{"type":"bash","cmd":"echo hi","returnCmdOutput":true},"extra":1}'
    )
    assert payload.canary == "podinfo.test"
    assert payload.phase == "Progressing"
    assert payload.metadata == {"type": "bash", "cmd": "echo hi", "returnCmdOutput": "true"}
    assert app.decode_payload(b"null") == app.Payload()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"metadata": []}',
        b'{"metadata": {"cmd": {"nested": 1}}}',
        b'{"name": [1]}',
    ],
)
def test_bad_payloads_say_decoding_failed(body: bytes) -> None:
    with pytest.raises(app.BadPayload, match="decoding the request body failed"):
        app.decode_payload(body)


def test_token_needs_the_bearer_scheme_and_the_exact_token() -> None:
    rules = Access(token="s3cret")
    assert rules.token_ok("Bearer s3cret")
    assert rules.token_ok("bearer s3cret")
    assert not rules.token_ok(None)
    assert not rules.token_ok("s3cret")
    assert not rules.token_ok("Basic s3cret")
    assert not rules.token_ok("Bearer s3cret2")
    assert Access().token_ok(None)


def test_token_in_the_webhook_url_for_flaggers_calls() -> None:
    """Flagger sends no headers: a Canary puts the token in its webhook URL's query."""
    rules = Access(token="s3cret")
    assert rules.token_ok(None, "s3cret")
    assert not rules.token_ok(None, "wrong")
    assert not rules.token_ok("Bearer s3cret", "wrong"), "a wrong query token is not overridden"


def test_namespace_regexp_searches_like_go() -> None:
    rules = Access(namespace_regexp=re.compile("test"))
    assert rules.namespace_ok("test")
    assert rules.namespace_ok("my-test-2")  # Go's MatchString is not anchored
    assert not rules.namespace_ok("prod")
    assert Access(namespace_regexp=re.compile("^test$")).namespace_ok("test")
    assert not Access(namespace_regexp=re.compile("^test$")).namespace_ok("test-2")


@pytest.mark.parametrize("namespace", ["test\n", "test\r", "test ", "Test", "test/x", "-test"])
def test_namespace_regexp_refuses_what_is_not_a_namespace_name(namespace: str) -> None:
    """Python's ``$`` matches before a final newline: ``^test$`` must not admit "test\\n"."""
    assert re.search("^test$", "test\n"), "the trap this test is about"
    assert not Access(namespace_regexp=re.compile("^test$|test")).namespace_ok(namespace)


def test_allow_rules_match_argv_word_by_word() -> None:
    rules = Access(allow=compile_rules([r"hey -z \S+ -q \d+ -c \d+ http://\S+"]))
    assert rules.argv("hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/") == [
        "hey",
        "-z",
        "1m",
        "-q",
        "10",
        "-c",
        "2",
        "http://podinfo-canary.test:9898/",
    ]
    for refused in (
        "hey -z 1m -q 10 -c 2 http://x/ ; rm -rf /",
        "hey -z 1m -q 10 -c 2 http://x/ extra",
        "hey -z 1m -q 10 http://x/",
        "curl http://x/",
    ):
        with pytest.raises(Refused, match="is not allowed by this loadtester"):
            rules.argv(refused)
    with pytest.raises(Refused, match=r"matches none of the -allow rules \('hey"):
        rules.argv("curl http://x/")
    assert rules.strict and not Access().strict


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("t", True),
        ("yes", False),
        ("", False),
        (None, False),
        ("false", False),
    ],
)
def test_go_booleans(text: str | None, expected: bool) -> None:
    assert tasks.parse_go_bool(text) is expected


def test_failure_text_is_flaggers() -> None:
    outcome = tasks.Outcome(False, "", "exit status 1")
    assert tasks.failure_text("false", outcome) == ("command false failed: : exit status 1")


def test_tool_commands_split_on_whitespace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    kubectl = tmp_path / "kubectl"
    kubectl.write_text("#!/bin/sh\n")
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tasks.tool_command("kubectl", " get  pods -n test ") == [
        str(kubectl),
        "get",
        "pods",
        "-n",
        "test",
    ]
    with pytest.raises(tasks.ToolMissing, match='"helmv3" or "helm" is not installed'):
        tasks.tool_command("helmv3", "test podinfo")


class _Recording:
    """A gate store that records what it is asked to save."""

    def __init__(self, kept: dict[str, bool]) -> None:
        self.kept = kept
        self.saved: list[tuple[str, bool, dict[str, bool]]] = []
        self.saved_keys: list[dict[str, float]] = []

    def describe(self) -> str:
        return "recording"

    async def load(self) -> dict[str, bool]:
        return dict(self.kept)

    async def save(self, key: str, is_open: bool, gates: Mapping[str, bool]) -> None:
        self.saved.append((key, is_open, dict(gates)))

    async def load_keys(self) -> dict[str, float]:
        return {}

    async def save_keys(self, added: Mapping[str, float], keys: Mapping[str, float]) -> None:
        self.saved_keys.append(dict(keys))

    async def close(self) -> None:
        return None


async def test_gates_start_closed_and_every_change_is_saved() -> None:
    store = _Recording({"kept.test": True})
    gates = gate_stores.Gates(store)
    assert await gates.load() == 1
    assert gates.is_open("kept.test")
    assert not gates.is_open("podinfo.test")
    await gates.set("podinfo.test", True)
    await gates.set("podinfo.test", False)
    assert store.saved == [
        ("podinfo.test", True, {"kept.test": True, "podinfo.test": True}),
        ("podinfo.test", False, {"kept.test": True, "podinfo.test": False}),
    ]
    assert not gates.is_open("podinfo.test")


async def test_idempotency_keys_run_once_per_window_and_are_saved_first() -> None:
    store = _Recording({})
    gates = gate_stores.Gates(store)
    await gates.load()
    assert await gates.remember("k1", 60, now=1000.0)
    assert store.saved_keys == [{"k1": 1000.0}], "saved before the command may run"
    assert not await gates.remember("k1", 60, now=1059.0)
    assert await gates.remember("k2", 60, now=1059.0)
    assert await gates.remember("k1", 60, now=1061.0), "a key older than the window expired"
    assert store.saved_keys[-1] == {"k1": 1061.0, "k2": 1059.0}


async def test_file_store_keeps_gates_and_keys_across_restarts(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "gates.json"
    first = gate_stores.Gates(gate_stores.FileStore(path))
    await first.load()
    await first.set("podinfo.test", True)
    assert await first.remember("abc", 600)
    second = gate_stores.Gates(gate_stores.FileStore(path))
    assert await second.load() == 1
    assert second.is_open("podinfo.test")
    assert not await second.remember("abc", 600), "a restarted loadtester remembers the key"
    await second.set("podinfo.test", False)
    third = gate_stores.Gates(gate_stores.FileStore(path))
    await third.load()
    assert not third.is_open("podinfo.test") and not await third.remember("abc", 600)
