"""The KEDA `<so>-primary` spec: names, copied fields, replica overrides and query rewriting
(Flagger's `setPrimaryScaledObjectQueries` and `Test_setPrimaryScaledObjectQueries`)."""

from __future__ import annotations

from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.workloads import keda
from tests.support import canaries


def canary(**autoscaler: Any) -> canary_api.Canary:
    ref = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "podinfo-so"}
    analysis = {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10}
    spec = canaries.podinfo_spec(autoscalerRef={**ref, **autoscaler}, analysis=analysis)
    return canaries.canary(spec, namespace="test", uid="u-1")


def scaled_object(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "podinfo-so", "namespace": "test"},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "podinfo",
                "envSourceContainerName": "podinfod",
            },
            "pollingInterval": 10,
            "cooldownPeriod": 20,
            "minReplicaCount": 1,
            "maxReplicaCount": 4,
            "fallback": {"failureThreshold": 3, "replicas": 2},
            "triggers": [
                {
                    "name": "requests",
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": "http://prometheus:9090",
                        "query": 'sum(rate(http_requests_total{app="podinfo-canary"}[1m]))',
                        "threshold": "100",
                    },
                }
            ],
            **spec,
        },
    }


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        (
            'sum(rate(http_requests_total{app="podinfo"}[2m]))',
            'sum(rate(http_requests_total{app="podinfo-primary"}[2m]))',
        ),
        (
            'sum(rate(http_requests_total{app="podinfo-canary"}[2m]))',
            'sum(rate(http_requests_total{app="podinfo-primary"}[2m]))',
        ),
        (
            'sum(rate(http_requests_total{app="podinfo-canary", svc="podinfo"}[2m]))',
            'sum(rate(http_requests_total{app="podinfo-primary", svc="podinfo-primary"}[2m]))',
        ),
        ("up", "up"),
    ],
)
def test_queries_rewritten_without_primary_scaler_queries(query: str, wanted: str) -> None:
    triggers = [{"type": "prometheus", "metadata": {"query": query}}]
    assert keda.primary_triggers(canary(), triggers)[0]["metadata"]["query"] == wanted
    assert triggers[0]["metadata"]["query"] == query  # the target's triggers stay untouched


def test_rewrite_is_by_plain_substring() -> None:
    # Flagger's best effort: any occurrence of the target name is replaced, already-primary too.
    assert keda.rewrite_query("podinfo-primary podinfo-canary", "podinfo") == (
        "podinfo-primary-primary podinfo-primary"
    )


def test_primary_scaler_queries_replace_by_trigger_name() -> None:
    pq1 = (
        'sum(rate(envoy_cluster_upstream_rq{ envoy_cluster_name="test_podinfo-primary_80" }[30s]))'
    )
    triggers: list[dict[str, Any]] = [
        {"name": "trigger1", "type": "prometheus", "metadata": {"query": "old1", "threshold": "5"}},
        {"name": "unmapped", "type": "prometheus", "metadata": {"query": "podinfo-canary"}},
        {"type": "prometheus", "metadata": {"query": "podinfo"}},  # unnamed
        {"name": "cpu", "type": "cpu", "metadata": {"value": "50"}},  # mapped, had no query
    ]
    result = keda.primary_triggers(
        canary(primaryScalerQueries={"trigger1": pq1, "cpu": "q-cpu"}), triggers
    )
    assert result[0]["metadata"] == {"query": pq1, "threshold": "5"}
    # with primaryScalerQueries set, nothing else is rewritten: no entry, no change
    assert result[1]["metadata"]["query"] == "podinfo-canary"
    assert result[2]["metadata"]["query"] == "podinfo"
    assert result[3]["metadata"] == {"value": "50", "query": "q-cpu"}


def test_empty_primary_scaler_queries_disable_rewriting() -> None:
    triggers = [{"name": "t", "metadata": {"query": "podinfo-canary"}}]
    result = keda.primary_triggers(canary(primaryScalerQueries={}), triggers)
    assert result[0]["metadata"]["query"] == "podinfo-canary"


def test_unnamed_trigger_matches_only_an_empty_key() -> None:
    # Go compares the zero-value name "" with the map keys.
    triggers = [{"metadata": {"query": "old"}}]
    result = keda.primary_triggers(canary(primaryScalerQueries={"": "new"}), triggers)
    assert result[0]["metadata"]["query"] == "new"


def test_primary_spec_names_and_copied_fields() -> None:
    source = scaled_object(
        idleReplicaCount=0,
        advanced={
            "restoreToOriginalReplicaCount": True,
            "horizontalPodAutoscalerConfig": {"name": "podinfo-hpa"},
        },
    )
    spec = keda.primary_scaled_object_spec(canary(), source)
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "podinfo-primary",
        "envSourceContainerName": "podinfod",
    }
    for field in (
        "pollingInterval",
        "cooldownPeriod",
        "minReplicaCount",
        "maxReplicaCount",
        "fallback",
        "idleReplicaCount",
    ):
        assert spec[field] == source["spec"][field]
    assert spec["advanced"] == {
        "restoreToOriginalReplicaCount": True,
        "horizontalPodAutoscalerConfig": {"name": "podinfo-hpa-primary"},
    }
    assert spec["triggers"][0]["metadata"]["query"] == (
        'sum(rate(http_requests_total{app="podinfo-primary"}[1m]))'
    )
    assert spec["triggers"][0]["metadata"]["serverAddress"] == "http://prometheus:9090"
    # the source is not modified
    assert source["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["name"] == "podinfo-hpa"


def test_primary_spec_minimal_source() -> None:
    source = {"spec": {"scaleTargetRef": {"name": "podinfo"}, "triggers": []}}
    spec = keda.primary_scaled_object_spec(canary(), source)
    assert spec == {
        "scaleTargetRef": {"name": "podinfo-primary"},
        "triggers": [],
        "advanced": {"horizontalPodAutoscalerConfig": {}},
    }


@pytest.mark.parametrize(
    ("replicas", "wanted"),
    [
        ({"minReplicas": 2, "maxReplicas": 15}, (2, 15)),
        ({"minReplicas": 3}, (3, 4)),
        ({"maxReplicas": 9}, (1, 9)),
        ({}, (1, 4)),
    ],
)
def test_primary_scaler_replicas_override(
    replicas: dict[str, int], wanted: tuple[int, int]
) -> None:
    spec = keda.primary_scaled_object_spec(canary(primaryScalerReplicas=replicas), scaled_object())
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == wanted
