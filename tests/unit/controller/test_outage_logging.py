"""An API server outage is logged as one line per failed tick, naming the failure's class and
cause; the stack trace only at debug level. A bug (an unexpected exception) keeps its trace.

Matrix: connection refused (aiohttp), a 503 from the API server, a timeout -> one line, no
``stacktrace`` at info, a ``stacktrace`` at debug; a ``KeyError`` -> ``stacktrace`` at info.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import aiohttp
import pytest

from flagger.controller import scheduling, ticking
from flagger.kube import errors, informers
from flagger.observability import logs


class _Metrics:
    def set_total(self, namespace: str, count: int) -> None:
        return None

    def observe_lateness(self, seconds: float) -> None:
        return None


class _Shell:
    metrics = _Metrics()

    def __init__(self) -> None:
        self.resting: dict[tuple[str, str], object] = {}


def _refused() -> BaseException:
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 6443, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connect call failed"))


async def _lines(
    monkeypatch: pytest.MonkeyPatch, failure: BaseException, level: str
) -> list[dict[str, Any]]:
    async def tick(shell: Any, name: str, namespace: str) -> Any:
        raise failure

    monkeypatch.setattr(ticking, "tick", tick)
    monkeypatch.setattr(scheduling, "RETRY_SECONDS", 0.05)
    stream = io.StringIO()
    handler = logs.setup(level, stream)
    scheduler = scheduling.Scheduler(_Shell())  # type: ignore[arg-type]
    try:
        scheduler.canary_changed(informers.ObjectKey("test", "podinfo"), None, object())  # type: ignore[arg-type]
        await asyncio.sleep(0.18)
        await scheduler.close()
    finally:
        logging.getLogger().removeHandler(handler)
    return [json.loads(line) for line in stream.getvalue().splitlines() if "tick failed" in line]


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (_refused(), "ClientConnectorError: Cannot connect to host 127.0.0.1:6443"),
        (errors.ApiError(503, "ServiceUnavailable", "etcd down"), "ApiError: 503"),
        (TimeoutError(), "TimeoutError"),
    ],
)
async def test_an_outage_is_one_line_per_tick_without_a_trace(
    monkeypatch: pytest.MonkeyPatch, failure: BaseException, cause: str
) -> None:
    lines = await _lines(monkeypatch, failure, "info")
    assert 2 <= len(lines) <= 5, "one line per failed tick (retried every 0.05 s here)"
    for line in lines:
        assert line["msg"].startswith(f"Canary podinfo.test tick failed: {cause}"), line
        assert line["error"] == type(failure).__name__
        assert "stacktrace" not in line
    debug = await _lines(monkeypatch, failure, "debug")
    assert all("stacktrace" in line for line in debug)


async def test_a_bug_keeps_its_stack_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = await _lines(monkeypatch, KeyError("spec"), "info")
    assert lines and all("stacktrace" in line for line in lines)
    assert lines[0]["msg"] == "Canary podinfo.test tick failed: KeyError: 'spec'"
