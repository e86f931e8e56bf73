"""A Canary whose analysis names a MetricTemplate or an AlertProvider that does not exist is
reported on the Canary (Configured=False, a Warning naming the field and the fix) and does not
move, while another Canary carries on; creating the object clears the condition."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from flagger.controller import ticking
from tests.unit.controller import daemon_world
from tests.unit.controller.daemon_world import NAMESPACE, World

METRIC = {"name": "errors", "templateRef": {"name": "error-rate"}, "thresholdRange": {"max": 1}}
ALERT = {"name": "on-call", "providerRef": {"name": "slack"}}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def _tick_other(world: World) -> None:
    await ticking.tick(world.shell, "other", NAMESPACE)
    await world.shell.recorder.flush()


def _other_phase(world: World) -> str:
    stored = world.kube.stored(daemon_world.CANARY_API, "Canary", "other", NAMESPACE)
    return str((stored.get("status") or {}).get("phase", ""))


@pytest.mark.parametrize(
    ("analysis", "field", "kind", "fix"),
    [
        (
            {"metrics": [METRIC]},
            "spec.analysis.metrics[0].templateRef",
            "MetricTemplate",
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "MetricTemplate",
                "metadata": {"name": "error-rate", "namespace": NAMESPACE},
                "spec": {
                    "provider": {"type": "prometheus", "address": "http://127.0.0.1:9"},
                    "query": "vector(0)",
                },
            },
        ),
        (
            {"alerts": [ALERT]},
            "spec.analysis.alerts[0].providerRef",
            "AlertProvider",
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "AlertProvider",
                "metadata": {"name": "slack", "namespace": NAMESPACE},
                "spec": {"type": "slack", "address": "http://127.0.0.1:9"},
            },
        ),
    ],
    ids=["templateRef", "providerRef"],
)
async def test_a_missing_reference_is_configured_false_while_others_carry_on(
    session: aiohttp.ClientSession,
    analysis: dict[str, Any],
    field: str,
    kind: str,
    fix: dict[str, Any],
) -> None:
    world = await daemon_world.world(session)
    world.kube.put(daemon_world.deployment())
    world.kube.put(daemon_world.canary(**analysis))
    world.kube.put(daemon_world.renamed(daemon_world.deployment(), "other"))
    world.kube.put(daemon_world.renamed(daemon_world.canary(), "other"))

    for _ in range(3):
        await world.tick()
        await _tick_other(world)

    configured = world.condition("Configured")
    assert configured["status"] == "False", world.status()
    assert configured["reason"] == "MissingReference"
    assert configured["message"].startswith(f"{field}: {kind} ")
    assert "not found" in configured["message"] and "create it" in configured["message"]
    warnings = [m for t, m in world.events if t == "Warning"]
    assert warnings and field in warnings[-1]
    assert world.phase() == ""  # it never moved: no primary made for a half-configured canary
    with pytest.raises(KeyError):
        world.kube.stored("apps/v1", "Deployment", "podinfo-primary", NAMESPACE)
    assert _other_phase(world) == "Initialized"  # the healthy canary carried on

    world.kube.put(fix)  # the user creates the missing object
    for _ in range(3):
        await world.tick()
    assert world.condition("Configured") == {}
    assert world.phase() == "Initialized"
