"""Event-webhook payloads carry the phase Flagger 1.44 sends with each event.

Flagger records "Initialization done!" on a copy in phase Initialized, "New revision detected!
Scaling up" in Progressing, "Promotion completed!" in Succeeded and "Canary failed!" in Failed
(``pkg/controller/scheduler.go``); receivers waiting for the end of a rollout key on the last two.
"""

from __future__ import annotations

import copy
import types
from typing import Any

from flagger import simulation
from flagger.analysis import decision, observation
from flagger.api import canary as canary_api
from flagger.controller import act
from flagger.hooks import payloads
from flagger.observability import events

CANARY = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1"},
    "spec": {
        "provider": "istio",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 2, "maxWeight": 20, "stepWeight": 10},
    },
}


async def _payload_phases(world: simulation.World, ticks: int) -> dict[str, str]:
    """Tick ``world`` and send each Event through the daemon's action code: message -> phase
    of the event-webhook payload."""
    sent: dict[str, str] = {}

    async def on_event(canary: canary_api.Canary, message: str, event_type: str) -> None:
        sent[message] = payloads.event_payload(canary, message, event_type)["phase"]

    recorder = events.EventRecorder(None, on_event=on_event)
    shell: Any = types.SimpleNamespace(recorder=recorder)
    for _ in range(ticks):
        at_start = world.canary  # the daemon acts on the Canary as read at the tick's start
        for action in world.tick().actions:
            if isinstance(action, decision.Event):
                await act._act(shell, at_start, action, None, None)  # type: ignore[arg-type]
        world.advance_clock()
    await recorder.flush()
    return sent


async def test_success_payload_phases() -> None:
    world = simulation.World(canary=canary_api.Canary.model_validate(CANARY))
    sent = await _payload_phases(world, 1)
    world.revision = observation.Revision("rev-2", {})
    sent |= await _payload_phases(world, 8)
    assert sent["Initialization done! podinfo.test"] == "Initialized"
    assert sent["New revision detected! Scaling up podinfo.test"] == "Progressing"
    assert sent["Advance podinfo.test canary weight 10"] == "Progressing"
    assert sent["Promotion completed! Scaling down podinfo.test"] == "Succeeded"


async def test_failure_payload_phase() -> None:
    failing = copy.deepcopy(CANARY)
    failing["spec"]["analysis"]["webhooks"] = [{"name": "gate", "url": "http://tester.test/"}]
    world = simulation.World(
        canary=canary_api.Canary.model_validate(failing), webhooks={"gate": [False]}
    )
    await _payload_phases(world, 1)
    world.revision = observation.Revision("rev-2", {})
    sent = await _payload_phases(world, 8)
    assert sent["Canary failed! Scaling down podinfo.test"] == "Failed"
