"""Istio route selection on VirtualService dicts: which route matches (uri, headers, cookies,
method, query parameters, source labels), how weights split traffic (seeded), mirroring and its
percentage, header operations, URI rewrites, retries and timeouts."""

from __future__ import annotations

import collections
import random
from typing import Any

import pytest
from multidict import CIMultiDict

from flagger.playground import mesh_routing as routing


def view(path: str = "/", method: str = "GET", **headers: str) -> routing.RequestView:
    return routing.RequestView(
        method=method,
        path=path,
        headers={k.replace("_", "-").lower(): v for k, v in headers.items()},
        authority="podinfo.test:9898",
        port=9898,
    )


def dest(host: str, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"destination": {"host": host}, **extra}
    if weight is not None:
        entry["weight"] = weight
    return entry


# Flagger's A/B route: header and cookie conditions first, then the default route.
AB_ROUTES = [
    {
        "match": [
            {"headers": {"x-canary": {"exact": "insider"}}},
            {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
        ],
        "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)],
    },
    {"route": [dest("podinfo-primary", 100)]},
]


@pytest.mark.parametrize(
    ("request_view", "expected"),
    [
        (view(x_canary="insider"), "podinfo-canary"),
        (view(x_canary="outsider"), "podinfo-primary"),
        (view(cookie="canary=always; session=1"), "podinfo-canary"),
        (view(cookie="canary=never; session=1"), "podinfo-primary"),
        (view(), "podinfo-primary"),
    ],
)
def test_header_and_cookie_matches_pick_the_first_matching_route(
    request_view: routing.RequestView, expected: str
) -> None:
    decision = routing.decide(AB_ROUTES, request_view, random.Random(1))
    assert decision is not None
    assert decision.host == expected


@pytest.mark.parametrize(
    ("match", "request_view", "matches"),
    [
        ({"uri": {"exact": "/api"}}, view("/api?x=1"), True),
        ({"uri": {"exact": "/api"}}, view("/api/v1"), False),
        ({"uri": {"prefix": "/api"}}, view("/api/v1"), True),
        ({"uri": {"prefix": "/API"}, "ignoreUriCase": True}, view("/api/v1"), True),
        ({"uri": {"regex": "/status/5.."}}, view("/status/503"), True),
        ({"uri": {"regex": "/status/5"}}, view("/status/503"), False),  # regex matches whole path
        ({"method": {"exact": "POST"}}, view("/", "POST"), True),
        ({"method": {"exact": "POST"}}, view("/", "GET"), False),
        ({"headers": {"user-agent": {"prefix": "curl/"}}}, view(user_agent="curl/8.1"), True),
        ({"headers": {"user-agent": {"regex": ".*Firefox.*"}}}, view(user_agent="curl/8"), False),
        ({"headers": {"x-debug": {}}}, view(x_debug="1"), True),  # presence only
        ({"headers": {"x-debug": {}}}, view(), False),
        ({"withoutHeaders": {"x-debug": {}}}, view(), True),
        ({"queryParams": {"canary": {"exact": "true"}}}, view("/?canary=true"), True),
        ({"queryParams": {"canary": {"exact": "true"}}}, view("/?canary=false"), False),
        ({"queryParams": {"v": {"regex": "[0-9]+"}}}, view("/?v=12"), True),
        ({"port": 9898}, view(), True),
        ({"port": 80}, view(), False),
        ({"uri": {"prefix": "/api"}, "method": {"exact": "GET"}}, view("/api", "DELETE"), False),
    ],
)
def test_one_match_entry_needs_all_its_fields(
    match: dict[str, Any], request_view: routing.RequestView, matches: bool
) -> None:
    assert routing.match_request(match, request_view) is matches


def test_source_labels_and_namespace_match_the_caller() -> None:
    caller = routing.RequestView(
        method="GET",
        path="/",
        headers={},
        source_labels={"app": "frontend"},
        source_namespace="test",
    )
    assert routing.match_request({"sourceLabels": {"app": "frontend"}}, caller)
    assert not routing.match_request({"sourceLabels": {"app": "loadtester"}}, caller)
    assert routing.match_request({"sourceNamespace": "test"}, caller)
    assert not routing.match_request({"sourceNamespace": "prod"}, caller)


def test_no_matching_route_is_no_route() -> None:
    routes = [{"match": [{"uri": {"prefix": "/api"}}], "route": [dest("api")]}]
    assert routing.decide(routes, view("/web"), random.Random(0)) is None


@pytest.mark.parametrize(("primary", "canary"), [(80, 20), (50, 50), (95, 5), (100, 0)])
def test_weights_split_traffic_in_proportion(primary: int, canary: int) -> None:
    route = {"route": [dest("podinfo-primary", primary), dest("podinfo-canary", canary)]}
    rng = random.Random(42)
    counts = collections.Counter(
        routing.choose_destination(route, rng)["destination"]["host"]  # type: ignore[index]
        for _ in range(10_000)
    )
    assert abs(counts["podinfo-canary"] / 10_000 * 100 - canary) < 1.5
    if canary == 0:
        assert counts["podinfo-canary"] == 0


def test_a_single_destination_needs_no_weight() -> None:
    choice = routing.choose_destination({"route": [dest("podinfo")]}, random.Random(0))
    assert choice is not None
    assert choice["destination"]["host"] == "podinfo"


def test_mirror_copies_all_requests_or_the_given_percentage() -> None:
    full = {"route": [dest("podinfo-primary")], "mirror": {"host": "podinfo-canary"}}
    decision = routing.decide([full], view(), random.Random(0))
    assert decision is not None
    assert decision.mirror_host == "podinfo-canary"
    assert decision.host == "podinfo-primary"

    partial = {**full, "mirrorPercentage": {"value": 25.0}}
    rng = random.Random(7)
    mirrored = sum(routing.should_mirror(partial, rng) for _ in range(10_000))
    assert 2_250 < mirrored < 2_750

    off = {**full, "mirrorPercentage": {"value": 0}}
    assert not any(routing.should_mirror(off, rng) for _ in range(100))
    assert not routing.should_mirror({"route": [dest("podinfo")]}, rng)


def test_header_operations_on_route_and_destination() -> None:
    route = {
        "route": [
            dest(
                "podinfo",
                headers={
                    "request": {"set": {"x-dest": "primary"}},
                    "response": {"add": {"set-cookie": "canary=1"}},
                },
            )
        ],
        "headers": {
            "request": {"set": {"x-env": "test"}, "add": {"x-tag": "b"}, "remove": ["x-secret"]},
            "response": {"remove": ["server"], "set": {"x-served-by": "mesh"}},
        },
    }
    decision = routing.decide([route], view(), random.Random(0))
    assert decision is not None
    request: CIMultiDict[str] = CIMultiDict({"X-Tag": "a", "X-Secret": "s", "X-Env": "old"})
    for ops in decision.request_headers:
        routing.apply_header_ops(request, ops)
    assert request.getall("x-tag") == ["a", "b"]
    assert request["x-env"] == "test"
    assert request["x-dest"] == "primary"
    assert "x-secret" not in request

    response: CIMultiDict[str] = CIMultiDict({"Server": "podinfo", "Set-Cookie": "a=1"})
    for ops in decision.response_headers:
        routing.apply_header_ops(response, ops)
    assert "server" not in response
    assert response["x-served-by"] == "mesh"
    assert response.getall("set-cookie") == ["a=1", "canary=1"]


@pytest.mark.parametrize(
    ("match", "rewrite", "path", "expected"),
    [
        ({"uri": {"prefix": "/api"}}, {"uri": "/"}, "/api/version?x=1", "//version?x=1"),
        ({"uri": {"prefix": "/api/"}}, {"uri": "/"}, "/api/version", "/version"),
        ({"uri": {"exact": "/old"}}, {"uri": "/new"}, "/old?q=1", "/new?q=1"),
        (None, {"uri": "/healthz"}, "/anything", "/healthz"),
        (None, None, "/same", "/same"),
    ],
)
def test_rewrite_replaces_the_matched_prefix_or_the_path(
    match: dict[str, Any] | None, rewrite: dict[str, Any] | None, path: str, expected: str
) -> None:
    assert routing.rewrite_path(path, rewrite, match) == expected


def test_rewrite_and_authority_in_a_decision() -> None:
    route = {
        "match": [{"uri": {"prefix": "/v1/"}}],
        "rewrite": {"uri": "/", "authority": "b"},
        "route": [dest("backend")],
    }
    decision = routing.decide([route], view("/v1/echo"), random.Random(0))
    assert decision is not None
    assert (decision.path, decision.authority) == ("/echo", "b")


def test_retries_and_timeout() -> None:
    route = {
        "route": [dest("podinfo")],
        "timeout": "1.5s",
        "retries": {
            "attempts": 3,
            "perTryTimeout": "500ms",
            "retryOn": "gateway-error,connect-failure",
        },
    }
    decision = routing.decide([route], view(), random.Random(0))
    assert decision is not None
    assert decision.timeout == 1.5
    policy = decision.retries
    assert (policy.attempts, policy.per_try_timeout) == (3, 0.5)
    assert policy.retries_status(503) and policy.retries_status(502)
    assert not policy.retries_status(500)
    assert policy.retries_connect_failure()

    five_xx = routing.retry_policy({"retries": {"attempts": 2, "retryOn": "5xx"}})
    assert five_xx.retries_status(500) and five_xx.retries_timeout()
    codes = routing.retry_policy({"retries": {"attempts": 1, "retryOn": "429"}})
    assert codes.retries_status(429) and not codes.retries_status(503)
    off = routing.retry_policy({"retries": {"attempts": 0}})
    assert off.attempts == 0


def test_istio_default_retry_policy_without_retries() -> None:
    policy = routing.retry_policy({"route": [dest("podinfo")]})
    assert policy.attempts == 2
    assert policy.retries_status(503)
    assert not policy.retries_status(500)
    assert policy.retries_connect_failure()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("0.25s", 0.25),
        ("2h", 7200.0),
        ("0s", None),
        ("", None),
        (None, None),
    ],
)
def test_durations(text: str | None, seconds: float | None) -> None:
    assert routing.parse_duration(text) == seconds


def test_invalid_duration_is_an_error() -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        routing.parse_duration("ten seconds")


def test_balancer_splits_every_window_exactly() -> None:
    """The playground's smooth weighted round-robin: any 100 requests split 95/5 exactly."""
    route = {
        "route": [
            {"destination": {"host": "podinfo-primary"}, "weight": 95},
            {"destination": {"host": "podinfo-canary"}, "weight": 5},
        ]
    }
    balancer = routing.Balancer()
    picks = [routing.choose_destination(route, random.Random(1), balancer) for _ in range(1000)]
    hosts = [p["destination"]["host"] for p in picks if p is not None]
    for start in range(0, 1000, 100):
        assert hosts[start : start + 100].count("podinfo-canary") == 5
    route["route"][1]["weight"] = 10
    route["route"][0]["weight"] = 90
    hosts = [
        p["destination"]["host"]
        for p in (routing.choose_destination(route, random.Random(1), balancer) for _ in range(50))
        if p is not None
    ]
    assert hosts.count("podinfo-canary") == 5
