"""``make bench`` in small: 10 canaries split across two daemons (``-watch-label-selector``
shards, each with its own ServiceAccount) on a control plane of its own with an audit log,
through bootstrap, a short idle window and a burst change that ends once every canary has
detected it (``--burst-until Progressing``; the rollouts to Succeeded take ~5 intervals and are
left to ``make bench``). Fails on errors only (an operator exiting, a canary never initialised or
never detecting its change, a shard touching another shard's canaries), never on timing."""

from __future__ import annotations

import json
import math
import pathlib

import pytest

from bench import __main__ as bench_main

pytestmark = pytest.mark.cluster

N = 10


def test_bench_smoke(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = bench_main.main(
        [
            *("-n", str(N), "--idle", "5", "--iterations", "1", "--shards", "2"),
            *("--burst-until", "Progressing", "--no-go", "--json", str(out)),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    (figures,) = json.loads(out.read_text())
    ours = figures["ours"]
    assert ours["foreign"] == [], "each shard reads and writes only its own canaries"
    assert ours["burst_detected"] == N, printed
    assert [shard["n"] for shard in ours["shards"]] == [N // 2, N // 2]
    for shard in ours["shards"]:
        assert shard["burst_detected"] == N // 2, printed
        assert not math.isnan(shard["rss_mb"]) and shard["rss_mb"] > 0, printed
    assert "| API reads per idle tick per canary |" in printed
    assert "2 shards: each shard and combined" in printed
    assert "targets (ours, N=10): every expected idle tick happens:" in printed
    for shard in range(2):
        assert (
            f"note (ours shard-{shard}): requests named {N // 2} of its {N // 2} canaries"
            in printed
        ), "each shard acts on all of its own canaries"
    assert printed.count(f"its log named {N // 2} canaries") >= 2, printed
