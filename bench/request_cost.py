"""CPU per API request of the kube client: ``python bench/request_cost.py [-k N]``.

Starts a control plane (or uses ``--kubeconfig``), then times N sequential GETs and N LISTs of a
ConfigMap with the client of the checkout it is run from, and prints the process CPU (all threads,
the thread pool included) per request. Run it with another checkout's python for a before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client


async def measure(kubeconfig: str, count: int) -> dict[str, float]:
    kube = await kube_client.Kube.connect(kubeconfig, qps=100000, burst=100000)
    try:
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "request-cost", "namespace": "default"},
            "data": {"k": "v" * 200},
        }
        if await kube.get("v1", "ConfigMap", "request-cost", "default") is None:
            await kube.create(cm)
        found: dict[str, float] = {}
        for what in ("get", "list"):
            for _ in range(20):  # warm up: discovery, connection
                await kube.get("v1", "ConfigMap", "request-cost", "default")
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(count):
                if what == "get":
                    await kube.get("v1", "ConfigMap", "request-cost", "default")
                else:
                    await kube.list("v1", "ConfigMap", "default")
            found[f"{what} CPU ms/request"] = 1000 * (time.process_time() - cpu) / count
            found[f"{what} wall ms/request"] = 1000 * (time.perf_counter() - wall) / count
        return found
    finally:
        await kube.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-k", type=int, default=2000, help="requests per kind")
    parser.add_argument("--kubeconfig", help="use this cluster instead of starting one")
    args = parser.parse_args()
    if args.kubeconfig:
        figures = asyncio.run(measure(args.kubeconfig, args.k))
    else:
        with devcluster.LocalCluster.start(kwok=False) as cluster:
            figures = asyncio.run(measure(str(cluster.kubeconfig), args.k))
    for name, value in figures.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
