"""The baseline judge: is the canary significantly worse than the primary? (pure)

Kayenta's approach, reduced to one metric: the same query is run for the canary and for the
primary over the same window (range queries), and the two sample lists are compared with a
one-sided Mann-Whitney U test (Wilcoxon rank-sum). The null hypothesis is "the canary is no
worse than the primary moved by the tolerance"; the check fails when the p-value is below the
significance level, i.e. when the canary is *significantly* worse. Drifting levels (a latency
that is higher at noon than at night) move both sides together, so no fixed threshold is needed.

:func:`mann_whitney_u` computes U and its p-value: exactly (the distribution of U by counting)
when there are no ties and both samples have at most :data:`EXACT_LIMIT` values, else with the
normal approximation, corrected for ties and for continuity. No third-party dependency.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

from flagger.analysis import messages
from flagger.api import comparison as comparison_api

Alternative = Literal["greater", "less", "two-sided"]

#: Both samples at most this long, and no ties: the exact distribution of U is used.
EXACT_LIMIT = 20
#: Fewer samples than this on either side: no judgement (the check fails as "no values").
MIN_SAMPLES = 5


@dataclasses.dataclass(frozen=True)
class TestResult:
    """``u``: the U statistic of the first sample (pairs where it is larger, ties count 1/2)."""

    u: float
    p_value: float
    exact: bool


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        mean_rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            result[order[position]] = mean_rank
        start = end + 1
    return result


def mann_whitney_u(
    x: Sequence[float], y: Sequence[float], alternative: Alternative = "greater"
) -> TestResult:
    """Mann-Whitney U test of ``x`` against ``y``.

    ``greater``: the alternative is that ``x`` is stochastically greater than ``y`` (R's
    ``wilcox.test(x, y, alternative = "greater")``, SciPy's ``mannwhitneyu``).
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    combined = [*x, *y]
    ranked = ranks(combined)
    u1 = sum(ranked[:n1]) - n1 * (n1 + 1) / 2
    tie_sizes = _tie_sizes(combined)
    if not tie_sizes and n1 <= EXACT_LIMIT and n2 <= EXACT_LIMIT:
        return TestResult(u1, _exact_p(int(u1), n1, n2, alternative), exact=True)
    return TestResult(u1, _normal_p(u1, n1, n2, tie_sizes, alternative), exact=False)


def _tie_sizes(values: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return [c for c in counts.values() if c > 1]


def _u_distribution(n1: int, n2: int) -> list[int]:
    """How many of the C(n1+n2, n1) arrangements give each U = 0..n1*n2 (no ties)."""
    # The largest of the i + j values is either an x (it beats all j values of y) or a y (it
    # beats none): f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u).
    previous = [[1] for _ in range(n2 + 1)]  # i = 0: U is 0 whatever j
    for i in range(1, n1 + 1):
        current: list[list[int]] = [[1]]  # j = 0: U is 0
        for j in range(1, n2 + 1):
            size = i * j + 1
            row = [0] * size
            for u, count in enumerate(previous[j]):  # f(i-1, j, u - j)
                row[u + j] += count
            for u, count in enumerate(current[j - 1]):  # f(i, j-1, u)
                row[u] += count
            current.append(row)
        previous = current
    return previous[n2]


def _exact_p(u: int, n1: int, n2: int, alternative: Alternative) -> float:
    counts = _u_distribution(n1, n2)
    total = sum(counts)
    upper = sum(counts[u:]) / total  # P(U >= u)
    lower = sum(counts[: u + 1]) / total  # P(U <= u)
    if alternative == "greater":
        return upper
    if alternative == "less":
        return lower
    return min(1.0, 2 * min(upper, lower))


def _normal_p(
    u: float, n1: int, n2: int, tie_sizes: Sequence[int], alternative: Alternative
) -> float:
    n = n1 + n2
    mean = n1 * n2 / 2
    ties = sum(t**3 - t for t in tie_sizes)
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0  # every value is the same: no evidence either way
    sigma = math.sqrt(variance)
    if alternative == "greater":
        return _upper_tail((u - mean - 0.5) / sigma)
    if alternative == "less":
        return _upper_tail((mean - u - 0.5) / sigma)
    return min(1.0, 2 * _upper_tail((abs(u - mean) - 0.5) / sigma))


def _upper_tail(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def median(values: Sequence[float]) -> float:
    """The median (mean of the two middle values for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The judge's decision and the figures behind it; ``message`` is the Event text."""

    worse: bool
    canary_median: float
    baseline_median: float
    p_value: float
    message: str


def judge(
    canary: str,
    metric: str,
    canary_samples: Sequence[float],
    baseline_samples: Sequence[float],
    comparison: comparison_api.Comparison,
    baseline: str,
) -> Verdict | None:
    """Compare the canary's samples with the primary's; ``None`` when either has too few.

    ``canary`` is ``name.namespace`` of the Canary and ``baseline`` the primary workload's
    name, both for the message.
    """
    if len(canary_samples) < MIN_SAMPLES or len(baseline_samples) < MIN_SAMPLES:
        return None
    allowed = [comparison.allowed(v) for v in baseline_samples]
    alternative: Alternative = "greater" if comparison.higher_is_worse else "less"
    result = mann_whitney_u(canary_samples, allowed, alternative)
    worse = result.p_value < comparison.significance
    canary_median, baseline_median = median(canary_samples), median(baseline_samples)
    text = messages.baseline_verdict(
        canary,
        metric,
        canary_median,
        baseline,
        baseline_median,
        result.p_value,
        comparison.significance,
        comparison.describe(significance=False),
        worse,
    )
    return Verdict(worse, canary_median, baseline_median, result.p_value, text)
