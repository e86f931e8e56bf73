"""The canary Ingress the Skipper router builds and the weights it writes, in full.

Matrix: the canary Ingress (primary path + appended canary path, labels, annotations with the
backend weights and Weight(100) predicate, user predicates kept); a missing backend; weights
0..100 with the False() predicate at 0; reading the weights back (and broken annotations); the
update plan (rebuilt from a changed original, weights reset, Flux opt-outs); unsupported requests.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.providers import nginx, skipper
from tests.support.canaries import FLUX_OPT_OUT, INGRESS_REF, OWNER, routed_canary

W = "zalando.org/backend-weights"
PRED = "zalando.org/skipper-predicate"


def make_canary(
    analysis: dict[str, Any] | None = None, *, ingress_ref: bool = True
) -> canary_api.Canary:
    return routed_canary(
        "skipper",
        {"port": 80},
        analysis or {"interval": "1m", "stepWeight": 10, "maxWeight": 50},
        **({"ingressRef": INGRESS_REF} if ingress_ref else {}),
    )


def path(service: str, at: str = "/") -> dict[str, Any]:
    return {
        "path": at,
        "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": {"number": 80}}},
    }


def original_ingress(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "uid": "o-uid",
            "labels": {"app": "podinfo"},
            "annotations": annotations
            if annotations is not None
            else {"kubernetes.io/ingress.class": "skipper", PRED: 'Method("GET")'},
        },
        "spec": {
            "rules": [
                {
                    "host": "app.example.com",
                    "http": {"paths": [path("podinfo"), path("assets", "/static")]},
                }
            ]
        },
    }


CANARY_SPEC = {
    "rules": [
        {
            "host": "app.example.com",
            "http": {
                "paths": [
                    path("podinfo-primary"),
                    path("assets", "/static"),
                    path("podinfo-canary"),
                ]
            },
        }
    ]
}


def test_canary_ingress_routes_primary_and_canary_paths() -> None:
    assert skipper.build_canary_ingress(make_canary(), original_ingress()) == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "podinfo-canary",
            "namespace": "test",
            "labels": {"app": "podinfo"},
            "annotations": {
                "kubernetes.io/ingress.class": "skipper",
                W: '{"podinfo-canary":0,"podinfo-primary":100}',
                PRED: 'Weight(100) && Method("GET")',
            },
            "ownerReferences": [OWNER],
        },
        "spec": CANARY_SPEC,
    }


def test_without_annotations() -> None:
    built = skipper.build_canary_ingress(make_canary(), original_ingress({}))
    assert built["metadata"]["annotations"] == {
        W: '{"podinfo-canary":0,"podinfo-primary":100}',
        PRED: "Weight(100)",
    }


def test_missing_backend_is_an_error() -> None:
    ingress = original_ingress()
    ingress["spec"]["rules"][0]["http"]["paths"] = [path("other")]
    with pytest.raises(
        router_helpers.RouterError, match="backend podinfo not found in ingress podinfo"
    ):
        skipper.canary_ingress_spec(make_canary(), ingress)


@pytest.mark.parametrize(
    ("primary", "weight", "predicate"),
    [
        (90, 10, 'Weight(100) && Method("GET")'),
        (15, 85, 'Weight(100) && Method("GET")'),
        (0, 100, 'Weight(100) && Method("GET")'),
        (100, 0, 'False() && Method("GET")'),
    ],
)
def test_weights(primary: int, weight: int, predicate: str) -> None:
    canary = make_canary()
    current = {
        "kubernetes.io/ingress.class": "skipper",
        W: '{"podinfo-canary":0,"podinfo-primary":100}',
        PRED: 'Weight(100) && Method("GET")',
    }
    routed = skipper.routed_annotations(canary, current, primary, weight)
    assert routed == {
        "kubernetes.io/ingress.class": "skipper",
        W: f'{{"podinfo-canary":{weight},"podinfo-primary":{primary}}}',
        PRED: predicate,
    }
    assert skipper.read_routes(canary, routed, "podinfo-canary.test") == (primary, weight, False)


def test_insert_predicate() -> None:
    assert skipper.insert_predicate(None, "Weight(100)") == "Weight(100)"
    assert (
        skipper.insert_predicate('False() && Path("/") &&  ', "Weight(100)")
        == 'Weight(100) && Path("/")'
    )
    assert skipper.insert_predicate("Weight(100)", "False()") == "False()"


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({}, "annotation zalando.org/backend-weights not found"),
        ({W: "nope"}, "get backendWeights error"),
        ({W: '{"podinfo-primary":100}'}, r"could not get weights\[podinfo-canary\]"),
    ],
)
def test_read_routes_errors(annotations: dict[str, str], message: str) -> None:
    with pytest.raises(router_helpers.RouterError, match=message):
        skipper.read_routes(make_canary(), annotations, "podinfo-canary.test")


def test_update_plan_rebuilds_from_a_changed_original() -> None:
    canary = make_canary()
    existing = skipper.build_canary_ingress(canary, original_ingress())
    existing["metadata"]["resourceVersion"] = "9"
    existing["metadata"]["annotations"][W] = '{"podinfo-canary":30,"podinfo-primary":70}'
    assert skipper.plan_canary_ingress_update(canary, original_ingress(), existing) is None
    changed = original_ingress()
    changed["spec"]["rules"][0]["host"] = "new.example.com"
    updated = skipper.plan_canary_ingress_update(canary, changed, existing)
    assert updated is not None
    assert updated["spec"]["rules"][0]["host"] == "new.example.com"
    assert updated["metadata"] == {
        **existing["metadata"],
        "annotations": {
            "kubernetes.io/ingress.class": "skipper",
            W: '{"podinfo-canary":0,"podinfo-primary":100}',
            PRED: 'Weight(100) && Method("GET")',
            **FLUX_OPT_OUT,
        },
    }


@pytest.mark.parametrize(
    ("analysis", "feature"),
    [
        (
            {"interval": "1m", "iterations": 5, "match": [{"headers": {"x": {"exact": "1"}}}]},
            r"A/B testing \(analysis.match\)",
        ),
        ({"interval": "1m", "iterations": 5, "mirror": True}, "traffic mirroring"),
        (
            {"interval": "1m", "stepWeight": 5, "sessionAffinity": {"cookieName": "c"}},
            "session affinity",
        ),
    ],
)
def test_unsupported_requests(analysis: dict[str, Any], feature: str) -> None:
    with pytest.raises(
        nginx.UnsupportedRequest,
        match=f"canary podinfo.test: provider skipper does not support {feature}",
    ):
        skipper.check_supported(make_canary(analysis))


def test_no_ingress_ref_is_unsupported() -> None:
    with pytest.raises(nginx.UnsupportedRequest, match=r"without spec\.ingressRef"):
        skipper.check_supported(make_canary(ingress_ref=False))
