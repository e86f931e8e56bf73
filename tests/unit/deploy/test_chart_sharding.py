"""The flagger chart deploys Flux-style shards: ``sharding.shards: [shard1, shard2]`` renders the
main Deployment (Canaries without the shard label) and one per shard (``<key>=<shard>``), no two
selecting each other's pods, each with its own leader-election Lease; misspelt or invalid
sharding values and a second ``-watch-label-selector`` in extraArgs are refused."""

from __future__ import annotations

from typing import Any

import pytest

from flagger.controller import leader
from flagger.playground import charts
from tests.unit.deploy import test_chart_values

KEY = "sharding.fluxcd.io/key"


def _render(values: dict[str, Any]) -> list[dict[str, Any]]:
    return charts.render(
        test_chart_values.CHART, values, release="flagger", namespace="flagger-system"
    )


def _selector(deployment: dict[str, Any]) -> str:
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    (found,) = [a.split("=", 1)[1] for a in args if a.startswith("-watch-label-selector=")]
    return str(found)


def test_two_shards_render_three_deployments_with_their_own_selectors_and_leases() -> None:
    values = {
        "meshProvider": "kubernetes",
        "sharding": {"shards": ["shard1", "shard2"]},
        "leaderElection": {"enabled": True, "replicaCount": 2},
        "podMonitor": {"enabled": True},
        "podDisruptionBudget": {"enabled": True},
    }
    objects = _render(values)
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    assert sorted(deployments) == ["flagger", "flagger-shard1", "flagger-shard2"]
    selectors = {name: _selector(d) for name, d in deployments.items()}
    assert selectors == {
        "flagger": f"!{KEY}",
        "flagger-shard1": f"{KEY}=shard1",
        "flagger-shard2": f"{KEY}=shard2",
    }
    leases = {leader.lease_name(s) for s in selectors.values()}
    assert len(leases) == 3, "each shard elects its own leader"

    pod_labels = {}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        test_chart_values.hardened(pod["spec"])
        args = pod["spec"]["containers"][0]["args"]
        assert "-enable-leader-election=true" in args and deployment["spec"]["replicas"] == 2
        assert pod["spec"]["serviceAccountName"] == "flagger"
        match = deployment["spec"]["selector"]["matchLabels"]
        assert match.items() <= pod["metadata"]["labels"].items()
        anti = pod["spec"]["affinity"]["podAntiAffinity"]
        term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
        assert term["labelSelector"]["matchLabels"] == match, "spread among the shard's replicas"
        pod_labels[name] = pod["metadata"]["labels"]
    for name, deployment in deployments.items():
        match = deployment["spec"]["selector"]["matchLabels"].items()
        selected = [other for other, labels in pod_labels.items() if match <= labels.items()]
        assert selected == [name], f"{name} selects the pods of {selected}"

    main = test_chart_values._find(objects, "Service")["spec"]["selector"]
    assert main.items() <= pod_labels["flagger"].items()
    budgets = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert sorted(
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] for b in budgets
    ) == ["flagger", "flagger-shard1", "flagger-shard2"]
    monitor = test_chart_values._find(objects, "PodMonitor")["spec"]["selector"]
    instances = next(
        e["values"] for e in monitor["matchExpressions"] if e["key"] == "app.kubernetes.io/instance"
    )
    assert sorted(instances) == ["flagger", "flagger-shard1", "flagger-shard2"]


def test_a_custom_key_and_no_shards() -> None:
    objects = _render({"sharding": {"key": "example.com/shard", "shards": ["a"]}})
    selectors = sorted(_selector(o) for o in objects if o["kind"] == "Deployment")
    assert selectors == ["!example.com/shard", "example.com/shard=a"]
    (only,) = [o for o in _render({"sharding": {"shards": []}}) if o["kind"] == "Deployment"]
    args = only["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not any(a.startswith("-watch-label-selector") for a in args)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"sharding": {"shard": ["a"]}}, "shard"),
        ({"sharding": {"shards": ["Shard_1"]}}, "shards"),
        ({"sharding": {"shards": ["a", "a"]}}, "shards"),
        ({"sharding": {"shards": "a,b"}}, "shards"),
        (
            {"sharding": {"shards": ["a"]}, "extraArgs": ["-watch-label-selector=team=x"]},
            "extraArgs",
        ),
    ],
)
def test_bad_sharding_values_are_refused_naming_the_key(values: dict[str, Any], named: str) -> None:
    with pytest.raises(charts.ChartError, match=named):
        _render(values)
