"""The TrafficSplits the SMI routers build, written out in full.

Matrix: provider (linkerd, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, osm, smi:<v>:istio) ->
apiVersion and weight type; hosts; weights and reading them back (Quantity strings included);
the update plan (no write when only weights differ, original kept on takeover); and the clear
errors for A/B testing, mirroring and session affinity.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.providers import smi
from tests.support.canaries import OWNER, routed_canary


def make_canary(
    service: dict[str, Any] | None = None,
    analysis: dict[str, Any] | None = None,
    provider: str = "linkerd",
) -> canary_api.Canary:
    return routed_canary(provider, service, analysis)


@pytest.mark.parametrize(
    ("provider", "version", "primary", "canary"),
    [
        ("linkerd", "v1alpha1", "100", "0"),
        ("smi:v1alpha1", "v1alpha1", "100", "0"),
        ("smi:v1alpha2", "v1alpha2", 100, 0),
        ("osm", "v1alpha2", 100, 0),
        ("smi:v1alpha3", "v1alpha3", 100, 0),
    ],
)
def test_traffic_split_per_provider(
    provider: str, version: str, primary: int | str, canary: int | str
) -> None:
    flavor = smi.flavor_for(provider)
    assert flavor is not None
    assert smi.traffic_split(make_canary(provider=provider), flavor) == {
        "apiVersion": f"split.smi-spec.io/{version}",
        "kind": "TrafficSplit",
        "metadata": {"name": "podinfo", "namespace": "test", "ownerReferences": [OWNER]},
        "spec": {
            "service": "podinfo",
            "backends": [
                {"service": "podinfo-canary", "weight": canary},
                {"service": "podinfo-primary", "weight": primary},
            ],
        },
    }


def test_first_host_and_istio_gateways_annotation() -> None:
    flavor = smi.flavor_for("smi:v1alpha2:istio")
    assert flavor is not None and flavor.target_mesh == "istio"
    canary = make_canary(
        {
            "port": 9898,
            "name": "web",
            "hosts": ["web.example.com", "b"],
            "gateways": ["public-gateway"],
        }
    )
    assert smi.traffic_split(canary, flavor, owner_refs=False) == {
        "apiVersion": "split.smi-spec.io/v1alpha2",
        "kind": "TrafficSplit",
        "metadata": {
            "name": "web",
            "namespace": "test",
            "annotations": {
                "VirtualService.v1alpha3.networking.istio.io/spec.gateways": '["public-gateway"]'
            },
        },
        "spec": {
            "service": "web.example.com",
            "backends": [
                {"service": "web-canary", "weight": 0},
                {"service": "web-primary", "weight": 100},
            ],
        },
    }
    linkerd = smi.flavor_for("linkerd")
    assert linkerd is not None
    assert "annotations" not in smi.traffic_split(canary, linkerd)["metadata"]


@pytest.mark.parametrize("provider", ["linkerd", "smi:v1alpha3"])
def test_weights_round_trip(provider: str) -> None:
    flavor = smi.flavor_for(provider)
    assert flavor is not None
    canary = make_canary(provider=provider)
    spec = smi.routed_spec(canary, flavor, smi.traffic_split_spec(canary, flavor), 75, 25)
    assert spec["backends"] == [
        {"service": "podinfo-canary", "weight": flavor.weight(25)},
        {"service": "podinfo-primary", "weight": flavor.weight(75)},
    ]
    assert smi.read_routes(canary, spec) == (75, 25, False)


def test_read_routes_quantities_and_missing_backends() -> None:
    canary = make_canary()
    spec = {
        "backends": [
            {"service": "podinfo-canary", "weight": "500m"},
            {"service": "podinfo-primary", "weight": "100"},
        ]
    }
    assert smi.read_routes(canary, spec) == (100, 0, False)
    with pytest.raises(
        router_helpers.RouterError,
        match=(
            r"TrafficSplit podinfo\.test does not contain routes for podinfo-primary and "
            "podinfo-canary"
        ),
    ):
        smi.read_routes(canary, {"backends": [{"service": "other", "weight": 100}]})


def test_update_plan() -> None:
    flavor = smi.flavor_for("smi:v1alpha2")
    assert flavor is not None
    canary = make_canary(provider="smi:v1alpha2")
    ours = smi.traffic_split(canary, flavor)
    ours["spec"] = smi.routed_spec(canary, flavor, ours["spec"], 20, 80)
    assert smi.plan_traffic_split_update(canary, flavor, ours) is None
    # a hosts change is written, without an original configuration (the split is ours)
    moved = make_canary({"port": 9898, "hosts": ["other"]}, provider="smi:v1alpha2")
    updated = smi.plan_traffic_split_update(moved, flavor, ours)
    assert updated is not None
    assert updated["spec"]["service"] == "other"
    assert "annotations" not in updated["metadata"]
    # someone else's split is taken over and its spec kept
    theirs = {
        "apiVersion": "split.smi-spec.io/v1alpha2",
        "kind": "TrafficSplit",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"service": "podinfo", "backends": [{"service": "podinfo-v1", "weight": 100}]},
    }
    taken = smi.plan_traffic_split_update(canary, flavor, theirs)
    assert taken is not None
    stored = taken["metadata"]["annotations"][router_helpers.CONFIG_ANNOTATION]
    assert json.loads(stored) == theirs["spec"]
    assert smi.original_spec(taken) == theirs["spec"]


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
            r"canary podinfo.test: provider linkerd does not support A/B testing "
            r"\(analysis.match\); providers that do: istio, appmesh:v1beta2, contour, gloo, nginx, "
            r"gatewayapi:v1; .*a TrafficSplit routes by weight only",
        ),
        (
            {"interval": "1m", "threshold": 5, "iterations": 5, "mirror": True},
            r"provider linkerd does not support traffic mirroring \(analysis.mirror\); "
            r"providers that do: istio, gatewayapi:v1",
        ),
        (
            {
                "interval": "1m",
                "threshold": 5,
                "stepWeight": 5,
                "sessionAffinity": {"cookieName": "c"},
            },
            r"provider linkerd does not support session affinity \(analysis.sessionAffinity\)",
        ),
    ],
)
def test_what_a_traffic_split_cannot_do(analysis: dict[str, Any], message: str) -> None:
    with pytest.raises(smi.UnsupportedByProvider, match=message):
        smi.check_supported(make_canary(analysis=analysis), "linkerd")


def test_flavors() -> None:
    assert smi.flavor_for("istio") is None
    assert smi.flavor_for("smi:v1alpha4") is None
    v1 = smi.flavor_for("smi:v1alpha1:linkerd")
    assert v1 is not None and (v1.version, v1.target_mesh) == ("v1alpha1", "linkerd")
