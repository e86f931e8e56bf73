"""Canaries and a simulated world for the tick-by-tick tests of :mod:`flagger.analysis`."""

from __future__ import annotations

from typing import Any

from flagger import simulation
from flagger.analysis import decision, observation
from flagger.api import canary as canary_api
from flagger.api import status

Phase = status.CanaryPhase

SUCCESS_RATE = {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}
DURATION = {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "30s"}
LOADTESTER = "http://flagger-loadtester.test/"


def hook(name: str, kind: str | None = None) -> dict[str, Any]:
    """A webhook of the given type (rollout when ``kind`` is None)."""
    found: dict[str, Any] = {"name": name, "url": LOADTESTER + name}
    if kind is not None:
        found["type"] = kind
    return found


def make_canary(
    analysis: dict[str, Any] | None = None,
    *,
    provider: str | None = "istio",
    name: str = "podinfo",
    autoscaler: bool = False,
    **spec: Any,
) -> canary_api.Canary:
    """The podinfo Canary of Flagger's tutorials, with ``analysis`` and ``spec`` overrides."""
    body: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {
            "interval": "1m",
            "threshold": 5,
            "maxWeight": 50,
            "stepWeight": 10,
            "metrics": [SUCCESS_RATE, DURATION],
        }
        if analysis is None
        else analysis,
    }
    if provider is not None:
        body["provider"] = provider
    if autoscaler:
        body["autoscalerRef"] = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
        }
    body.update(spec)
    return canary_api.Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": "test"},
            "spec": body,
        }
    )


def initialized(canary: canary_api.Canary, **world: Any) -> simulation.World:
    """A world whose canary went through initialization (phase Initialized)."""
    found = simulation.World(canary=canary, **world)
    result = found.tick()
    assert found.phase is Phase.INITIALIZED, result.messages
    found.advance_clock()
    return found


def new_revision(found: simulation.World, spec_hash: str = "rev-2") -> None:
    """Change the target's pod template."""
    found.revision = observation.Revision(spec_hash, found.revision.configs)


def step(found: simulation.World) -> decision.Decision:
    """One tick, then the clock moves on by the analysis interval."""
    result = found.tick()
    found.advance_clock()
    return result


def run_until_done(found: simulation.World, limit: int = 500) -> list[str]:
    """Tick until Succeeded or Failed; return every event message."""
    seen: list[str] = []
    for _ in range(limit):
        seen += step(found).messages
        if found.phase in (Phase.SUCCEEDED, Phase.FAILED):
            return seen
    raise AssertionError(f"still {found.phase} after {limit} ticks: {seen[-5:]}")


def phase(found: simulation.World) -> Phase:
    """The canary's phase (a call, so that type checkers do not narrow it across ticks)."""
    return found.phase
