"""``make bench`` in small: 20 canaries through bootstrap, an idle window and a burst rollout on a
control plane of its own with an audit log, split across two daemons (``-watch-label-selector``
shards, each with its own ServiceAccount). Fails on errors only (an operator exiting, a canary
never initialised or never promoted, a shard touching another shard's canaries), never on
timing."""

from __future__ import annotations

import json
import pathlib

import pytest

from bench import __main__ as bench_main

pytestmark = pytest.mark.cluster


def test_bench_smoke(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = bench_main.main(
        [
            "-n",
            "20",
            "--idle",
            "10",
            "--iterations",
            "1",
            "--shards",
            "2",
            "--no-go",
            "--json",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    (figures,) = json.loads(out.read_text())
    ours = figures["ours"]
    assert ours["burst_succeeded"] == 20, printed
    assert ours["idle_ticks"] > 0, printed
    assert ours["foreign"] == [], "each shard reads and writes only its own canaries"
    assert "| API reads per idle tick per canary |" in printed
