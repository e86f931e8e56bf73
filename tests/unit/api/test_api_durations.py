"""Go duration parsing and printing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flagger.api import durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m", 60.0),
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        ("2h45m", 9900.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("-2s", -2.0),
        ("+3s", 3.0),
        ("100us", 0.0001),
        ("100\u00b5s", 0.0001),
        ("100\u03bcs", 0.0001),
        ("10ns", 1e-8),
        ("1h0m0s", 3600.0),
    ],
)
def test_parses_go_durations(text: str, seconds: float) -> None:
    assert durations.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "it is empty"),
        ("1", "missing unit"),
        ("1m30", "missing unit"),
        ("1d", 'unknown unit "d"'),
        ("5 s", 'unknown unit " s"'),
        ("abc", "expected a number"),
        ("s", "expected a number"),
        (".s", "no digits"),
        ("-", "it is empty"),
        ("3000000h", "too long"),
    ],
)
def test_rejects_bad_durations_with_the_reason_and_the_form(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        durations.parse_duration(text)
    message = str(caught.value)
    assert f'"{text}"' in message
    assert reason in message
    assert 'e.g. "30s"' in message


def test_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="expected a string"):
        durations.parse_duration(60)  # type: ignore[arg-type]


def test_nanoseconds_are_exact() -> None:
    assert durations.parse_duration_nanos("1.000000001s") == 1_000_000_001
    assert durations.parse_duration_nanos("0.1s") == 100_000_000


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (2.415, "2.415s"),
        (0.5, "500ms"),
        (60, "1m0s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (0.0000015, "1.5\u00b5s"),
        (1e-8, "10ns"),
        (-1.5, "-1.5s"),
    ],
)
def test_formats_like_go(seconds: float, text: str) -> None:
    assert durations.format_duration(seconds) == text


@given(st.integers(-(10**15), 10**15))
def test_format_then_parse_is_identity(nanos: int) -> None:
    assert durations.parse_duration_nanos(durations.format_duration_nanos(nanos)) == nanos
