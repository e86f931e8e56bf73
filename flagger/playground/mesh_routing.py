"""Istio HTTP routing rules, applied to one request: the pure half of the mesh proxy.

A VirtualService's ``spec.http`` is an ordered list of routes. For each request the first route
whose ``match`` list matches wins (an empty or missing list matches everything; the entries of
the list are alternatives, the fields inside one entry must all hold):

- ``uri``, ``scheme``, ``method``, ``authority``: a StringMatch (``exact``, ``prefix`` or
  ``regex``; a regex must match the whole value, as Envoy's RE2 matcher does);
  ``ignoreUriCase`` makes the ``uri`` comparison case-insensitive;
- ``headers`` (names are lower case) and ``withoutHeaders``; a cookie match is a header regex on
  ``cookie``, which is how Istio spells it;
- ``queryParams``, ``port``, ``sourceLabels`` and ``sourceNamespace`` (the caller pod's).

The chosen route then decides, all in plain data so unit tests need no server:

- which ``route[].destination`` gets the request: a weighted choice (a single destination needs
  no weight) — random, as Envoy picks, or with a :class:`Balancer` a smooth weighted
  round-robin, so that every window of requests is split exactly as the weights say (the
  playground uses it: a canary step's share then matches its weight, not just on average);
- whether a copy goes to ``mirror`` (``mirrorPercentage.value`` percent, 100 when unset);
- request and response header operations (``headers.request|response.set|add|remove``, on the
  route and on the chosen destination);
- the path after ``rewrite.uri`` (a ``prefix`` match has its prefix replaced, otherwise the whole
  path) and the authority after ``rewrite.authority``;
- the ``retries`` policy and the ``timeout``. Without ``retries`` Istio's default applies (2
  attempts on connect failures, refused streams and 503); ``attempts: 0`` turns retries off.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

__all__ = [
    "DEFAULT_RETRY_ON",
    "Decision",
    "HeaderOps",
    "RequestView",
    "RetryPolicy",
    "apply_header_ops",
    "choose_destination",
    "decide",
    "match_request",
    "parse_duration",
    "retry_policy",
    "rewrite_path",
    "select_route",
    "should_mirror",
    "string_match",
]

JSON = dict[str, Any]

#: Istio's default retry conditions (``meshConfig.defaultHttpRetryPolicy``).
DEFAULT_RETRY_ON = frozenset(
    {"connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"}
)
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_RETRIABLE_CODES = frozenset({503})

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclasses.dataclass(frozen=True)
class RequestView:
    """What route matching looks at. ``headers`` keys are lower case; ``path`` is the raw path
    with its query string."""

    method: str
    path: str
    headers: Mapping[str, str]
    authority: str = ""
    scheme: str = "http"
    port: int = 80
    source_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    source_namespace: str = ""

    @property
    def uri(self) -> str:
        """The path without the query string."""
        return self.path.split("?", 1)[0]

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (the first value of each)."""
        _, _, raw = self.path.partition("?")
        params: dict[str, str] = {}
        for key, value in parse_qsl(raw, keep_blank_values=True):
            params.setdefault(key, value)
        return params


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How many times to try again, when, and how long each try may take."""

    attempts: int = DEFAULT_RETRY_ATTEMPTS
    per_try_timeout: float | None = None
    retry_on: frozenset[str] = DEFAULT_RETRY_ON
    retriable_codes: frozenset[int] = DEFAULT_RETRIABLE_CODES

    def retries_status(self, status: int) -> bool:
        """Whether a response with this status is tried again."""
        if "5xx" in self.retry_on and status >= 500:
            return True
        if "gateway-error" in self.retry_on and status in (502, 503, 504):
            return True
        return "retriable-status-codes" in self.retry_on and status in self.retriable_codes

    def retries_connect_failure(self) -> bool:
        """Whether a refused or failed connection is tried again."""
        return bool(
            self.retry_on & {"5xx", "gateway-error", "connect-failure", "reset", "refused-stream"}
        )

    def retries_timeout(self) -> bool:
        """Whether a try that ran out of its ``perTryTimeout`` is tried again."""
        return bool(self.retry_on & {"5xx", "gateway-error", "reset"})


@dataclasses.dataclass(frozen=True)
class HeaderOps:
    """``set``, ``add`` and ``remove`` for one direction."""

    set: Mapping[str, str] = dataclasses.field(default_factory=dict)
    add: Mapping[str, str] = dataclasses.field(default_factory=dict)
    remove: Sequence[str] = ()

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | None) -> HeaderOps:
        spec = spec or {}
        return cls(
            set={str(k): str(v) for k, v in (spec.get("set") or {}).items()},
            add={str(k): str(v) for k, v in (spec.get("add") or {}).items()},
            remove=tuple(str(h) for h in spec.get("remove") or ()),
        )


@dataclasses.dataclass(frozen=True)
class Decision:
    """Everything the proxy needs to forward one request along a route."""

    route: JSON
    destination: JSON
    """The chosen ``route[]`` entry (``destination`` with ``host`` and optional ``port``)."""
    path: str
    authority: str | None
    """The new authority from ``rewrite.authority``, or None to keep the request's."""
    request_headers: list[HeaderOps]
    response_headers: list[HeaderOps]
    retries: RetryPolicy
    timeout: float | None
    mirror_host: str | None
    mirror_port: int | None

    @property
    def host(self) -> str:
        return str((self.destination.get("destination") or {}).get("host") or "")

    @property
    def port(self) -> int | None:
        number = ((self.destination.get("destination") or {}).get("port") or {}).get("number")
        return int(number) if number else None


class _Random(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


# --- matching -----------------------------------------------------------------------------


def string_match(
    spec: Mapping[str, Any] | None, value: str | None, *, ignore_case: bool = False
) -> bool:
    """Whether ``value`` satisfies an Istio StringMatch; an empty spec asks only for presence."""
    if value is None:
        return False
    if not spec:
        return True
    if ignore_case:
        value = value.lower()
    if "exact" in spec:
        expected = str(spec["exact"])
        return value == (expected.lower() if ignore_case else expected)
    if "prefix" in spec:
        expected = str(spec["prefix"])
        return value.startswith(expected.lower() if ignore_case else expected)
    if "regex" in spec:
        flags = re.IGNORECASE if ignore_case else 0
        try:
            return re.fullmatch(str(spec["regex"]), value, flags) is not None
        except re.error:
            return False
    return True


def match_request(match: Mapping[str, Any], request: RequestView) -> bool:
    """Whether one ``HTTPMatchRequest`` holds for the request (all of its fields)."""
    if "uri" in match and not string_match(
        match["uri"], request.uri, ignore_case=bool(match.get("ignoreUriCase"))
    ):
        return False
    for field, value in (
        ("scheme", request.scheme),
        ("method", request.method),
        ("authority", request.authority),
    ):
        if field in match and not string_match(match[field], value):
            return False
    for name, spec in (match.get("headers") or {}).items():
        if not string_match(spec, request.headers.get(str(name).lower())):
            return False
    for name, spec in (match.get("withoutHeaders") or {}).items():
        if string_match(spec, request.headers.get(str(name).lower())):
            return False
    if match.get("queryParams"):
        query = request.query
        for name, spec in match["queryParams"].items():
            if not string_match(spec, query.get(str(name))):
                return False
    if match.get("port") and int(match["port"]) != request.port:
        return False
    for key, value in (match.get("sourceLabels") or {}).items():
        if request.source_labels.get(str(key)) != str(value):
            return False
    return not (
        match.get("sourceNamespace") and match["sourceNamespace"] != request.source_namespace
    )


def select_route(http: Sequence[JSON], request: RequestView) -> tuple[JSON, JSON | None] | None:
    """The first route that matches, with the match entry that did (None: it has no match
    list); None when no route matches."""
    for route in http:
        matches = route.get("match") or []
        if not matches:
            return route, None
        for match in matches:
            if match_request(match, request):
                return route, match
    return None


# --- the chosen route -----------------------------------------------------------------------


class Balancer:
    """Smooth weighted round-robin (nginx's): over any run of requests each destination gets
    its weight's share, to within one request. State is kept per set of destinations and
    weights, so a new split starts afresh."""

    def __init__(self) -> None:
        self._current: dict[tuple[tuple[str, int], ...], list[int]] = {}

    def pick(self, destinations: Sequence[JSON], weights: Sequence[int]) -> JSON:
        key = tuple(
            (json.dumps(d.get("destination"), sort_keys=True), w)
            for d, w in zip(destinations, weights, strict=True)
        )
        current = self._current.setdefault(key, [0] * len(weights))
        if len(self._current) > 1024:  # old splits are never used again
            self._current = {key: current}
        total = sum(weights)
        for index, weight in enumerate(weights):
            current[index] += weight
        best = max(range(len(weights)), key=lambda i: current[i])
        current[best] -= total
        return destinations[best]


def choose_destination(
    route: Mapping[str, Any], rng: _Random, balancer: Balancer | None = None
) -> JSON | None:
    """A weighted pick among ``route[]`` (random, or by ``balancer``); None when the route has
    no destination."""
    destinations: list[JSON] = [d for d in route.get("route") or [] if d.get("destination")]
    if not destinations:
        return None
    if len(destinations) == 1:
        return destinations[0]
    weights = [max(int(d.get("weight") or 0), 0) for d in destinations]
    total = sum(weights)
    if total == 0:
        return destinations[0]
    if balancer is not None:
        return balancer.pick(destinations, weights)
    point = rng.uniform(0, total)
    for destination, weight in zip(destinations, weights, strict=True):
        if point < weight:
            return destination
        point -= weight
    return next(d for d, w in zip(destinations, weights, strict=True) if w > 0)


def should_mirror(route: Mapping[str, Any], rng: _Random) -> bool:
    """Whether this request is copied to the route's ``mirror``."""
    if not (route.get("mirror") or {}).get("host"):
        return False
    percentage = route.get("mirrorPercentage")
    if percentage is None:
        legacy = route.get("mirrorPercent")
        value = 100.0 if legacy is None else float(legacy)
    else:
        value = float((percentage or {}).get("value") or 0.0)
    if value >= 100.0:
        return True
    return value > 0.0 and rng.uniform(0, 100) < value


def rewrite_path(
    path: str, rewrite: Mapping[str, Any] | None, match: Mapping[str, Any] | None
) -> str:
    """The path after ``rewrite.uri`` (the query string is kept)."""
    new = (rewrite or {}).get("uri")
    if not new:
        return path
    uri, sep, query = path.partition("?")
    prefix = ((match or {}).get("uri") or {}).get("prefix")
    if prefix is not None and uri.startswith(str(prefix)):
        uri = str(new) + uri[len(str(prefix)) :]
    else:
        uri = str(new)
    return uri + sep + query


def apply_header_ops(headers: MutableMapping[str, str], ops: HeaderOps) -> None:
    """Apply ``set``, then ``add``, then ``remove`` to a (case-insensitive) header map; a
    multidict gets real additions, a plain dict a comma-joined value."""
    for name, value in ops.set.items():
        headers[name] = value
    for name, value in ops.add.items():
        adder = getattr(headers, "add", None)
        if callable(adder):
            adder(name, value)
        elif name in headers:
            headers[name] = f"{headers[name]},{value}"
        else:
            headers[name] = value
    for name in ops.remove:
        while name in headers:
            del headers[name]


def parse_duration(value: Any) -> float | None:
    """Seconds from a protobuf Duration string (``1.5s``, ``500ms``, ``1m30s``); None when
    empty or zero."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value) or None
    text = str(value).strip()
    total, position = 0.0, 0
    for part in _DURATION_PART.finditer(text):
        if part.start() != position:
            raise ValueError(f"invalid duration {value!r}")
        total += float(part.group(1)) * _DURATION_UNITS[part.group(2)]
        position = part.end()
    if position != len(text) or not text:
        raise ValueError(f"invalid duration {value!r}")
    return total or None


def retry_policy(route: Mapping[str, Any]) -> RetryPolicy:
    """The route's ``retries`` (Istio's default policy when unset)."""
    spec = route.get("retries")
    if spec is None:
        return RetryPolicy()
    conditions = {c.strip() for c in str(spec.get("retryOn") or "").split(",") if c.strip()}
    codes = frozenset(int(c) for c in conditions if c.isdigit())
    retry_on = frozenset(c for c in conditions if not c.isdigit())
    if codes:
        retry_on |= {"retriable-status-codes"}
    if not conditions:
        retry_on = DEFAULT_RETRY_ON
        codes = DEFAULT_RETRIABLE_CODES
    return RetryPolicy(
        attempts=max(int(spec.get("attempts") or 0), 0),
        per_try_timeout=parse_duration(spec.get("perTryTimeout")),
        retry_on=retry_on,
        retriable_codes=codes,
    )


def decide(
    http: Sequence[JSON],
    request: RequestView,
    rng: random.Random | _Random,
    balancer: Balancer | None = None,
) -> Decision | None:
    """Match the request against the routes and make every choice for it; None when no
    route matches or the matching route has no destination (Envoy's "no route")."""
    selected = select_route(http, request)
    if selected is None:
        return None
    route, match = selected
    destination = choose_destination(route, rng, balancer)
    if destination is None:
        return None
    mirror = route.get("mirror") or {}
    mirrored = should_mirror(route, rng)
    mirror_port = (mirror.get("port") or {}).get("number")
    route_headers = route.get("headers") or {}
    dest_headers = destination.get("headers") or {}
    rewrite = route.get("rewrite") or {}
    return Decision(
        route=dict(route),
        destination=destination,
        path=rewrite_path(request.path, rewrite, match),
        authority=str(rewrite["authority"]) if rewrite.get("authority") else None,
        request_headers=[
            HeaderOps.parse(route_headers.get("request")),
            HeaderOps.parse(dest_headers.get("request")),
        ],
        response_headers=[
            HeaderOps.parse(route_headers.get("response")),
            HeaderOps.parse(dest_headers.get("response")),
        ],
        retries=retry_policy(route),
        timeout=parse_duration(route.get("timeout")),
        mirror_host=str(mirror["host"]) if mirrored else None,
        mirror_port=int(mirror_port) if mirrored and mirror_port else None,
    )
