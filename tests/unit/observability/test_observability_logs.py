"""JSON log lines: fields, levels, ``-log-level`` values.

Matrix: a canary line (msg, level, ts, caller, canary), bound fields, a line without a canary,
an exception's stacktrace, level filtering per ``-log-level`` value, an unknown level.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.observability import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.setup("debug", buffer)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_canary_line_carries_msg_level_ts_and_canary(
    stream: io.StringIO, make_canary: Callable[..., canary_api.Canary]
) -> None:
    log = logs.get_logger("flagger.analysis")
    log.info("Advance podinfo.test canary weight 10", canary=make_canary())
    [line] = lines(stream)
    assert line["msg"] == "Advance podinfo.test canary weight 10"
    assert line["level"] == "info"
    assert line["canary"] == "podinfo.test"
    stamp = datetime.datetime.strptime(line["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.UTC
    )
    assert abs((datetime.datetime.now(datetime.UTC) - stamp).total_seconds()) < 5
    assert list(line)[:4] == ["level", "ts", "caller", "msg"]


def test_caller_is_the_call_site(stream: io.StringIO) -> None:
    logs.get_logger("x").warning("here")
    assert lines(stream)[0]["caller"].startswith("observability/test_observability_logs.py:")


def test_bound_fields_and_extras_and_percent_signs(stream: io.StringIO) -> None:
    log = logs.get_logger("flagger.controller").bind(canary="backend.test", provider="istio")
    log.warning("Halt backend.test advancement success rate 62.50% < 99%", weight=10)
    [line] = lines(stream)
    assert line == {
        **line,
        "level": "warn",
        "canary": "backend.test",
        "provider": "istio",
        "weight": 10,
        "msg": "Halt backend.test advancement success rate 62.50% < 99%",
    }


def test_line_without_canary_has_no_canary_field(stream: io.StringIO) -> None:
    logs.get_logger("flagger").info("Starting operator")
    assert "canary" not in lines(stream)[0]


def test_exception_gives_a_stacktrace(stream: io.StringIO) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logs.get_logger("flagger").exception("tick failed", canary="podinfo.test")
    [line] = lines(stream)
    assert line["level"] == "error" and "RuntimeError: boom" in line["stacktrace"]


@pytest.mark.parametrize(
    ("level", "written"),
    [
        ("debug", ["debug", "info", "warn", "error"]),
        ("info", ["info", "warn", "error"]),
        ("warn", ["warn", "error"]),
        ("warning", ["warn", "error"]),
        ("error", ["error"]),
        ("INFO", ["info", "warn", "error"]),
    ],
)
def test_log_level_values(level: str, written: list[str]) -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    previous = root.level
    handler = logs.setup(level, buffer)
    try:
        log = logs.get_logger("flagger.test")
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    assert [line["level"] for line in lines(buffer)] == written


def test_setup_twice_keeps_one_handler() -> None:
    root = logging.getLogger()
    previous = root.level
    first = logs.setup("info", io.StringIO())
    second = logs.setup("info", io.StringIO())
    try:
        assert first not in root.handlers and second in root.handlers
    finally:
        root.removeHandler(second)
        root.setLevel(previous)


def test_unknown_level_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown log level 'verbose'; use one of debug, info"):
        logs.setup("verbose")
