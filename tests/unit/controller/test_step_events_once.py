"""A step whose status could not be written is done again by the next tick: its Events (and
event webhook calls) are recorded once, by the tick whose status was written (issue 12 §5 (b):
a tick that ran while the API server was stopping wrote its Events, then failed to write the
status, and the retried step wrote them again)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from flagger.kube import errors as kube_errors
from tests.unit.controller import daemon_world
from tests.unit.controller.daemon_world import NAMESPACE

ADVANCE = f"Advance podinfo.{NAMESPACE} canary iteration 1/2"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def test_events_of_a_step_whose_status_write_failed_are_recorded_once(
    session: aiohttp.ClientSession,
) -> None:
    world = await daemon_world.world(session)
    world.kube.put(daemon_world.deployment())
    world.kube.put(daemon_world.canary())
    for _ in range(3):
        await world.tick()
    assert world.phase() == "Initialized"
    world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    await world.tick_after_interval()
    assert world.phase() == "Progressing"

    outage = kube_errors.ApiError(503, "ServiceUnavailable", "the API server is stopping")
    world.kube.inject("replace_status", outage, kind="Canary")
    with pytest.raises(kube_errors.ApiError):
        await world.tick_after_interval()
    await world.shell.recorder.flush()
    assert world.status().get("iterations", 0) == 0
    assert ADVANCE not in world.messages(), "an Event of a step that did not happen"

    await world.tick_after_interval()
    assert world.status()["iterations"] == 1
    assert world.messages().count(ADVANCE) == 1, world.messages()
