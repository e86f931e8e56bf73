"""Baseline comparison: a MetricTemplate that judges the canary against the primary.

An extension of Flagger's API that Flagger's CRD still accepts, because it lives in annotations
of the MetricTemplate (Flagger (Go) ignores them and runs the query as an instant threshold
check)::

    metadata:
      annotations:
        flagger.app/baseline-comparison: higher-is-worse   # or lower-is-worse
        flagger.app/baseline-tolerance: "10%"              # or an absolute amount: "0.5"
        flagger.app/baseline-significance: "0.05"          # optional, the default
        flagger.app/baseline-step: 5s                      # optional: range query resolution

With ``flagger.app/baseline-comparison`` set, the query is run twice as a range query over the
metric's ``interval``: once with ``{{ target }}`` naming the canary workload (``podinfo``) and
once naming the primary (``podinfo-primary``). The two sample lists are compared with a
one-sided Mann-Whitney U test (:mod:`flagger.analysis.baseline`): the check fails when the
canary is significantly worse than the primary moved by the tolerance.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

from flagger.api import durations

PREFIX = "flagger.app/baseline-"
COMPARISON = PREFIX + "comparison"
TOLERANCE = PREFIX + "tolerance"
SIGNIFICANCE = PREFIX + "significance"
STEP = PREFIX + "step"
ANNOTATIONS = (COMPARISON, TOLERANCE, SIGNIFICANCE, STEP)

Direction = Literal["higher-is-worse", "lower-is-worse"]
DIRECTIONS: tuple[Direction, ...] = ("higher-is-worse", "lower-is-worse")
DEFAULT_SIGNIFICANCE = 0.05
#: Without ``flagger.app/baseline-step`` a window is cut into this many steps (at least 1s each).
DEFAULT_STEPS_PER_WINDOW = 30
MIN_STEP_SECONDS = 1.0


class ComparisonError(ValueError):
    """An unusable annotation; ``path`` names it and the message says how to fix it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.text = message


@dataclasses.dataclass(frozen=True)
class Comparison:
    """How a baseline comparison judges: direction, tolerance and significance level.

    ``tolerance`` is relative (a fraction of the primary's values) when ``relative``, else an
    absolute amount in the metric's unit. ``step`` is the range query resolution in seconds
    (``None``: the window divided by :data:`DEFAULT_STEPS_PER_WINDOW`).
    """

    direction: Direction = "higher-is-worse"
    tolerance: float = 0.0
    relative: bool = False
    significance: float = DEFAULT_SIGNIFICANCE
    step: float | None = None

    @property
    def higher_is_worse(self) -> bool:
        return self.direction == "higher-is-worse"

    def allowed(self, baseline_value: float) -> float:
        """A primary sample moved by the tolerance in the canary's favour."""
        amount = abs(baseline_value) * self.tolerance if self.relative else self.tolerance
        return baseline_value + amount if self.higher_is_worse else baseline_value - amount

    def step_seconds(self, window_seconds: float) -> float:
        """The range query step for a window of ``window_seconds``."""
        if self.step is not None:
            return self.step
        return max(MIN_STEP_SECONDS, window_seconds / DEFAULT_STEPS_PER_WINDOW)

    def describe(self, *, significance: bool = True) -> str:
        """``higher is worse, tolerance 10%, significance 0.05``."""
        tolerance = f"{self.tolerance * 100:g}%" if self.relative else f"{self.tolerance:g}"
        text = f"{self.direction.replace('-', ' ')}, tolerance {tolerance}"
        return f"{text}, significance {self.significance:g}" if significance else text


def from_annotations(annotations: Mapping[str, Any] | None) -> Comparison | None:
    """The comparison a MetricTemplate's annotations ask for, or ``None`` when they ask for none.

    Raises :class:`ComparisonError` naming the annotation and the fix.
    """
    if not isinstance(annotations, Mapping):
        return None  # not a map: the schema check reports it
    found = {k: v for k, v in annotations.items() if isinstance(k, str) and k.startswith(PREFIX)}
    if not found:
        return None
    for key in found:
        if key not in ANNOTATIONS:
            raise ComparisonError(
                _path(key),
                f"unknown baseline comparison annotation; use {', '.join(ANNOTATIONS)}",
            )
    direction = found.get(COMPARISON)
    if direction is None:
        raise ComparisonError(
            _path(COMPARISON),
            "missing: the other flagger.app/baseline-* annotations need it; set it to "
            "higher-is-worse (e.g. latency, errors) or lower-is-worse (e.g. success rate)",
        )
    if direction not in DIRECTIONS:
        raise ComparisonError(
            _path(COMPARISON),
            f"{direction!r} is not a direction; use higher-is-worse or lower-is-worse",
        )
    tolerance, relative = _tolerance(found.get(TOLERANCE))
    significance = _significance(found.get(SIGNIFICANCE))
    step = _step(found.get(STEP))
    return Comparison(direction, tolerance, relative, significance, step)


def _path(key: str) -> str:
    return f'metadata.annotations["{key}"]'


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ComparisonError(_path(key), f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ComparisonError(_path(key), f"{text!r} is not a finite number")
    return value


def _tolerance(raw: Any) -> tuple[float, bool]:
    if raw is None:
        return 0.0, False
    text = str(raw).strip()
    relative = text.endswith("%")
    value = _number(TOLERANCE, text[:-1] if relative else text)
    if value < 0:
        raise ComparisonError(
            _path(TOLERANCE), f"{text!r} is negative; give how much worse is still fine, e.g. 10%"
        )
    return (value / 100 if relative else value), relative


def _significance(raw: Any) -> float:
    if raw is None:
        return DEFAULT_SIGNIFICANCE
    value = _number(SIGNIFICANCE, str(raw).strip())
    if not 0 < value < 1:
        raise ComparisonError(
            _path(SIGNIFICANCE), f"{raw!r} must be between 0 and 1 (exclusive), e.g. 0.05"
        )
    return value


def _step(raw: Any) -> float | None:
    if raw is None:
        return None
    try:
        seconds = durations.parse_duration(str(raw))
    except ValueError as exc:
        raise ComparisonError(_path(STEP), f"{exc}; write a duration such as 5s") from None
    if seconds < MIN_STEP_SECONDS:
        raise ComparisonError(_path(STEP), f"{raw!r} is below 1s; use 1s or more")
    return seconds
