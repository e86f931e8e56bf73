"""The delivery queue without a network: submit never waits, a full queue drops and counts,
one canary's alerts stay in order while others run in parallel, retries follow the policy
(retriable failures only, bounded attempts), each attempt has a timeout, and the failure
counter is exposed on the registry it was given (without ``*_created`` series)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import prometheus_client
import pytest

from flagger.alerting import delivery
from flagger.alerting.delivery import DeliveryError, DeliveryPolicy, DeliveryQueue

FAST = DeliveryPolicy(
    queue_size=10, workers=3, timeout=0.5, attempts=3, wait_min=0.01, wait_max=0.02
)


async def test_submit_does_not_wait_and_a_full_queue_drops() -> None:
    registry = prometheus_client.CollectorRegistry()
    counter = delivery.FailureCounter(registry)
    queue = DeliveryQueue(DeliveryPolicy(queue_size=2, workers=1), counter)
    release = asyncio.Event()
    ran: list[int] = []

    def job(n: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await release.wait()
            ran.append(n)

        return run

    queue.start()
    began = time.monotonic()
    accepted = [queue.submit(("test", f"c{n}"), job(n), "slack") for n in range(5)]
    assert time.monotonic() - began < 0.05
    assert accepted == [True, True, False, False, False]
    assert counter.value("slack", "queue_full") == 3
    release.set()
    await queue.join()
    assert sorted(ran) == [0, 1]
    # room again once delivered
    assert queue.submit(("test", "c9"), job(9), "slack")
    await queue.join()
    await queue.close()
    assert not queue.submit(("test", "c10"), job(10), "slack")  # closed
    text = prometheus_client.generate_latest(registry).decode()
    assert (
        'flagger_alert_delivery_failures_total{provider_type="slack",reason="queue_full"} 4.0'
        in text
    )
    assert "_created" not in text


async def test_one_canarys_alerts_stay_in_order_others_run_alongside() -> None:
    queue = DeliveryQueue(FAST)
    queue.start()
    log: list[str] = []

    def job(key: str, n: int, delay: float) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            log.append(f"start {key}{n}")
            await asyncio.sleep(delay)
            log.append(f"end {key}{n}")

        return run

    queue.submit("a", job("a", 1, 0.2))
    queue.submit("a", job("a", 2, 0.0))
    queue.submit("a", job("a", 3, 0.0))
    queue.submit("b", job("b", 1, 0.0))
    await queue.join()
    a_events = [e for e in log if e.split()[1].startswith("a")]
    assert a_events == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]
    assert log.index("end b1") < log.index("end a1")  # b was not held up behind a
    await queue.close()


async def test_retriable_failures_are_retried_until_success() -> None:
    queue = DeliveryQueue(FAST)
    attempts: list[float] = []

    async def post() -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise DeliveryError("http_error", "sending notification failed: busy", retriable=True)

    await queue.deliver(post)
    assert len(attempts) == 3
    assert attempts[2] - attempts[1] >= attempts[1] - attempts[0] - 0.005  # backoff grows


async def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    queue = DeliveryQueue(FAST)
    calls = 0

    async def post() -> None:
        nonlocal calls
        calls += 1
        raise DeliveryError("connection_error", f"refused {calls}", retriable=True)

    with pytest.raises(DeliveryError, match="refused 3"):
        await queue.deliver(post)
    assert calls == 3


async def test_a_refusal_is_not_retried() -> None:
    queue = DeliveryQueue(FAST)
    calls = 0

    async def post() -> None:
        nonlocal calls
        calls += 1
        raise DeliveryError("http_error", "sending notification failed: invalid_payload")

    with pytest.raises(DeliveryError, match="invalid_payload"):
        await queue.deliver(post)
    assert calls == 1


async def test_each_attempt_has_a_timeout() -> None:
    queue = DeliveryQueue(DeliveryPolicy(timeout=0.05, attempts=2, wait_min=0.01, wait_max=0.01))
    calls = 0

    async def post() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(10)

    began = time.monotonic()
    with pytest.raises(DeliveryError) as raised:
        await queue.deliver(post)
    assert time.monotonic() - began < 1
    assert (raised.value.reason, calls) == ("timeout", 2)


@pytest.mark.parametrize(
    ("exc", "reason", "retriable"),
    [
        (TimeoutError(), "timeout", True),
        (ConnectionResetError("reset"), "error", False),
        (ValueError("bad"), "error", False),
        (DeliveryError("rejected", "no"), "rejected", False),
    ],
)
def test_classify(exc: BaseException, reason: str, retriable: bool) -> None:
    found = delivery.classify(exc)
    assert (found.reason, found.retriable) == (reason, retriable)


async def test_a_failing_job_does_not_stop_its_worker() -> None:
    queue = DeliveryQueue(DeliveryPolicy(workers=1))
    queue.start()
    done: list[str] = []

    async def broken() -> None:
        raise RuntimeError("bug")

    async def fine() -> None:
        done.append("fine")

    queue.submit("a", broken)
    queue.submit("a", fine)
    await asyncio.wait_for(queue.join(), 2)
    assert done == ["fine"]
    await queue.close()
