"""The TrafficRoute the Kuma router builds, written out in full.

Matrix: plain canary (mesh annotation, default port annotation); apex annotations; weights and
reading them back; the update plan (no write when only weights differ, original kept on
takeover); and the clear errors for A/B testing, mirroring and session affinity.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.providers import kuma
from tests.support.canaries import FLUX_OPT_OUT, OWNER, routed_canary


def make_canary(
    service: dict[str, Any] | None = None,
    analysis: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> canary_api.Canary:
    return routed_canary("kuma", service, analysis, annotations=annotations)


def split(weight: int, service: str) -> dict[str, Any]:
    return {"weight": weight, "destination": {"kuma.io/service": service}}


def test_plain_canary() -> None:
    assert kuma.traffic_route(make_canary()) == {
        "apiVersion": "kuma.io/v1alpha1",
        "kind": "TrafficRoute",
        "metadata": {
            "name": "podinfo",
            "annotations": {"9898.service.kuma.io": "http", **FLUX_OPT_OUT},
            "ownerReferences": [OWNER],
        },
        "mesh": "default",
        "spec": {
            "sources": [{"match": {"kuma.io/service": "*"}}],
            "destinations": [{"match": {"kuma.io/service": "podinfo_test_svc_9898"}}],
            "conf": {
                "split": [
                    split(100, "podinfo-primary_test_svc_9898"),
                    split(0, "podinfo-canary_test_svc_9898"),
                ]
            },
        },
    }


def test_mesh_annotation_and_apex_annotations() -> None:
    canary = make_canary(
        {"port": 80, "name": "web", "apex": {"annotations": {"a": "b"}}},
        annotations={"kuma.io/mesh": "payments"},
    )
    route = kuma.traffic_route(canary, owner_refs=False)
    assert route["mesh"] == "payments"
    assert route["metadata"] == {"name": "web", "annotations": {"a": "b", **FLUX_OPT_OUT}}
    assert route["spec"]["destinations"] == [{"match": {"kuma.io/service": "web_test_svc_80"}}]


def test_weights_round_trip() -> None:
    canary = make_canary()
    spec = kuma.routed_spec(canary, kuma.traffic_route_spec(canary), 65, 35)
    assert spec["conf"] == {
        "split": [
            split(65, "podinfo-primary_test_svc_9898"),
            split(35, "podinfo-canary_test_svc_9898"),
        ]
    }
    assert kuma.read_routes(canary, spec) == (65, 35, False)
    # the canary gets what the primary does not, as Flagger reads it
    assert kuma.read_routes(canary, kuma.routed_spec(canary, spec, 0, 100)) == (0, 100, False)
    with pytest.raises(
        router_helpers.RouterError,
        match=(
            "TrafficRoute podinfo does not contain routes for podinfo-primary and podinfo-canary"
        ),
    ):
        kuma.read_routes(canary, {"conf": {"split": []}})


def test_update_plan() -> None:
    canary = make_canary()
    ours = kuma.traffic_route(canary)
    ours["spec"] = kuma.routed_spec(canary, ours["spec"], 10, 90)
    assert kuma.plan_traffic_route_update(canary, ours) is None
    moved = kuma.plan_traffic_route_update(make_canary({"port": 8080}), ours)
    assert moved is not None
    assert moved["spec"] == kuma.traffic_route_spec(make_canary({"port": 8080}))
    assert router_helpers.CONFIG_ANNOTATION not in moved["metadata"]["annotations"]
    theirs = {
        "apiVersion": "kuma.io/v1alpha1",
        "kind": "TrafficRoute",
        "mesh": "default",
        "metadata": {"name": "podinfo"},
        "spec": {
            "sources": [{"match": {"kuma.io/service": "*"}}],
            "conf": {"destination": {"kuma.io/service": "podinfo_test_svc_9898"}},
        },
    }
    taken = kuma.plan_traffic_route_update(canary, theirs)
    assert taken is not None
    assert (
        json.loads(taken["metadata"]["annotations"][router_helpers.CONFIG_ANNOTATION])
        == theirs["spec"]
    )
    assert kuma.original_spec(taken) == theirs["spec"]


@pytest.mark.parametrize(
    ("analysis", "message"),
    [
        (
            {
                "interval": "1m",
                "threshold": 5,
                "iterations": 5,
                "match": [{"headers": {"x-canary": {"exact": "1"}}}],
            },
            r"canary podinfo.test: provider kuma does not support A/B testing \(analysis.match\)",
        ),
        (
            {"interval": "1m", "threshold": 5, "iterations": 5, "mirror": True},
            r"provider kuma does not support traffic mirroring \(analysis.mirror\)",
        ),
        (
            {
                "interval": "1m",
                "threshold": 5,
                "stepWeight": 5,
                "sessionAffinity": {"cookieName": "c"},
            },
            r"provider kuma does not support session affinity \(analysis.sessionAffinity\)",
        ),
    ],
)
def test_what_a_traffic_route_cannot_do(analysis: dict[str, Any], message: str) -> None:
    with pytest.raises(kuma.UnsupportedByProvider, match=message):
        kuma.check_supported(make_canary(analysis=analysis))
