"""Go-style durations, as written in Canary specs (``interval: 1m``, ``timeout: 30s``).

Flagger parses these with Go's ``time.ParseDuration``: an optional sign, then one or more
decimal numbers (with an optional fraction), each followed by a unit among ``ns``, ``us``
(or ``µs``), ``ms``, ``s``, ``m`` and ``h``, e.g. ``1m30s``, ``1.5h``, ``500ms``. The bare
``0`` is also accepted. :func:`parse_duration` returns seconds and :func:`format_duration`
prints seconds back the way Go does (``2.415s``, ``500ms``, ``1m0s``), which is how Flagger's
messages show durations.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

_NANOS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_MAX_NANOS = (1 << 63) - 1
_HINT = 'use a number followed by a unit among ns, us, ms, s, m, h, e.g. "30s", "1m30s"'


def parse_duration(text: str) -> float:
    """Parse a Go duration and return it in seconds.

    Raises :class:`ValueError` naming the text, what is wrong and the accepted form.
    """
    return parse_duration_nanos(text) / 1e9


def parse_duration_nanos(text: str) -> int:
    """Parse a Go duration and return whole nanoseconds, exactly as Go computes them."""
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: expected a string; {_HINT}")
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if rest == "":
        raise ValueError(f'invalid duration "{text}": it is empty; {_HINT}')
    total = Fraction(0)
    while rest:
        if not (rest[0] == "." or rest[0].isdigit()):
            raise ValueError(f'invalid duration "{text}": expected a number at "{rest}"; {_HINT}')
        whole, rest = _take(rest, str.isdigit)
        fraction = ""
        if rest[:1] == ".":
            fraction, rest = _take(rest[1:], str.isdigit)
        if not whole and not fraction:
            raise ValueError(f'invalid duration "{text}": a number has no digits; {_HINT}')
        unit, rest = _take(rest, lambda c: not (c == "." or c.isdigit()))
        if not unit:
            raise ValueError(f'invalid duration "{text}": missing unit; {_HINT}')
        if unit not in _NANOS_PER_UNIT:
            raise ValueError(f'invalid duration "{text}": unknown unit "{unit}"; {_HINT}')
        if len(whole.lstrip("0")) > 30:
            raise ValueError(
                f'invalid duration "{text[:40]}…": it is too long (Go durations stop at about '
                '290 years); use a shorter one, e.g. "30s"'
            )
        value = Fraction(int(whole.lstrip("0") or "0"))
        fraction = fraction[:30]  # beyond a nanosecond of any unit: truncated, as Go does
        if fraction:
            value += Fraction(int(fraction), 10 ** len(fraction))
        total += value * _NANOS_PER_UNIT[unit]
        if total > _MAX_NANOS:
            raise ValueError(
                f'invalid duration "{text}": it is too long (Go durations stop at about 290 '
                'years); use a shorter one, e.g. "30s"'
            )
    nanos = int(total)  # Go truncates sub-nanosecond fractions
    return -nanos if negative else nanos


def _take(text: str, wanted: Callable[[str], bool]) -> tuple[str, str]:
    """Split ``text`` after its longest prefix of characters satisfying ``wanted``."""
    index = 0
    while index < len(text) and wanted(text[index]):
        index += 1
    return text[:index], text[index:]


def format_duration(seconds: float) -> str:
    """Print seconds as Go's ``Duration.String`` does, e.g. ``1m30s``, ``2.415s``, ``500ms``."""
    return format_duration_nanos(round(seconds * 1e9))


def format_duration_nanos(nanos: int) -> str:
    """Print whole nanoseconds as Go's ``time.Duration.String`` does."""
    sign = "-" if nanos < 0 else ""
    value = abs(nanos)
    if value == 0:
        return "0s"
    if value < 1_000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return f"{sign}{_fraction(value, 3)}\u00b5s"
    if value < 1_000_000_000:
        return f"{sign}{_fraction(value, 6)}ms"
    seconds_part = _fraction(value % 60_000_000_000, 9) + "s"
    minutes = value // 60_000_000_000
    if minutes == 0:
        return sign + seconds_part
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{sign}{minutes}m{seconds_part}"
    return f"{sign}{hours}h{minutes}m{seconds_part}"


def _fraction(value: int, digits: int) -> str:
    """``value / 10**digits`` with trailing zeros (and a bare dot) removed."""
    whole, frac = divmod(value, 10**digits)
    text = str(frac).rjust(digits, "0").rstrip("0")
    return f"{whole}.{text}" if text else str(whole)
