"""Least privilege, proven with the API server's audit log.

For the ``istio`` and ``kubernetes`` providers, and ``kubernetes`` with config tracking disabled
(``configTracking.enabled: false``: the role keeps only ``get`` on Secrets, nothing on
ConfigMaps): the ClusterRole, binding and ServiceAccount rendered by the Helm chart
(``deploy/charts/flagger``, ``meshProvider`` set) are installed on an
audited control plane; the daemon runs as that ServiceAccount (a minted token, nothing else)
through :mod:`scenario` to promotion and the Canary's deletion. Every (verb, group, resource) the
ServiceAccount asked for is read back from the audit log and compared with the role: a grant never
used, a request outside the role, or any 403 fails the test. The table is printed.
"""

from __future__ import annotations

import pathlib
import threading

import pytest

from flagger import deploy_rbac
from flagger.devcluster import cluster as devcluster
from flagger.playground import charts
from tests.integration.deploy import audit, scenario
from tests.support import daemon_process, http_receiver, prometheus_server

pytestmark = pytest.mark.cluster

ROOT = pathlib.Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "charts" / "flagger"
#: variant -> (provider, config tracking)
VARIANTS = {
    "istio": ("istio", True),
    "kubernetes": ("kubernetes", True),
    "untracked": ("kubernetes", False),
}


def _rbac_objects(variant: str, namespace: str) -> list[dict[str, object]]:
    """The chart's ServiceAccount, ClusterRole and binding for ``variant``."""
    provider, tracking = VARIANTS[variant]
    rendered = charts.render(
        CHART,
        {
            "meshProvider": provider,
            "fullnameOverride": f"flagger-{variant}",
            "serviceAccount": {"name": "flagger"},
            "configTracking": {"enabled": tracking},
        },
        release="flagger",
        namespace=namespace,
    )
    kinds = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    return [obj for obj in rendered if obj["kind"] in kinds]


def test_the_role_is_exactly_what_the_daemon_uses(
    audited: devcluster.LocalCluster, tmp_path: pathlib.Path
) -> None:
    receiver = http_receiver.Receiver().start()
    prometheus = prometheus_server.start_prometheus([], tmp_path / "prometheus")
    daemons: dict[str, daemon_process.Daemon] = {}
    failures: dict[str, BaseException] = {}
    granted: dict[str, set[deploy_rbac.Grant]] = {}

    def run(variant: str) -> None:
        provider, tracking = VARIANTS[variant]
        namespace = f"lp-{variant}"
        try:
            audited.api(
                "POST",
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            )
            rbac = _rbac_objects(variant, namespace)
            role = next(o for o in rbac if o["kind"] == "ClusterRole")
            granted[variant] = deploy_rbac.rendered_rules(role)
            scenario.apply(audited, rbac)
            kubeconfig = audited.service_account_kubeconfig(namespace, "flagger")
            scenario.apply(
                audited, scenario.objects(namespace, provider, prometheus.url, receiver.url)
            )
            daemon = daemons[variant] = daemon_process.Daemon(
                daemon_process.run_flags(
                    kubeconfig,
                    namespace,
                    provider,
                    "-log-level=info",
                    "-enable-leader-election",
                    f"-leader-election-namespace={namespace}",
                    f"-enable-config-tracking={str(tracking).lower()}",
                ),
                tmp_path / f"{variant}.log",
            ).start()

            def tail() -> str:
                return "\n".join(daemon.log.read_text().splitlines()[-30:])

            scenario.run_to_promotion(audited, namespace, tail, touch_template=not tracking)
            assert daemon.stop() == 0, "the daemon stops cleanly"
        except BaseException as exc:
            failures[variant] = exc

    try:
        threads = [threading.Thread(target=run, args=(v,)) for v in VARIANTS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for daemon in daemons.values():
            daemon.stop()
        prometheus.stop()
        receiver.stop()
    if failures:
        raise next(iter(failures.values()))

    events = audited.audit_events()
    problems = []
    for variant, (provider, tracking) in VARIANTS.items():
        mine = audit.by_user(events, f"system:serviceaccount:lp-{variant}:flagger")
        used = audit.used(mine)
        print(f"\n{variant}: {sum(used.values())} requests as the ServiceAccount")
        print(audit.table(used, granted[variant]))
        print("non-resource (system:discovery):", ", ".join(sorted(audit.non_resource(mine))))
        expected = deploy_rbac.grants([provider], config_tracking=tracking)
        assert granted[variant] == expected, "the chart renders the table"
        # A cache read-through after our own write is a slow path an idle run need not take.
        unused = sorted(granted[variant] - set(used) - deploy_rbac.READ_THROUGH)
        outside = sorted(set(used) - granted[variant])
        denied = audit.denied(mine)
        if unused:
            problems.append(f"{variant}: granted but never used: {unused}")
        if outside or denied:
            problems.append(f"{variant}: denied: {denied or outside}")
    untracked = {g for g in granted["untracked"] if g[2] in ("secrets", "configmaps")}
    assert untracked == {("get", "", "secrets")}, untracked
    assert not problems, "\n".join(problems)
