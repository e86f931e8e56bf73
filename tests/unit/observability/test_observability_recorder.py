"""The event recorder without an API server: log levels, the webhook callback, bounds.

Matrix: record_info/record_warning/record_error -> log level and event type (Flagger's
pairing); the callback receives every event; a failing callback is logged, not raised;
``max_pending`` drops the excess; no event loop -> logged only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from flagger.api import canary as canary_api
from flagger.observability import events, logs

MakeCanary = Callable[..., canary_api.Canary]


async def test_levels_and_types_mirror_flagger(
    make_canary: MakeCanary, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, str, str]] = []

    async def on_event(canary: canary_api.Canary, message: str, event_type: str) -> None:
        seen.append((canary.name, message, event_type))

    recorder = events.EventRecorder(None, on_event=on_event)
    canary = make_canary()
    with caplog.at_level(logging.DEBUG):
        recorder.record_info(canary, "Initialization done! podinfo.test")
        recorder.record_warning(canary, "Halt advancement podinfo-primary.test waiting for rollout")
        recorder.record_error(canary, "Rolling back podinfo.test failed checks threshold reached 5")
        await recorder.flush()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "Initialization done! podinfo.test"),
        ("INFO", "Halt advancement podinfo-primary.test waiting for rollout"),
        ("ERROR", "Rolling back podinfo.test failed checks threshold reached 5"),
    ]
    fields = [record.__dict__[logs.FIELDS_ATTRIBUTE] for record in caplog.records]
    assert [f["canary"] for f in fields] == ["podinfo.test"] * 3
    assert seen == [
        ("podinfo", "Initialization done! podinfo.test", "Normal"),
        ("podinfo", "Halt advancement podinfo-primary.test waiting for rollout", "Warning"),
        ("podinfo", "Rolling back podinfo.test failed checks threshold reached 5", "Warning"),
    ]


async def test_failing_callback_is_logged_not_raised(
    make_canary: MakeCanary, caplog: pytest.LogCaptureFixture
) -> None:
    async def on_event(canary: canary_api.Canary, message: str, event_type: str) -> None:
        raise ConnectionError("receiver down")

    recorder = events.EventRecorder(None, on_event=on_event)
    recorder.record_info(make_canary(), "Advance podinfo.test canary weight 10")
    await recorder.flush()
    assert "error sending event to webhook: receiver down" in caplog.text


async def test_pending_events_are_bounded(
    make_canary: MakeCanary, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()
    delivered: list[str] = []

    async def on_event(canary: canary_api.Canary, message: str, event_type: str) -> None:
        await release.wait()
        delivered.append(message)

    recorder = events.EventRecorder(None, on_event=on_event, max_in_flight=1, max_pending=2)
    for weight in range(10, 60, 10):
        recorder.record_info(make_canary(), f"Advance podinfo.test canary weight {weight}")
    assert recorder.pending == 2 and recorder.dropped == 3
    # the first drop is logged; the next ones within DROP_LOG_SECONDS only counted (no flood)
    drops = [r.getMessage() for r in caplog.records if "event dropped" in r.getMessage()]
    first = "event dropped, 2 events already pending: Advance podinfo.test canary weight 30"
    assert drops == [first]
    release.set()
    await recorder.flush()
    assert delivered == [
        "Advance podinfo.test canary weight 10",
        "Advance podinfo.test canary weight 20",
    ]


def test_without_an_event_loop_the_line_is_still_logged(
    make_canary: MakeCanary, caplog: pytest.LogCaptureFixture
) -> None:
    async def on_event(canary: canary_api.Canary, message: str, event_type: str) -> None:
        return None

    recorder = events.EventRecorder(None, on_event=on_event)
    with caplog.at_level(logging.INFO):
        recorder.record_info(make_canary(), "Initialization done! podinfo.test")
    assert "Initialization done! podinfo.test" in caplog.text
    assert "no event loop running" in caplog.text


async def test_a_canarys_events_reach_the_webhook_in_order(make_canary: MakeCanary) -> None:
    """Flagger calls the event webhook inline, so a receiver sees a tick's events in order;
    here they are sent in the background, one canary's events still one after the other."""
    import random

    received: list[str] = []

    async def slow_then_fast(canary: canary_api.Canary, message: str, event_type: str) -> None:
        await asyncio.sleep(random.uniform(0, 0.02))
        received.append(f"{canary.name}:{message}")

    recorder = events.EventRecorder(None, on_event=slow_then_fast)
    first, second = make_canary("podinfo"), make_canary("other")
    for index in range(10):
        recorder.record_info(first, f"step {index}")
        recorder.record_info(second, f"step {index}")
    await recorder.flush()
    for name in ("podinfo", "other"):
        mine = [r for r in received if r.startswith(f"{name}:")]
        assert mine == [f"{name}:step {index}" for index in range(10)]


class _FlakyCore:
    """The Event endpoints of CoreV1Api: each write first meets the given failures."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.created: list[dict[str, object]] = []
        self.patched: list[dict[str, object]] = []

    def _fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def create_namespaced_event(self, namespace: str, body: dict[str, object], **_: object):  # type: ignore[no-untyped-def]
        self._fail()
        self.created.append(body)

    async def patch_namespaced_event(  # type: ignore[no-untyped-def]
        self, name: str, namespace: str, body: dict[str, object], **_: object
    ):
        self._fail()
        self.patched.append(body)


def _too_many(retry_after: str) -> Exception:
    from kubernetes_asyncio.client import exceptions

    exc = exceptions.ApiException(status=429, reason="Too Many Requests")
    exc.headers = {"Retry-After": retry_after}
    return exc


async def test_a_throttled_or_dropped_event_write_is_retried_and_counted_once(
    make_canary: MakeCanary,
) -> None:
    """A 429 (with Retry-After) or a reset connection must not lose the Event users read, and a
    retried repeat must not count twice."""
    core = _FlakyCore([_too_many("0"), ConnectionResetError("reset by peer")])
    recorder = events.EventRecorder(None)
    recorder._core = core
    canary = make_canary("podinfo")
    recorder.record_info(canary, "Advance podinfo.test canary iteration 1/4")
    await recorder.flush()
    assert [e["count"] for e in core.created] == [1]
    core.failures = [_too_many("0")]
    recorder.record_info(canary, "Advance podinfo.test canary iteration 1/4")
    await recorder.flush()
    assert [p["count"] for p in core.patched] == [2]


async def test_a_refused_event_write_is_not_retried(
    make_canary: MakeCanary, caplog: pytest.LogCaptureFixture
) -> None:
    from kubernetes_asyncio.client import exceptions

    core = _FlakyCore([exceptions.ApiException(status=403, reason="Forbidden")])
    recorder = events.EventRecorder(None)
    recorder._core = core
    with caplog.at_level(logging.ERROR):
        recorder.record_info(make_canary("podinfo"), "Initialization done! podinfo.test")
        await recorder.flush()
    assert core.created == [] and core.failures == []
    assert "could not be recorded" in caplog.text


class _HeldCore(_FlakyCore):
    """Event endpoints whose creates wait for ``release``: writes pile up behind the first."""

    def __init__(self) -> None:
        super().__init__([])
        self.release = asyncio.Event()

    async def create_namespaced_event(self, namespace: str, body: dict[str, object], **_: object):  # type: ignore[no-untyped-def]
        await self.release.wait()
        self.created.append(body)


async def test_repeats_queued_behind_a_write_become_one_count_increase(
    make_canary: MakeCanary,
) -> None:
    """A backlog of one canary's identical events (a "not ready" Warning each tick while the
    API writes are throttled) is written as one PATCH of the count, not one PATCH each."""
    core = _HeldCore()
    recorder = events.EventRecorder(None)
    recorder._core = core
    canary = make_canary("podinfo")
    message = "canary deployment podinfo.test not ready: waiting for rollout to finish"
    for _ in range(5):
        recorder.record_warning(canary, message)
    await asyncio.sleep(0.01)
    core.release.set()
    await recorder.flush()
    assert [e["count"] for e in core.created] == [1]
    assert [p["count"] for p in core.patched] == [5]


async def test_a_repeat_of_a_waiting_event_is_not_dropped_at_the_cap(
    make_canary: MakeCanary,
) -> None:
    core = _HeldCore()
    recorder = events.EventRecorder(None, max_pending=2)
    recorder._core = core
    canary = make_canary("podinfo")
    recorder.record_warning(canary, "canary deployment podinfo.test not ready")
    recorder.record_info(canary, "Advance podinfo.test canary iteration 1/3")
    await asyncio.sleep(0.01)  # both writes are waiting on the API
    recorder.record_warning(canary, "canary deployment podinfo.test not ready")  # merges
    recorder.record_info(canary, "Advance podinfo.test canary iteration 2/3")  # new: dropped
    assert recorder.dropped == 1
    core.release.set()
    await recorder.flush()
    counts = {e["message"]: e["count"] for e in core.created}
    patched = [p["count"] for p in core.patched]
    assert counts == {
        "canary deployment podinfo.test not ready": 1,
        "Advance podinfo.test canary iteration 1/3": 1,
    }
    assert patched == [2]
