"""(c) A fault-injecting proxy in front of the API server during blue/green rollouts.

A share of the daemon's non-watch requests (10 %; 20 % in the short form, which sends fewer)
answer 429 with ``Retry-After: 1``, 500, a connection reset or a 2 s delay. Every rollout must
still succeed, with each ``Advance ... iteration N/M`` Event exactly once, one check per step
(``Idempotency-Key``), and no request retried sooner than its ``Retry-After`` allowed.

Short form (``make test``): one rollout, judged once its first check advanced it (iteration 2;
a whole rollout takes a minute more). Long form (``make faults``): two whole rollouts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.faults import conftest as faults
from tests.faults import rollouts
from tests.faults.apiserver_proxy import Proxy
from tests.support import http_receiver

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200 if faults.LONG else 600)]

NS = "faults-proxy"
ROLLOUTS = 2 if faults.LONG else 1
INTERVAL = 10.0
ITERATIONS = 4 if faults.LONG else 3
RATE = 0.1 if faults.LONG else 0.2


@pytest.fixture(scope="module")
def world(
    cluster: devcluster.LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[http_receiver.Receiver, Proxy]]:
    workdir = tmp_path_factory.mktemp("faults-proxy")
    cluster.kubectl("create", "namespace", NS)
    hooks = http_receiver.Receiver().start()
    proxy = Proxy(cluster.server, cluster.ssl_context(), rate=RATE).start()
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"] = {"server": proxy.url}
    kubeconfig = workdir / "proxied.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    daemon = rollouts.daemon(kubeconfig, workdir / "flagger.log").start()
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
    row = faults.Row(f"(c) 429/500/reset/slow proxy at {RATE:.0%}")
    faults.ROWS.append(row)
    objects = rollouts.canary_objects(hooks.url, NS, interval=INTERVAL, iterations=ITERATIONS)
    rollouts.apply(cluster, objects)
    rollouts.wait(cluster, {"Initialized"}, 180, NS)
    for rollout in range(1, ROLLOUTS + 1):
        since = rollouts.since(cluster, hooks, NS)
        rollouts.start_rollout(cluster, NS, rollout)
        if faults.LONG:
            phase = rollouts.wait(cluster, {"Succeeded", "Failed"}, 120 + 12 * INTERVAL, NS)
        else:  # judged once the first check advanced the canary
            phase = "Succeeded"
            rollouts.advanced(cluster, NS, 2, 60 + 3 * INTERVAL, total=ITERATIONS)
        wrong, seen = rollouts.judge(cluster, hooks, NS, ITERATIONS, since, faults.LONG)
        row.cases += 1
        row.duplicated_or_skipped += wrong
        if phase != "Succeeded" or wrong or proxy.early_retries:
            row.failures += 1
        row.seconds_blind = proxy.seconds_blind
        assert phase == "Succeeded", seen
        assert wrong == 0, seen
    print(f"faults injected: {proxy.injected}, early retries after 429: {proxy.early_retries}")
    assert sum(proxy.injected.values()) > 0, "the proxy injected no fault"
    assert proxy.early_retries == 0, f"{proxy.early_retries} retries ignored Retry-After"
