"""The TraefikService the Traefik router builds, written out in full.

Matrix: a plain canary (apex metadata, ``traefik.io`` group); canary weights (the canary listed
only while it has weight); blue/green switch; reading the weights back; the update plan (no write
when only weights differ, Flagger's two-service comparison, weights kept, original kept on
takeover); A/B testing, mirroring and session affinity refused; the plugin hooks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api
from flagger.providers import traefik
from tests.support.canaries import FLUX_OPT_OUT, OWNER, routed_canary
from tests.support.registered import registered


def make_canary(
    service: dict[str, Any], analysis: dict[str, Any] | None = None
) -> canary_api.Canary:
    return routed_canary("traefik", service, analysis)


def svc(name: str, weight: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "namespace": "test", "port": 9898}
    if weight:
        found["weight"] = weight
    return found


def test_plain_canary() -> None:
    canary = make_canary({"port": 9898, "apex": {"labels": {"team": "a"}}})
    assert traefik.traefik_service(canary) == {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "labels": {"team": "a"},
            "annotations": FLUX_OPT_OUT,
            "ownerReferences": [OWNER],
        },
        "spec": {"weighted": {"services": [svc("podinfo-primary", 100)]}},
    }


def test_weights_and_blue_green() -> None:
    canary = make_canary({"port": 9898})
    assert traefik.traefik_service_spec(canary, 90, 10) == {
        "weighted": {"services": [svc("podinfo-primary", 90), svc("podinfo-canary", 10)]}
    }
    assert traefik.read_routes(canary, traefik.traefik_service_spec(canary, 90, 10)) == (
        90,
        10,
        False,
    )
    # blue/green: everything to the canary, the primary stays listed without weight
    switched = traefik.traefik_service_spec(canary, 0, 100)
    assert switched == {
        "weighted": {"services": [svc("podinfo-primary"), svc("podinfo-canary", 100)]}
    }
    assert traefik.read_routes(canary, switched) == (0, 100, False)
    with pytest.raises(
        router_helpers.RouterError, match=r"TraefikService podinfo\.test services not"
    ):
        traefik.read_routes(canary, {"weighted": {"services": []}})


def test_update_plan() -> None:
    canary = make_canary({"port": 9898})
    live = {**traefik.traefik_service(canary), "spec": traefik.traefik_service_spec(canary, 70, 30)}
    assert traefik.plan_traefik_service_update(canary, live) is None

    moved = make_canary({"port": 8080})
    updated = traefik.plan_traefik_service_update(moved, live)
    assert updated is not None
    assert updated["spec"] == {
        "weighted": {
            "services": [
                {"name": "podinfo-primary", "namespace": "test", "port": 8080, "weight": 70},
                {"name": "podinfo-canary", "namespace": "test", "port": 8080, "weight": 30},
            ]
        }
    }
    assert router_helpers.CONFIG_ANNOTATION not in updated["metadata"]["annotations"]


def test_takeover_keeps_the_original() -> None:
    canary = make_canary({"port": 9898})
    users = {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"weighted": {"services": [{"name": "podinfo", "port": 80}]}},
    }
    updated = traefik.plan_traefik_service_update(canary, users)
    assert updated is not None
    assert updated["spec"] == traefik.traefik_service_spec(canary)
    assert (
        json.loads(updated["metadata"]["annotations"][router_helpers.CONFIG_ANNOTATION])
        == users["spec"]
    )
    assert traefik.original_spec(updated) == users["spec"]


def test_hooks() -> None:
    context = plugins.PluginContext(kube=object(), options={"kubeconfig-service-mesh": "/x"})
    router = traefik.flagger_router("traefik", context)
    assert isinstance(router, traefik.TraefikRouter) and isinstance(router, plugins.Router)
    assert router.set_owner_refs is False
    assert traefik.flagger_router("contour", context) is None
    assert registered(traefik) == {(plugins.Kind.ROUTER, "traefik")}
