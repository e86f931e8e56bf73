"""Events go to the Canary's ``event`` hooks, which replace the global ``-event-webhook``.

Matrix: canary with an event hook (global not called), canary without (global called), no
hook at all (nothing sent), a failing receiver (reported, never raised).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flagger.api import canary as canary_api
from flagger.hooks import event_hooks

MakeCanary = Callable[..., canary_api.Canary]


async def test_event_hook_replaces_the_global_webhook(
    receiver: Any, make_canary: MakeCanary
) -> None:
    canary = make_canary(
        webhooks=[
            {
                "name": "notify",
                "type": "event",
                "url": f"{receiver.url}/own",
                "metadata": {"team": "a"},
            },
            {"name": "load", "url": f"{receiver.url}/load"},
        ],
        status={"phase": "Progressing"},
    )
    forward = event_hooks.EventForwarder(f"{receiver.url}/global")
    [sent] = await forward(canary, "Advance podinfo.test canary weight 10", "Normal")
    assert sent.ok
    [request] = receiver.received
    assert request.path == "/own"
    document = json.loads(request.body)
    assert document["phase"] == "Progressing"
    metadata = document["metadata"]
    assert metadata.pop("timestamp").isdigit()
    assert metadata.pop("idempotencyKey") == request.headers["Idempotency-Key"]
    assert metadata == {
        "eventMessage": "Advance podinfo.test canary weight 10",
        "eventType": "Normal",
        "team": "a",
    }


async def test_global_webhook_without_event_hooks(receiver: Any, make_canary: MakeCanary) -> None:
    forward = event_hooks.EventForwarder(f"{receiver.url}/global")
    await forward(make_canary(), "Canary failed! Scaling down podinfo.test", "Warning")
    [request] = receiver.received
    assert request.path == "/global"
    assert json.loads(request.body)["metadata"]["eventType"] == "Warning"


async def test_nothing_sent_without_any_hook(make_canary: MakeCanary) -> None:
    assert await event_hooks.EventForwarder(None)(make_canary(), "x", "Normal") == []


async def test_failing_receiver_is_reported_not_raised(
    receiver: Any, make_canary: MakeCanary
) -> None:
    receiver.answer({"status": 404, "body": "no such route"})
    [sent] = await event_hooks.EventForwarder(receiver.url)(make_canary(), "x", "Normal")
    assert not sent.ok and sent.message == "no such route"
