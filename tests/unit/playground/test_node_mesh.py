"""A pod's processes reach the mesh proxy as themselves (flagger.playground.node_mesh)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from flagger.playground import node_mesh


def test_the_proxy_urls_carry_the_pods_identity() -> None:
    env = {
        "HTTP_PROXY": "http://127.0.0.1:15001",
        "http_proxy": "http://127.0.0.1:15001/",
        "NO_PROXY": "127.0.0.1",
    }
    got = node_mesh.identified_proxy_env(env, "test", "podinfo-abc")
    assert got["HTTP_PROXY"] == "http://test:podinfo-abc@127.0.0.1:15001"
    assert got["http_proxy"] == "http://test:podinfo-abc@127.0.0.1:15001/"
    assert got["NO_PROXY"] == "127.0.0.1"
    assert env["HTTP_PROXY"] == "http://127.0.0.1:15001"  # the agent's own env is untouched


def test_a_proxy_url_with_credentials_is_left_alone() -> None:
    env = {"HTTP_PROXY": "http://10.0.0.9@127.0.0.1:15001"}
    assert node_mesh.identified_proxy_env(env, "test", "p") == env


def test_the_hey_shim_adds_the_proxy_unless_given(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "real"
    fake.mkdir()
    (fake / "hey").write_text('#!/bin/sh\necho "$@"\n')
    (fake / "hey").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    assert node_mesh.write_shims(tmp_path / "shims") == ["hey"]
    shim = str(tmp_path / "shims" / "hey")
    env = {**os.environ, "HTTP_PROXY": "http://test:p@127.0.0.1:1"}

    def run(*args: str) -> str:
        done = subprocess.run([shim, *args], env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    assert run("-z", "1s", "http://podinfo-canary:9898/") == (
        "-x http://test:p@127.0.0.1:1 -z 1s http://podinfo-canary:9898/"
    )
    assert run("-x", "http://other:2", "http://a/") == "-x http://other:2 http://a/"


def test_no_shim_without_the_tool(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("hey") is None
    assert node_mesh.write_shims(tmp_path / "shims") == []
