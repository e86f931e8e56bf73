"""(c) A fault-injecting proxy in front of the API server during blue/green rollouts.

About 10 % of the daemon's non-watch requests answer 429 with ``Retry-After: 1``, 500, a
connection reset or a 2 s delay. Every rollout must still succeed, with each
``Advance ... iteration N/4`` Event exactly once, and no request retried sooner than its
``Retry-After`` allowed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.faults import conftest as faults
from tests.faults import test_daemon_kills as rollouts
from tests.faults.apiserver_proxy import Proxy
from tests.support import daemon_process, http_receiver

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not faults.LONG, reason="long form only (make faults): ~2 min a rollout"),
]

NS = "faults-proxy"
ROLLOUTS = 2


@pytest.fixture(scope="module")
def world(
    cluster: devcluster.LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[http_receiver.Receiver, Proxy]]:
    workdir = tmp_path_factory.mktemp("faults-proxy")
    cluster.kubectl("create", "namespace", NS)
    hooks = http_receiver.Receiver().start()
    proxy = Proxy(cluster.server, cluster.ssl_context()).start()
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"] = {"server": proxy.url}
    kubeconfig = workdir / "proxied.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    daemon = daemon_process.Daemon(
        ["-kubeconfig", str(kubeconfig), "-mesh-provider", "kubernetes", "-port", "0"],
        workdir / "flagger.log",
    ).start()
    try:
        yield hooks, proxy
    finally:
        daemon.stop()
        proxy.stop()
        hooks.stop()
        cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_rollouts_complete_through_a_faulty_apiserver_proxy(
    cluster: devcluster.LocalCluster, world: tuple[http_receiver.Receiver, Proxy]
) -> None:
    hooks, proxy = world
    row = faults.Row("(c) 429/500/reset/slow proxy at 10%")
    faults.ROWS.append(row)
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rollouts._objects(hooks.url, NS)))
    rollouts._wait(cluster, {"Initialized"}, 180, NS)
    for rollout in range(1, ROLLOUTS + 1):
        # Events are not deleted between rollouts: the daemon's recorder aggregates a repeated
        # message into the old Event's count, so each rollout adds 1 to each step's count.
        before = rollouts._event_counts(cluster, NS)
        cluster.kubectl("set", "env", "deployment/podinfo", f"ROLLOUT={rollout}", "-n", NS)
        rollouts._wait(cluster, {"Progressing"}, 120, NS)
        phase = rollouts._wait(cluster, {"Succeeded", "Failed"}, 300, NS)
        counts = rollouts._event_counts(cluster, NS)
        messages = [
            f"Advance podinfo.{NS} canary iteration {i}/{rollouts.ITERATIONS}"
            for i in range(1, rollouts.ITERATIONS + 1)
        ]
        steps = [counts.get(m, 0) - before.get(m, 0) for m in messages]
        wrong = sum(abs(n - 1) for n in steps)
        row.cases += 1
        row.duplicated_or_skipped += wrong
        if phase != "Succeeded" or wrong or proxy.early_retries:
            row.failures += 1
        row.seconds_blind = proxy.seconds_blind
        assert phase == "Succeeded", counts
        assert wrong == 0, (steps, counts)
    print(f"faults injected: {proxy.injected}, early retries after 429: {proxy.early_retries}")
    assert sum(proxy.injected.values()) > 0, "the proxy injected no fault"
    assert proxy.early_retries == 0, f"{proxy.early_retries} retries ignored Retry-After"
