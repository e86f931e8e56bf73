"""Post-rollout hooks as Flagger 1.44 runs them (``runPostRolloutHooks``): each pass is an
Event (and goes to the event webhook), and the first failure stops the remaining hooks."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from flagger.api import canary as canary_api
from flagger.api import status as status_api
from flagger.controller import act
from flagger.observability import events
from tests.support import canaries
from tests.support.http_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


def _canary(url: str) -> canary_api.Canary:
    hooks = [
        {"name": name, "type": "post-rollout", "url": f"{url}/{name}"}
        for name in ("notify", "smoke", "cleanup")
    ]
    analysis = {"interval": "1m", "threshold": 2, "iterations": 2, "webhooks": hooks}
    spec = canaries.podinfo_spec(analysis=analysis)
    return canaries.canary(spec, namespace="test", uid="u-1", status={"phase": "Finalising"})


async def _run(receiver: Receiver, phase: status_api.CanaryPhase) -> list[tuple[str, str, str]]:
    sent: list[tuple[str, str, str]] = []

    async def on_event(canary: canary_api.Canary, message: str, event_type: str) -> None:
        sent.append((message, event_type, str(canary.status.phase if canary.status else "")))

    recorder = events.EventRecorder(None, on_event=on_event)
    async with aiohttp.ClientSession() as session:
        shell: Any = types.SimpleNamespace(recorder=recorder, session=session)
        await act._post_rollout(shell, _canary(receiver.url), phase)
    await recorder.flush()
    return sent


async def test_each_pass_is_an_event_with_phase_succeeded(receiver: Receiver) -> None:
    sent = await _run(receiver, status_api.CanaryPhase.SUCCEEDED)
    assert sent == [
        (f"Post-rollout check {name} passed", "Normal", "Succeeded")
        for name in ("notify", "smoke", "cleanup")
    ]
    assert [body["phase"] for _, body in receiver.received] == ["Succeeded"] * 3


async def test_first_failure_stops_the_remaining_hooks(receiver: Receiver) -> None:
    receiver.answers["/smoke"] = 400
    sent = await _run(receiver, status_api.CanaryPhase.FAILED)
    assert receiver.paths() == ["/notify", "/smoke"]
    assert [(m.split(" failed")[0], t) for m, t, _ in sent] == [
        ("Post-rollout check notify passed", "Normal"),
        ("Post-rollout hook smoke", "Warning"),
    ]
