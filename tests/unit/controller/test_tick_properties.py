"""Property: whatever Canary a user applies and whatever the cluster holds, ``tick()`` never
raises anything but an API-server outage (the scheduler's documented failure: logged in one line
and retried), a broken Canary is reported on its status (``Configured=False``) with a Warning
naming the field, and a healthy Canary beside it initialises as if the broken one were not there.

Canaries are a valid one damaged in up to three places: wrong types (YAML ints, floats,
strings, bools where another is expected, as a permissive CRD admits them), extreme and
non-finite numbers, odd durations, missing fields, references to objects that do not exist,
every provider name. The cluster is drawn too: target present or not (and of which kind),
MetricTemplate, AlertProvider and autoscaler present or not, a stored status in any phase, now
and then an outage on one request. Everything runs on the in-memory API server
(`tests.support.fake_kube.FakeKube`); webhooks and metric providers point at a closed port on
127.0.0.1, so nothing waits on a network.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import math
from typing import Any

import aiohttp
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from flagger import plugins
from flagger.api import canary as canary_api
from flagger.api import status as status_api
from flagger.api import validation
from flagger.controller import ticking
from flagger.kube import errors as kube_errors
from flagger.observability import events
from tests.unit.controller import daemon_world
from tests.unit.controller.daemon_world import CANARY_API, NAMESPACE, World

CLOSED = "http://127.0.0.1:9"  # nothing listens there: a call fails at once
TEMPLATE = {
    "apiVersion": CANARY_API,
    "kind": "MetricTemplate",
    "metadata": {"name": "error-rate", "namespace": NAMESPACE},
    "spec": {"provider": {"type": "prometheus", "address": CLOSED}, "query": "vector(0)"},
}
PROVIDER = {
    "apiVersion": CANARY_API,
    "kind": "AlertProvider",
    "metadata": {"name": "slack", "namespace": NAMESPACE},
    "spec": {"type": "slack", "address": CLOSED},
}
HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "podinfo", "namespace": NAMESPACE},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "minReplicas": 1,
        "maxReplicas": 4,
    },
}

WORKLOADS = ("Deployment", "DaemonSet")
NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 100, 101, 2**31, 2**63, -(2**63), 10**30]),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.5, -0.0, 1e308]),
    st.integers(),
)
DURATIONS = st.sampled_from(
    ["0s", "1s", "10s", "1m", "-1s", "1ms", "999999h", "", "1", "abc", "1m30s", "10 s"]
)
# Values of the wrong type that YAML produces and a lax schema might take.
WRONG_TYPES = st.sampled_from(
    ["5", "yes", "", "1e3", True, False, None, 1.5, [], {}, [1], {"a": 1}]
)
ODD = st.one_of(NUMBERS, DURATIONS, WRONG_TYPES, st.text(max_size=6))

# (path, values): where a user's mistake can be, and what it can be.
DAMAGE: list[tuple[tuple[Any, ...], st.SearchStrategy[Any]]] = [
    (("spec", "provider"), st.sampled_from([*canary_api.PROVIDERS, "nope", "", "Istio"])),
    (("spec", "progressDeadlineSeconds"), ODD),
    (("spec", "skipAnalysis"), st.one_of(st.booleans(), WRONG_TYPES)),
    (("spec", "suspend"), st.one_of(st.booleans(), WRONG_TYPES)),
    (("spec", "targetRef", "name"), st.sampled_from(["missing", "", "podinfo", "a" * 300])),
    (
        ("spec", "targetRef", "kind"),
        st.sampled_from(["Deployment", "DaemonSet", "StatefulSet", "Service", "ReplicaSet", ""]),
    ),
    (("spec", "targetRef", "apiVersion"), st.sampled_from(["apps/v1", "v1", "apps/v2", ""])),
    (("spec", "targetRef"), st.one_of(WRONG_TYPES, st.just(None))),
    (("spec", "service"), st.one_of(WRONG_TYPES, st.just(None))),
    (("spec", "service", "port"), NUMBERS),
    (("spec", "service", "targetPort"), st.one_of(NUMBERS, st.sampled_from(["http", ""]))),
    (("spec", "service", "timeout"), DURATIONS),
    (
        ("spec", "autoscalerRef"),
        st.sampled_from(
            [
                {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "x"},
                {
                    "apiVersion": "autoscaling/v2",
                    "kind": "HorizontalPodAutoscaler",
                    "name": "podinfo",
                },
                {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "podinfo"},
            ]
        ),
    ),
    (("spec", "analysis"), st.one_of(WRONG_TYPES, st.just(None))),
    (("spec", "analysis", "interval"), st.one_of(DURATIONS, NUMBERS)),
    (("spec", "analysis", "threshold"), ODD),
    (("spec", "analysis", "iterations"), ODD),
    (("spec", "analysis", "stepWeight"), ODD),
    (("spec", "analysis", "maxWeight"), ODD),
    (("spec", "analysis", "stepWeights"), st.lists(NUMBERS, max_size=4)),
    (("spec", "analysis", "stepWeightPromotion"), NUMBERS),
    (("spec", "analysis", "primaryReadyThreshold"), NUMBERS),
    (("spec", "analysis", "canaryReadyThreshold"), NUMBERS),
    (("spec", "analysis", "mirror"), st.one_of(st.booleans(), WRONG_TYPES)),
    (("spec", "analysis", "mirrorWeight"), NUMBERS),
    (
        ("spec", "analysis", "match"),
        st.sampled_from([[{"headers": {"x": {"exact": "y"}}}], [], "x"]),
    ),
    (
        ("spec", "analysis", "sessionAffinity"),
        st.sampled_from([{"cookieName": "a"}, {"cookieName": "a", "primaryCookieName": "a"}, {}]),
    ),
    (
        ("spec", "analysis", "metrics"),
        st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["request-success-rate", "request-duration", "x"])},
                optional={
                    "templateRef": st.sampled_from(
                        [{"name": "error-rate"}, {"name": "missing"}, {"name": ""}, {}]
                    ),
                    "thresholdRange": st.fixed_dictionaries(
                        {}, optional={"min": NUMBERS, "max": NUMBERS}
                    ),
                    "interval": DURATIONS,
                    "threshold": NUMBERS,
                    "query": st.sampled_from(["", "vector(1)"]),
                },
            ),
            max_size=2,
        ),
    ),
    (
        ("spec", "analysis", "webhooks"),
        st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.sampled_from(["smoke", "", "x"]),
                    "url": st.sampled_from([CLOSED + "/", "", "ftp://x", "not a url"]),
                },
                optional={
                    "type": st.sampled_from(
                        ["rollout", "pre-rollout", "post-rollout", "confirm-rollout", "event", "x"]
                    ),
                    "timeout": DURATIONS,
                    "metadata": st.one_of(WRONG_TYPES, st.just({"cmd": "hey"})),
                    "retries": NUMBERS,
                },
            ),
            max_size=2,
        ),
    ),
    (
        ("spec", "analysis", "alerts"),
        st.lists(
            st.fixed_dictionaries(
                {"name": st.just("on-call")},
                optional={
                    "providerRef": st.sampled_from([{"name": "slack"}, {"name": "missing"}, {}]),
                    "severity": st.sampled_from(["info", "warn", "error", "nope", ""]),
                },
            ),
            max_size=2,
        ),
    ),
    # metadata is typed by the API server itself: odd values, never odd types
    (
        ("metadata", "annotations"),
        st.dictionaries(
            st.sampled_from(
                [
                    "flagger.app/action",
                    "flagger.app/rollback-window",
                    "flagger.app/replica-split-label",
                    "x",
                ]
            ),
            st.sampled_from(["", "x", "0", "-1", "99999999999999999999", "promote", "{}", "app"]),
            max_size=2,
        ),
    ),
    (("metadata", "finalizers"), st.sampled_from([["finalizer.flagger.app"], ["x"], []])),
    (("spec", "revertOnDeletion"), st.one_of(st.booleans(), WRONG_TYPES)),
]
PHASES = [phase.value for phase in status_api.CanaryPhase] + ["Bogus"]
STATUSES = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"phase": st.sampled_from(PHASES)},
        optional={
            "canaryWeight": NUMBERS,
            "failedChecks": NUMBERS,
            "iterations": NUMBERS,
            "lastAppliedSpec": st.sampled_from(["", "abc", "5f8d9b"]),
            "lastPromotedSpec": st.sampled_from(["", "abc"]),
            "lastCheckTime": st.sampled_from(["", "2026-01-01T00:00:00Z", "yesterday", "9999"]),
            "lastTransitionTime": st.sampled_from(["2026-01-01T00:00:00Z", "x"]),
            "conditions": st.sampled_from([[], [{"type": "Promoted"}], "x", [1]]),
            "trackedConfigs": st.one_of(WRONG_TYPES, st.just({"secret/x": "abc"})),
        },
    ),
)


def _put(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """``doc`` with the value at ``path`` replaced (``None`` removes it when the key is
    optional); missing parents are made."""
    damaged = copy.deepcopy(doc)
    parent: Any = damaged
    for key in path[:-1]:
        if not isinstance(parent.get(key), dict):
            parent[key] = {}
        parent = parent[key]
    if value is None and path[-1] in parent and path[0] == "spec":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return damaged


@st.composite
def canaries(draw: st.DrawFn) -> dict[str, Any]:
    """A valid Canary, damaged in up to three places (often none)."""
    doc = daemon_world.canary(draw(st.sampled_from(["kubernetes", "istio", "nginx"])))
    doc["spec"]["analysis"]["webhooks"] = [{"name": "smoke", "url": CLOSED + "/"}]
    for index in draw(st.lists(st.integers(0, len(DAMAGE) - 1), max_size=3, unique=True)):
        path, values = DAMAGE[index]
        doc = _put(doc, path, draw(values))
    status = draw(STATUSES)
    if status is not None:
        doc["status"] = status
    return doc


@st.composite
def clusters(draw: st.DrawFn) -> dict[str, Any]:
    """What else the cluster holds beside the Canary, and whether one request fails."""
    return {
        "target": draw(st.sampled_from(["Deployment", "DaemonSet", "none"])),
        "template": draw(st.booleans()),
        "provider": draw(st.booleans()),
        "hpa": draw(st.booleans()),
        # the target's own oddities (what the API server admits)
        "shape": draw(st.sampled_from(["plain", "no-replicas", "zero", "no-ports", "unlabelled"])),
        # objects of the names the daemon makes, already there (a user's, or a past install's)
        "leftovers": draw(
            st.lists(st.sampled_from(["primary", "service", "canary-service"]), unique=True)
        ),
        "deleted": draw(st.booleans()),  # the Canary is deleted after the first tick
        "outage": draw(
            st.one_of(
                st.none(),
                st.tuples(st.sampled_from(["get", "list", "create", "patch", "replace_status"])),
            )
        ),
    }


@functools.cache
def _installed() -> plugins.Plugins:
    """The plugins, loaded once for all examples (they hold no state of a run)."""
    return plugins.load()


#: A cluster holding the target Deployment and nothing odd.
PLAIN: dict[str, Any] = {
    "target": "Deployment",
    "template": False,
    "provider": False,
    "hpa": False,
    "shape": "plain",
    "leftovers": [],
    "deleted": False,
    "outage": None,
}


def _target(kind: str, shape: str) -> dict[str, Any]:
    deployment = daemon_world.deployment()
    spec = deployment["spec"]
    if kind == "DaemonSet":
        deployment["kind"] = "DaemonSet"
        spec.pop("replicas", None)
    if shape == "no-replicas":
        spec.pop("replicas", None)
    elif shape == "zero":
        spec["replicas"] = 0
    elif shape == "no-ports":
        spec["template"]["spec"]["containers"][0].pop("ports", None)
    elif shape == "unlabelled":  # no app/name label: Flagger cannot find the selector
        labels = {"tier": "web"}
        deployment["metadata"]["labels"] = labels
        spec["selector"]["matchLabels"] = labels
        spec["template"]["metadata"]["labels"] = labels
    return deployment


def _leftover(which: str) -> dict[str, Any]:
    if which == "primary":
        primary = daemon_world.renamed(daemon_world.deployment(), "podinfo-primary")
        primary["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1"
        return primary
    name = "podinfo" if which == "service" else "podinfo-canary"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"owner": "someone"}},
        "spec": {"selector": {"app": "elsewhere"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


async def _scenario(doc: dict[str, Any], cluster: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as session:
        world = await daemon_world.world(session, metrics_server=CLOSED, installed=_installed())
        by_canary: dict[str, list[tuple[str, str]]] = {}

        async def on_event(canary: canary_api.Canary, message: str, event_type: str) -> None:
            by_canary.setdefault(canary.name, []).append((event_type, message))

        world.shell.recorder = events.EventRecorder(None, on_event=on_event)
        kube = world.kube
        if cluster["target"] != "none":
            kube.put(_target(cluster["target"], cluster["shape"]))
        for which in cluster["leftovers"]:
            kube.put(_leftover(which))
        for wanted, obj in (("template", TEMPLATE), ("provider", PROVIDER), ("hpa", HPA)):
            if cluster[wanted]:
                kube.put(copy.deepcopy(obj))
        kube.put(daemon_world.renamed(daemon_world.deployment(), "other"))
        kube.put(daemon_world.renamed(daemon_world.canary(), "other"))
        kube.put(doc)

        errors = [p for p in validation.validate(doc, world.shell.known) if p.is_error]
        for round_ in range(4 if cluster["outage"] else 3):  # one more, the outage over
            if cluster["outage"] and round_ == 1:
                (verb,) = cluster["outage"]
                kube.inject(verb, kube_errors.ApiError(503, "ServiceUnavailable", "down"))
            try:
                await _tick_subject(world)
            except Exception as exc:
                assert cluster["outage"] and kube_errors.is_outage(exc), repr(exc)
            try:
                await ticking.tick(world.shell, "other", NAMESPACE)
            except Exception as exc:  # the outage may hit the other canary's request instead
                assert cluster["outage"] and kube_errors.is_outage(exc), repr(exc)
            await world.shell.recorder.flush()
            if round_ == 0 and errors:  # reported at once, naming the field
                _assert_reported(world, [p.path for p in errors], by_canary.get("podinfo", []))
            if round_ == 0 and cluster["deleted"]:
                await kube.delete(CANARY_API, "Canary", "podinfo", NAMESPACE)

        other = kube.stored(CANARY_API, "Canary", "other", NAMESPACE)
        assert (other.get("status") or {}).get("phase") == "Initialized", (other, by_canary)
        assert not [m for t, m in by_canary.get("other", []) if t == "Warning"], by_canary
        if cluster["deleted"]:
            return
        # a broken spec stays reported (a broken status is repaired by the condition's write)
        in_spec = [p.path for p in errors if not p.path.startswith("status")]
        missing = _missing_references(doc, cluster) if not errors else []
        if in_spec or missing:
            _assert_reported(world, in_spec or missing, by_canary.get("podinfo", []))


async def _tick_subject(world: World) -> None:
    """A tick of the Canary under test, an interval after its last check; once it is gone,
    the tick says so."""
    try:
        world.kube.stored(CANARY_API, "Canary", "podinfo", NAMESPACE)
    except KeyError:
        assert not (await world.tick()).exists
        return
    await world.tick_after_interval()


def _missing_references(doc: dict[str, Any], cluster: dict[str, Any]) -> list[str]:
    """The fields of a valid Canary naming an object the cluster does not hold."""
    spec = doc["spec"]
    analysis = spec.get("analysis") or {}
    missing = []
    ref = spec["targetRef"]
    # a suspended canary is not looked at (Flagger's rule), its references to MetricTemplates
    # and AlertProviders excepted
    looked_at = spec.get("suspend") is not True
    workload = ref.get("apiVersion") == "apps/v1" and ref.get("kind") in WORKLOADS
    if (
        looked_at
        and workload
        and (ref.get("kind"), ref.get("name")) != (cluster["target"], "podinfo")
    ):
        missing.append("spec.targetRef")
    for index, metric in enumerate(analysis.get("metrics") or []):
        name = (metric.get("templateRef") or {}).get("name")
        if "templateRef" in metric and (name != "error-rate" or not cluster["template"]):
            missing.append(f"spec.analysis.metrics[{index}].templateRef")
    for index, alert in enumerate(analysis.get("alerts") or []):
        name = (alert.get("providerRef") or {}).get("name")
        if name != "slack" or not cluster["provider"]:
            missing.append(f"spec.analysis.alerts[{index}].providerRef")
    return missing


def _assert_reported(world: World, fields: list[str], recorded: list[tuple[str, str]]) -> None:
    """Configured=False and a Warning, each naming one of ``fields``."""
    configured = world.condition("Configured")
    assert configured.get("status") == "False", (fields, world.status(), recorded)
    warnings = [m for t, m in recorded if t == "Warning"]
    assert any(field in configured["message"] for field in fields), (fields, configured)
    assert any(field in m for field in fields for m in warnings), (fields, warnings)


# 100 examples, ~0.05 s of CPU each; the same ones on every run (derandomize) so CI is stable;
# no shrinking: a failing example (one Canary, one cluster) is small enough to read, and
# shrinking one through three ticks takes minutes.
@settings(
    max_examples=100,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(canaries(), clusters())
@example(  # found by this test: a status whose conditions are not mappings crashed the report
    {**daemon_world.canary(), "status": {"phase": "Progressing", "conditions": [1, "x"]}},
    {**PLAIN, "target": "none"},
)
@example(  # the issue's schema-admitted broken canary: each problem reported
    _put(
        _put(daemon_world.canary(), ("spec", "analysis", "threshold"), 0),
        ("spec", "analysis", "match"),
        [{"headers": {"x-canary": {"exact": "insider"}}}],
    ),
    PLAIN,
)
def test_tick_never_raises_and_reports_a_broken_canary_while_another_ticks(
    doc: dict[str, Any], cluster: dict[str, Any]
) -> None:
    asyncio.run(_scenario(doc, cluster))
