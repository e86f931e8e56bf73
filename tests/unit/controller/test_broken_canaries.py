"""The ten kinds of broken Canary that Flagger's schema admits (issue 12 §4): each one gets
``Configured=False`` and a Warning naming the field in the daemon, does not move (or, for a
missing autoscaler, stops where Flagger does), and a healthy Canary beside it initialises.
`flagger validate` flags the same ten offline (tests/unit/test_validate_command.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from flagger.controller import ticking
from tests.unit.controller import daemon_world
from tests.unit.controller.daemon_world import CANARY_API, NAMESPACE

HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "podinfo"}
MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]
ALERT = {"name": "on-call", "providerRef": {"name": "slack"}}
METRIC = {"name": "errors", "templateRef": {"name": "error-rate"}, "thresholdRange": {"max": 1}}

# (id, provider, analysis changes (None removes), spec changes, field named, reason)
BROKEN: list[tuple[str, str, dict[str, Any], dict[str, Any], str, str]] = [
    (
        "missing MetricTemplate",
        "kubernetes",
        {"metrics": [METRIC]},
        {},
        "spec.analysis.metrics[0].templateRef",
        "MissingReference",
    ),
    (
        "missing AlertProvider",
        "kubernetes",
        {"alerts": [ALERT]},
        {},
        "spec.analysis.alerts[0].providerRef",
        "MissingReference",
    ),
    ("threshold 0", "kubernetes", {"threshold": 0}, {}, "spec.analysis.threshold", "InvalidSpec"),
    (
        "progressDeadlineSeconds -1",
        "kubernetes",
        {},
        {"progressDeadlineSeconds": -1},
        "spec.progressDeadlineSeconds",
        "InvalidSpec",
    ),
    (
        "match on kubernetes",
        "kubernetes",
        {"match": MATCH},
        {},
        "spec.analysis.match",
        "InvalidSpec",
    ),
    (
        "mirror on kubernetes",
        "kubernetes",
        {"mirror": True},
        {},
        "spec.analysis.mirror",
        "InvalidSpec",
    ),
    (
        "sessionAffinity on kubernetes",
        "kubernetes",
        {"sessionAffinity": {"cookieName": "canary"}},
        {},
        "spec.analysis.sessionAffinity",
        "InvalidSpec",
    ),
    (
        "stepWeight 0",
        "istio",
        {"iterations": None, "stepWeight": 0, "maxWeight": 50},
        {},
        "spec.analysis.stepWeight",
        "InvalidSpec",
    ),
    ("iterations 0", "istio", {"iterations": 0}, {}, "spec.analysis.iterations", "InvalidSpec"),
    (
        "missing autoscaler",
        "kubernetes",
        {},
        {"autoscalerRef": HPA},
        "spec.autoscalerRef",
        "ReconcileError",
    ),
]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def _broken(provider: str, analysis: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    canary = daemon_world.canary(provider)
    for key, value in analysis.items():
        if value is None:
            canary["spec"]["analysis"].pop(key)
        else:
            canary["spec"]["analysis"][key] = value
    canary["spec"].update(spec)
    return canary


@pytest.mark.parametrize(
    ("provider", "analysis", "spec", "field", "reason"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
async def test_a_broken_canary_is_reported_by_field_while_another_initialises(
    session: aiohttp.ClientSession,
    provider: str,
    analysis: dict[str, Any],
    spec: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    world = await daemon_world.world(session, mesh_provider=provider)
    world.kube.put(daemon_world.deployment())
    world.kube.put(_broken(provider, analysis, spec))
    world.kube.put(daemon_world.renamed(daemon_world.deployment(), "other"))
    world.kube.put(daemon_world.renamed(daemon_world.canary(provider), "other"))

    for _ in range(3):
        await world.tick_after_interval()
        await ticking.tick(world.shell, "other", NAMESPACE)
        await world.shell.recorder.flush()

    configured = world.condition("Configured")
    assert (configured.get("status"), configured.get("reason")) == ("False", reason), world.status()
    assert field in configured["message"], configured
    warnings = [m for t, m in world.events if t == "Warning"]
    assert warnings and all(field in m for m in warnings), warnings
    if reason != "ReconcileError":  # refused before anything is made
        assert world.phase() == ""
        with pytest.raises(KeyError):
            world.kube.stored("apps/v1", "Deployment", "podinfo-primary", NAMESPACE)
    else:  # Flagger's order: the primary is made, its autoscaler is not; it waits there
        assert world.phase() == "Initializing"
    other = world.kube.stored(CANARY_API, "Canary", "other", NAMESPACE)
    assert other["status"]["phase"] == "Initialized"
