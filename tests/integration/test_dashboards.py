"""The Grafana dashboard and the PrometheusRule, queried on a real Prometheus with real data.

``deploy/grafana/flagger-canary.json`` and ``deploy/prometheus/flagger-rules.yaml`` are only
useful if their queries match the series that exist. Here a real Prometheus scrapes (a) the
daemon (``flagger run`` as a process, ``/metrics`` on a fixed port) while it rolls out two
canaries on the local control plane, and (b) simulated Istio telemetry
(``tests/support/istio_traffic``), so the Istio panels see ``istio_requests_total`` and
``istio_request_duration_milliseconds_bucket`` as a mesh would publish them:

- ``podinfo``: a new image, promoted after one step (weight 50), so weights, metric checks,
  durations and a success exist;
- ``broken``: a new image whose canary answers 50% errors, rolled back at the first failed
  check (``flagger_canary_status == 2``, a failure counted); its AlertProvider points at a closed
  port, so the alert deliveries fail and are counted.

Every panel target and every alert ``expr`` is then run as a range query over the whole test (from
before the daemon started to the end) and must return data. Grafana's template variables are
substituted as Grafana does for a multi-value selection (``$canary`` -> ``podinfo|broken``).
The alert expressions run whole, threshold comparison included, so "returns data" means the
condition was true at some point; the rule's ``for:`` duration is not waited (it is Prometheus'
pending timer, not part of the expression): ``FlaggerCanaryStuckProgressing`` is shown true
while the canaries progress, ``FlaggerDown`` (``absent(flagger_info)``) during the seconds
before the daemon's first scrape. The variable queries (``label_values(...)``) must list the
values substituted.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process, istio_traffic, objects, prometheus_server

ROOT = pathlib.Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "flagger-canary.json"
RULES = ROOT / "deploy" / "prometheus" / "flagger-rules.yaml"
NS = "dashboards"
CANARIES = ("podinfo", "broken")
#: What Grafana puts in place of each variable for the selection "both canaries".
VARIABLES = {
    "namespace": NS,
    "canary": "podinfo|broken",
    "primary": "podinfo-primary|broken-primary",
}


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["spec"]["groups"] for rule in group["rules"]]


def _targets() -> list[tuple[str, str]]:
    """(panel title / refId, expr) of every panel target."""
    return [
        (f"{panel['title']} / {target['refId']}", target["expr"])
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def substitute(expr: str, values: dict[str, str] = VARIABLES) -> str:
    """``$name``, ``${name}`` and ``[[name]]`` replaced by ``values``; unknown names fail."""

    def replace(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in values:
            raise AssertionError(f"{expr!r} uses ${name}, which the dashboard does not define")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]", replace, expr)


# --- without a cluster --------------------------------------------------------------------------


def test_dashboard_is_consistent() -> None:
    """Unique panel ids and refIds, every variable used is defined, Prometheus data source."""
    dashboard = _dashboard()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), ids
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "namespace", "canary", "primary"} <= defined
    for panel in dashboard["panels"]:
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        assert panel["datasource"]["type"] == "prometheus"
        for target in panel["targets"]:
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= defined, (panel["title"], used - defined)
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for wanted in ("weight", "success rate", "request duration", "status", "analysis duration"):
        assert wanted in titles


def test_rules_pass_promtool(tmp_path: pathlib.Path) -> None:
    """The rule groups are a valid Prometheus rule file (``promtool check rules``)."""
    promtool = subprocess.run(["which", "promtool"], capture_output=True, text=True).stdout.strip()
    if not promtool:
        pytest.skip("promtool is not installed (Debian package 'prometheus')")
    rule_file = tmp_path / "rules.yml"
    rule_file.write_text(yaml.safe_dump(yaml.safe_load(RULES.read_text())["spec"]))
    checked = subprocess.run(
        [promtool, "check", "rules", str(rule_file)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    names = {rule["alert"] for rule in _rules()}
    assert {"FlaggerCanaryFailed", "FlaggerCanaryStuckProgressing"} <= names


# --- on the local control plane -----------------------------------------------------------------


def _app(name: str) -> dict[str, Any]:
    return objects.podinfo_deployment(name, NS)


def _canary(name: str) -> dict[str, Any]:
    analysis: dict[str, Any] = {
        "interval": "10s",
        "threshold": 1,
        "maxWeight": 50,
        "stepWeight": 50,
        "metrics": [
            {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "10s"},
            {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "10s"},
        ],
    }
    if name == "broken":
        analysis["alerts"] = [
            {"name": "on-call", "severity": "info", "providerRef": {"name": "unreachable"}}
        ]
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "provider": "istio",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "progressDeadlineSeconds": 120,
            "service": {"port": 9898, "targetPort": 9898},
            "analysis": analysis,
        },
    }


def _api(prometheus: prometheus_server.PrometheusServer, path: str, **params: Any) -> Any:
    url = f"{prometheus.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]


@pytest.fixture(scope="module")
def rollouts(
    cluster: devcluster.LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Prometheus scraping traffic and the daemon, both canaries rolled out; the time window."""
    workdir = tmp_path_factory.mktemp("dashboards")
    began = time.time()
    cluster.kubectl("create", "namespace", NS)
    traffic = istio_traffic.IstioTraffic()
    for name in CANARIES:
        traffic.set(NS, name)
        traffic.set(NS, f"{name}-primary")
    traffic.start()
    exporter = prometheus_server.start_exporter(traffic.registry)
    port = prometheus_server.free_port()
    prometheus = prometheus_server.start_prometheus(
        [exporter.target, f"127.0.0.1:{port}"], workdir / "prometheus"
    )
    time.sleep(3)  # a few scrapes with the daemon down: absent(flagger_info) has data
    daemon = daemon_process.Daemon(
        [
            "-kubeconfig",
            str(cluster.kubeconfig),
            "-metrics-server",
            prometheus.url,
            "-mesh-provider",
            "istio",
            "-port",
            str(port),
            "-log-level",
            "info",
        ],
        workdir / "flagger.log",
    ).start()
    try:
        closed = prometheus_server.free_port()
        docs: list[dict[str, Any]] = [
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "AlertProvider",
                "metadata": {"name": "unreachable", "namespace": NS},
                "spec": {
                    "type": "slack",
                    "channel": "general",
                    "address": f"http://127.0.0.1:{closed}/hook",
                },
            }
        ]
        for name in CANARIES:
            docs += [_app(name), _canary(name)]
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
        for name in CANARIES:
            daemon.wait_phase(cluster, f"{name}.{NS}", "Initialized", 60)
        traffic.set(NS, "broken", error_ratio=0.5)
        for name in CANARIES:
            cluster.kubectl(
                "set",
                "image",
                f"deployment/{name}",
                f"{name}=ghcr.io/stefanprodan/podinfo:6.0.1",
                "-n",
                NS,
            )
        daemon.wait_phase(cluster, f"broken.{NS}", "Failed", 180)
        daemon.wait_phase(cluster, f"podinfo.{NS}", "Succeeded", 180)
        # Until the last figures are scraped: the failed deliveries (retried for ~7 s).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = _api(prometheus, "query", query="flagger_alert_delivery_failures_total")
            if found["result"]:
                break
            time.sleep(1)
        time.sleep(3)
        yield {"prometheus": prometheus, "daemon": daemon, "start": began, "end": time.time()}
    finally:
        daemon.stop()
        prometheus.stop()
        exporter.stop()
        traffic.stop()
        cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def _range(rollouts: dict[str, Any], expr: str) -> list[dict[str, Any]]:
    data = _api(
        rollouts["prometheus"],
        "query_range",
        query=expr,
        start=f"{rollouts['start']:.3f}",
        end=f"{rollouts['end']:.3f}",
        step="1",
    )
    result: list[dict[str, Any]] = data["result"]
    return result


@pytest.mark.cluster
def test_every_panel_query_returns_data(rollouts: dict[str, Any]) -> None:
    empty = [
        f"{where}: {substitute(expr)}"
        for where, expr in _targets()
        if not _range(rollouts, substitute(expr))
    ]
    assert not empty, "panels without data:\n" + "\n".join(empty)


@pytest.mark.cluster
def test_every_alert_expression_returns_data(rollouts: dict[str, Any]) -> None:
    empty = [
        f"{rule['alert']}: {rule['expr']}"
        for rule in _rules()
        if not _range(rollouts, rule["expr"])
    ]
    assert not empty, "alerts never true during the rollouts:\n" + "\n".join(empty)


@pytest.mark.cluster
def test_alerts_name_the_right_canaries(rollouts: dict[str, Any]) -> None:
    """The failed alert is about ``broken`` only; both canaries were seen progressing."""
    rules = {rule["alert"]: rule["expr"] for rule in _rules()}
    failed = {s["metric"]["name"] for s in _range(rollouts, rules["FlaggerCanaryFailed"])}
    assert failed == {"broken"}
    progressing = {
        s["metric"]["name"] for s in _range(rollouts, rules["FlaggerCanaryStuckProgressing"])
    }
    assert progressing == {"podinfo", "broken"}
    delivery = _range(rollouts, rules["FlaggerAlertDeliveryFailing"])
    assert {(s["metric"]["provider_type"], s["metric"]["reason"]) for s in delivery} == {
        ("slack", "connection_error")
    }


@pytest.mark.cluster
def test_weight_panel_shows_the_step(rollouts: dict[str, Any]) -> None:
    """The weight panel's canary series reaches 50 for podinfo and ends at 0 for both."""
    expr = next(e for where, e in _targets() if where.startswith("Canary weight / B"))
    series = {
        s["metric"]["workload"]: [float(v) for _, v in s["values"]]
        for s in _range(rollouts, substitute(expr))
    }
    assert max(series["podinfo"]) == 50
    assert series["podinfo"][-1] == 0 and series["broken"][-1] == 0


@pytest.mark.cluster
def test_success_rate_panels_tell_primary_from_canary(rollouts: dict[str, Any]) -> None:
    """The broken canary's success rate drops (50% errors) while its primary stays above 99%."""
    primary = next(e for w, e in _targets() if w.startswith("Primary: success rate"))
    canary = next(e for w, e in _targets() if w.startswith("Canary: success rate"))
    only_broken = dict(VARIABLES, canary="broken", primary="broken-primary")
    primary_values = [
        float(v) for s in _range(rollouts, substitute(primary, only_broken)) for _, v in s["values"]
    ]
    canary_values = [
        float(v) for s in _range(rollouts, substitute(canary, only_broken)) for _, v in s["values"]
    ]
    assert min(primary_values) > 99
    assert min(canary_values) < 80


@pytest.mark.cluster
def test_variable_queries_list_the_canaries(rollouts: dict[str, Any]) -> None:
    """Each ``label_values(expr, label)`` variable lists the values the panels were queried with."""
    for variable in _dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", variable["query"]["query"])
        assert match, variable["query"]
        expr, label = match.group(1), match.group(2)
        values = {s["metric"][label] for s in _range(rollouts, substitute(expr))}
        assert set(VARIABLES[variable["name"]].split("|")) <= values, (variable["name"], values)
