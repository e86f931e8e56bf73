"""The canary Ingress the NGINX router builds and the annotations it writes, in full.

Matrix: the canary Ingress cloned from the original (backends, labels, annotations filtered,
custom annotation prefix); a missing backend; routing by weight (canary, blue/green at 100, back
to 0); A/B testing by header value, header pattern, cookie, header and cookie together; reading the
routes back; the update plan (spec only, no write when unchanged); and the unsupported requests
(no ingressRef, mirroring, session affinity, prefix/suffix/query-parameter matches, two headers).
"""

from __future__ import annotations

from typing import Any

import pytest

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.providers import nginx
from tests.support.canaries import FLUX_OPT_OUT, INGRESS_REF, OWNER, routed_canary

P = "nginx.ingress.kubernetes.io"


def make_canary(
    analysis: dict[str, Any] | None = None,
    *,
    ingress_ref: bool = True,
    service: dict[str, Any] | None = None,
) -> canary_api.Canary:
    return routed_canary(
        "nginx",
        service or {"port": 80, "targetPort": 9898},
        analysis or {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50},
        **({"ingressRef": INGRESS_REF} if ingress_ref else {}),
    )


def backend(service: str, port: int = 80) -> dict[str, Any]:
    return {"service": {"name": service, "port": {"number": port}}}


def original_ingress(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "uid": "orig-uid",
            "resourceVersion": "42",
            "labels": {"app": "podinfo"},
            "annotations": annotations
            if annotations is not None
            else {
                "kubernetes.io/ingress.class": "nginx",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                f"{P}/canary-weight": "30",
            },
        },
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "app.example.com",
                    "http": {
                        "paths": [
                            {"path": "/", "pathType": "Prefix", "backend": backend("podinfo")},
                            {"path": "/static", "pathType": "Prefix", "backend": backend("assets")},
                        ]
                    },
                }
            ],
        },
    }


CANARY_SPEC = {
    "ingressClassName": "nginx",
    "rules": [
        {
            "host": "app.example.com",
            "http": {
                "paths": [
                    {"path": "/", "pathType": "Prefix", "backend": backend("podinfo-canary")},
                    {"path": "/static", "pathType": "Prefix", "backend": backend("assets")},
                ]
            },
        }
    ],
}
RESET = {
    "kubernetes.io/ingress.class": "nginx",
    **FLUX_OPT_OUT,
    f"{P}/canary": "true",
    f"{P}/canary-weight": "0",
}


def test_canary_ingress_is_a_clone_pointing_at_the_canary_service() -> None:
    canary = make_canary()
    assert nginx.build_canary_ingress(canary, original_ingress(), P) == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "podinfo-canary",
            "namespace": "test",
            "labels": {"app": "podinfo"},
            "annotations": RESET,
            "ownerReferences": [OWNER],
        },
        "spec": CANARY_SPEC,
    }


def test_every_path_to_the_apex_is_rewritten_and_the_original_is_untouched() -> None:
    ingress = original_ingress()
    ingress["spec"]["rules"].append(
        {
            "http": {
                "paths": [
                    {"path": "/api", "pathType": "Exact", "backend": backend("podinfo", 9898)},
                    {
                        "path": "/x",
                        "pathType": "Exact",
                        "backend": {"resource": {"kind": "Bucket", "name": "b"}},
                    },
                ]
            }
        }
    )
    before = router_helpers.deep_copy(ingress)
    spec = nginx.canary_ingress_spec(make_canary(), ingress)
    assert spec["rules"][1] == {
        "http": {
            "paths": [
                {"path": "/api", "pathType": "Exact", "backend": backend("podinfo-canary", 9898)},
                {
                    "path": "/x",
                    "pathType": "Exact",
                    "backend": {"resource": {"kind": "Bucket", "name": "b"}},
                },
            ]
        }
    }
    assert ingress == before


def test_service_name_overrides_the_target_name() -> None:
    canary = make_canary(service={"port": 80, "name": "frontend"})
    ingress = original_ingress()
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"] = backend("frontend")
    spec = nginx.canary_ingress_spec(canary, ingress)
    assert spec["rules"][0]["http"]["paths"][0]["backend"] == backend("frontend-canary")


def test_missing_backend_is_an_error() -> None:
    ingress = original_ingress()
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"] = backend("other")
    with pytest.raises(
        router_helpers.RouterError, match="backend podinfo not found in ingress podinfo"
    ):
        nginx.canary_ingress_spec(make_canary(), ingress)


def test_custom_annotation_prefix() -> None:
    prefix = "custom.ingress.kubernetes.io"
    built = nginx.build_canary_ingress(
        make_canary(), original_ingress({f"{prefix}/canary-by-header": "x"}), prefix
    )
    assert built["metadata"]["annotations"] == {
        **FLUX_OPT_OUT,
        f"{prefix}/canary": "true",
        f"{prefix}/canary-weight": "0",
    }


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        (10, {**RESET, f"{P}/canary-weight": "10"}),
        (60, {**RESET, f"{P}/canary-weight": "60"}),
        (100, {**RESET, f"{P}/canary-weight": "100"}),
        (0, RESET),
    ],
)
def test_canary_weights(weight: int, expected: dict[str, str]) -> None:
    canary = make_canary()
    assert nginx.routed_annotations(canary, RESET, P, weight) == expected
    assert nginx.read_routes(canary, expected, P) == (100 - weight, weight, False)


def test_back_to_zero_resets_from_any_state() -> None:
    canary = make_canary()
    dirty = {
        **RESET,
        f"{P}/canary-weight": "40",
        f"{P}/canary-by-header": "x-canary",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
    }
    assert nginx.routed_annotations(canary, dirty, P, 0) == RESET


def test_blue_green_is_all_or_nothing() -> None:
    canary = make_canary({"interval": "1m", "threshold": 2, "iterations": 5})
    routed = nginx.routed_annotations(canary, RESET, P, 100)
    assert routed == {**RESET, f"{P}/canary-weight": "100"}
    assert nginx.read_routes(canary, routed, P) == (0, 100, False)


AB_CASES = [
    pytest.param(
        {"x-canary": {"exact": "insider"}},
        {f"{P}/canary-by-header": "x-canary", f"{P}/canary-by-header-value": "insider"},
        id="header-value",
    ),
    pytest.param(
        {"x-user-type": {"regex": "^(beta|alpha)$"}},
        {f"{P}/canary-by-header": "x-user-type", f"{P}/canary-by-header-pattern": "^(beta|alpha)$"},
        id="header-pattern",
    ),
    pytest.param({"cookie": {"exact": "canary"}}, {f"{P}/canary-by-cookie": "canary"}, id="cookie"),
]


@pytest.mark.parametrize(("headers", "extra"), AB_CASES)
def test_ab_testing_annotations(headers: dict[str, Any], extra: dict[str, str]) -> None:
    canary = make_canary(
        {"interval": "1m", "threshold": 2, "iterations": 10, "match": [{"headers": headers}]}
    )
    routed = nginx.routed_annotations(canary, RESET, P, 100)
    # Flagger filters by value, so the reset's canary-weight "0" stays beside the A/B keys.
    assert routed == {**RESET, **extra}
    assert nginx.read_routes(canary, routed, P) == (0, 100, False)
    back = nginx.routed_annotations(canary, routed, P, 0)
    assert back == RESET
    assert nginx.read_routes(canary, back, P) == (100, 0, False)


def test_ab_testing_by_header_and_cookie() -> None:
    canary = make_canary(
        {
            "interval": "1m",
            "iterations": 10,
            "match": [
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"cookie": {"exact": "canary"}}},
            ],
        }
    )
    assert nginx.ab_conditions(canary) == ("canary", "x-canary", "insider", "")
    assert nginx.routed_annotations(canary, RESET, P, 100) == {
        **RESET,
        f"{P}/canary-by-header": "x-canary",
        f"{P}/canary-by-header-value": "insider",
        f"{P}/canary-by-cookie": "canary",
    }


def test_read_routes_without_annotations_is_all_primary() -> None:
    assert nginx.read_routes(make_canary(), None, P) == (100, 0, False)


def test_read_routes_rejects_a_bad_weight() -> None:
    with pytest.raises(router_helpers.RouterError, match="failed to convert ten to int"):
        nginx.read_routes(make_canary(), {f"{P}/canary-weight": "ten"}, P)


def test_update_plan_rewrites_the_spec_only() -> None:
    existing = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "podinfo-canary",
            "namespace": "test",
            "resourceVersion": "7",
            "annotations": {**RESET, f"{P}/canary-weight": "20"},
        },
        "spec": {"rules": []},
    }
    updated = nginx.plan_canary_ingress_update(CANARY_SPEC, existing)
    assert updated == {**existing, "spec": CANARY_SPEC}
    assert updated is not None and updated["metadata"] is not existing["metadata"]
    assert nginx.plan_canary_ingress_update(CANARY_SPEC, updated) is None


UNSUPPORTED = [
    pytest.param(
        {"interval": "1m", "iterations": 5, "mirror": True}, "traffic mirroring", id="mirror"
    ),
    pytest.param(
        {"interval": "1m", "stepWeight": 10, "sessionAffinity": {"cookieName": "flagger-cookie"}},
        "session affinity",
        id="session-affinity",
    ),
    pytest.param(
        {"interval": "1m", "iterations": 5, "match": [{"headers": {"x-canary": {"prefix": "in"}}}]},
        "prefix or suffix matching of header 'x-canary'",
        id="prefix",
    ),
    pytest.param(
        {"interval": "1m", "iterations": 5, "match": [{"headers": {"cookie": {"regex": "can.*"}}}]},
        "cookie matching other than exact",
        id="cookie-regex",
    ),
    pytest.param(
        {"interval": "1m", "iterations": 5, "match": [{"queryParams": {"canary": {"exact": "1"}}}]},
        "A/B matching on query parameters",
        id="query-params",
    ),
    pytest.param(
        {
            "interval": "1m",
            "iterations": 5,
            "match": [{"headers": {"x-a": {"exact": "1"}}}, {"headers": {"x-b": {"exact": "2"}}}],
        },
        r"A/B matching on several headers \(x-a, x-b\)",
        id="two-headers",
    ),
]


@pytest.mark.parametrize(("analysis", "feature"), UNSUPPORTED)
def test_unsupported_requests_name_canary_provider_and_feature(
    analysis: dict[str, Any], feature: str
) -> None:
    with pytest.raises(
        nginx.UnsupportedRequest,
        match=f"canary podinfo.test: provider nginx does not support {feature}",
    ) as caught:
        nginx.check_supported(make_canary(analysis))
    assert isinstance(caught.value, router_helpers.RouterError)
    assert caught.value.provider == "nginx" and caught.value.canary == "podinfo.test"


def test_no_ingress_ref_is_unsupported() -> None:
    with pytest.raises(
        nginx.UnsupportedRequest,
        match=r"canary podinfo\.test: provider nginx does not support a canary "
        r"without spec\.ingressRef; set spec\.ingressRef",
    ):
        nginx.check_supported(make_canary(ingress_ref=False))
