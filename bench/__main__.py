"""``python -m bench -n 10 100``: run the bench and print its tables (``--help``)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import pathlib
import sys
import tempfile
import time

from bench import harness, operators, report
from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client
from tests.support import http_receiver


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("-n", type=int, nargs="+", default=[10], help="canary counts to run")
    parser.add_argument("--interval", type=int, default=10, help="analysis interval (s)")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--idle", type=float, default=120.0, help="idle window (s)")
    parser.add_argument(
        "--shards",
        type=int,
        default=int(os.environ.get("BENCH_SHARDS") or 1),
        help="daemons of ours, each on its own -watch-label-selector shard of the canaries"
        " (default: $BENCH_SHARDS or 1)",
    )
    parser.add_argument(
        "--flagger-go", default=None, help="Flagger (Go) binary (default: $FLAGGER_GO)"
    )
    parser.add_argument(
        "--burst-until",
        choices=("Succeeded", "Progressing"),
        default="Succeeded",
        help="the phase that ends the burst (Progressing: detection only, for a quick smoke run)",
    )
    parser.add_argument(
        "--kubeconfig-qps",
        type=int,  # Flagger's flag is an int: "1000.0" stops it at start-up
        help="-kubeconfig-qps for both operators (default: theirs, 100; say so with the figures)",
    )
    parser.add_argument(
        "--kubeconfig-burst", type=int, help="-kubeconfig-burst for both (default: theirs, 250)"
    )
    parser.add_argument(
        "--bootstrap-timeout", type=float, help="seconds to all Initialized (default: max(180, N))"
    )
    parser.add_argument("--no-go", action="store_true", help="skip Flagger (Go)")
    parser.add_argument(
        "--no-ours", action="store_true", help="skip this daemon (Flagger's column only)"
    )
    parser.add_argument("--arg", action="append", default=[], help="extra flag for our daemon")
    parser.add_argument(
        "--ours-bin", type=pathlib.Path, help="our daemon's executable (default: this venv's)"
    )
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's work dir")
    args = parser.parse_args(argv)
    if not 1 <= args.shards <= harness.MAX_SHARDS:
        parser.error(f"--shards (BENCH_SHARDS): 1 to {harness.MAX_SHARDS}, not {args.shards}")
    return args


async def bench(args: argparse.Namespace) -> list[tuple[harness.Result, harness.Result | None]]:
    go = None if args.no_go else operators.flagger_go(args.flagger_go)
    if go is None and not args.no_go:
        print("Flagger (Go) not found (set FLAGGER_GO): its column is left empty", flush=True)
    limits = tuple(
        f"-{flag}={value}"
        for flag, value in (
            ("kubeconfig-qps", args.kubeconfig_qps),
            ("kubeconfig-burst", args.kubeconfig_burst),
        )
        if value is not None
    )
    mine = None if args.no_ours else operators.ours(*limits, *args.arg, binary=args.ours_bin)
    if mine is None and go is None:
        raise harness.BenchError("--no-ours and no Flagger (Go): nothing to run")
    if go is not None:
        go = dataclasses.replace(go, extra=(*go.extra, *limits))
    out: list[tuple[harness.Result, harness.Result | None]] = []
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="flagger-bench-"))
    receiver = http_receiver.Receiver().start()
    cluster = devcluster.LocalCluster.start(audit=True, keep=args.keep)
    try:
        kube = await kube_client.Kube.connect(str(cluster.kubeconfig), qps=2000, burst=2000)
        try:
            await harness.prepare_cluster(cluster, kube, max(args.n))
            for run, n in enumerate(args.n):
                settings = harness.Settings(
                    n=n,
                    interval=args.interval,
                    iterations=args.iterations,
                    idle_seconds=args.idle,
                    burst_until=args.burst_until,
                    bootstrap_timeout=args.bootstrap_timeout,
                )
                results: dict[str, harness.Result] = {}
                for op in (mine, go):
                    if op is None:
                        continue
                    prefix = f"b{run}-{op.label[:2]}"
                    began = time.monotonic()
                    print(f"N={n}: {op.label} ...", flush=True)
                    results[op.label] = await harness.run_one(
                        cluster,
                        kube,
                        op,
                        settings,
                        receiver.url + "/check",
                        workdir,
                        prefix=prefix,
                        shards=args.shards if op is mine else 1,
                    )
                    print(f"N={n}: {op.label} done in {time.monotonic() - began:.0f}s", flush=True)
                    if op is mine and go is not None:  # printed now in case Flagger's run fails
                        print(report.table(results["ours"], None), flush=True)
                    if (run, op) != (len(args.n) - 1, go or mine):
                        await harness.wait_namespaces_gone(cluster, prefix, n)
                # --no-ours: an empty column of ours beside Flagger's
                out.append(
                    (results.get("ours") or harness.Result("ours", n), results.get("flagger"))
                )
                print(report.table(*out[-1]), flush=True)
        finally:
            await kube.close()
    finally:
        cluster.stop()
        receiver.stop()
    print(f"webhook calls received: {len(receiver.received)}; operator logs in {workdir}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        results = asyncio.run(bench(args))
    except harness.BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    print("\n" + report.summary(results))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        r.operator: {
                            "n": r.n,
                            "foreign": r.foreign,
                            **r.figures,
                            "shards": [{"n": s.n, **s.figures} for s in r.shards],
                        }
                        for r in pair
                        if r is not None
                    }
                    for pair in results
                ],
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
