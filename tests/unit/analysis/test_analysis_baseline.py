"""The baseline judge: Mann-Whitney U against published values, and the decisions it makes.

The matrix: U and p-values of textbook examples (R's ``wilcox.test`` and SciPy's
``mannwhitneyu`` documentation), the exact distribution against brute-force enumeration, the
normal approximation against the exact one and with ties, then the judge on a canary that is
equal, worse within the tolerance and clearly worse, in both directions, and the tick that turns
its verdict into an Event and a halt.
"""

from __future__ import annotations

import itertools
import random

import pytest

from flagger.analysis import baseline, checks, decision
from flagger.api import comparison as comparison_api
from tests.unit.analysis import analysis_fixtures as fx

# R: ?wilcox.test, "Permeability constants of the human chorioamnion" (Hollander & Wolfe 1973,
# p. 69): wilcox.test(x, y, alternative = "g") gives W = 35, p-value = 0.1272.
HOLLANDER_X = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
HOLLANDER_Y = [1.15, 0.88, 0.90, 0.74, 1.21]
# SciPy: mannwhitneyu documentation (ages of male and female authors): U1 = 17, exact
# two-sided p = 0.1111, asymptotic (continuity-corrected) two-sided p = 0.11134688653314041.
MALES = [19, 22, 16, 29, 24]
FEMALES = [20, 11, 17, 12]


def test_published_exact_values() -> None:
    result = baseline.mann_whitney_u(HOLLANDER_X, HOLLANDER_Y, "greater")
    assert result.exact
    assert result.u == 35
    assert round(result.p_value, 4) == 0.1272
    scipy_example = baseline.mann_whitney_u(MALES, FEMALES, "two-sided")
    assert scipy_example.u == 17
    assert scipy_example.p_value == pytest.approx(1 / 9)


def test_published_normal_approximation() -> None:
    # pushing past the exact limit forces the asymptotic method on the same data
    p = baseline._normal_p(17, 5, 4, [], "two-sided")
    assert p == pytest.approx(0.11134688653314041, rel=1e-9)


def test_exact_distribution_matches_brute_force() -> None:
    """P(U >= u) counted over every way to split 3 + 4 distinct values."""
    values = list(range(7))
    for u in range(13):
        hits = total = 0
        for chosen in itertools.combinations(values, 3):
            rest = [v for v in values if v not in chosen]
            total += 1
            hits += sum(1 for a in chosen for b in rest if a > b) >= u
        x, y = _sample_with_u(u, 3, 4)
        assert baseline.mann_whitney_u(x, y, "greater").p_value == pytest.approx(hits / total)


def _sample_with_u(u: int, n1: int, n2: int) -> tuple[list[float], list[float]]:
    """Two samples (distinct values) whose U is ``u``."""
    for chosen in itertools.combinations(range(n1 + n2), n1):
        rest = [v for v in range(n1 + n2) if v not in chosen]
        if sum(1 for a in chosen for b in rest if a > b) == u:
            return [float(v) for v in chosen], [float(v) for v in rest]
    raise AssertionError(u)


def test_normal_approximation_is_close_to_exact_for_larger_samples() -> None:
    rng = random.Random(7)
    x = [rng.gauss(0.3, 1) for _ in range(20)]
    y = [rng.gauss(0, 1) for _ in range(20)]
    exact = baseline.mann_whitney_u(x, y, "greater")
    assert exact.exact
    approx = baseline._normal_p(exact.u, 20, 20, [], "greater")
    assert approx == pytest.approx(exact.p_value, abs=0.01)


def test_ties_share_ranks_and_shrink_the_variance() -> None:
    assert baseline.ranks([3, 1, 3, 2]) == [3.5, 1.0, 3.5, 2.0]
    x, y = [0, 0, 0, 1, 1, 2], [0, 0, 0, 0, 0, 1]
    result = baseline.mann_whitney_u(x, y, "greater")
    assert not result.exact  # ties: normal approximation
    untied = baseline._normal_p(result.u, 6, 6, [], "greater")
    assert result.p_value < untied  # the tie correction makes the same U more significant
    assert baseline.mann_whitney_u([1, 1, 1], [1, 1, 1]).p_value == 1.0


def _judge(canary: list[float], primary: list[float], **settings: object) -> baseline.Verdict:
    verdict = baseline.judge(
        "podinfo.test",
        "latency",
        canary,
        primary,
        comparison_api.Comparison(**settings),  # type: ignore[arg-type]
        "podinfo-primary",
    )
    assert verdict is not None
    return verdict


PRIMARY = [100.0, 102.0, 98.0, 101.0, 99.0, 103.0, 97.0, 100.5, 101.5, 98.5]


def test_equal_canary_passes() -> None:
    verdict = _judge([v + 0.25 for v in PRIMARY], PRIMARY)
    assert not verdict.worse
    assert verdict.p_value > 0.05
    assert verdict.message.startswith("podinfo.test baseline comparison latency: canary median")
    assert "canary is not significantly worse" in verdict.message


def test_slightly_worse_within_tolerance_passes_and_fails_without_it() -> None:
    slower = [v * 1.05 for v in PRIMARY]
    assert not _judge(slower, PRIMARY, tolerance=0.10, relative=True).worse
    strict = _judge(slower, PRIMARY)
    assert strict.worse
    assert strict.message.startswith("Halt advancement podinfo.test baseline comparison latency")


def test_clearly_worse_fails_with_the_figures_in_the_message() -> None:
    verdict = _judge([v * 1.5 for v in PRIMARY], PRIMARY, tolerance=0.10, relative=True)
    assert verdict.worse
    assert verdict.canary_median == pytest.approx(150.375)
    assert verdict.baseline_median == pytest.approx(100.25)
    assert verdict.p_value < 0.001
    assert "podinfo-primary median 100.25" in verdict.message
    assert "(higher is worse, tolerance 10%)" in verdict.message


def test_lower_is_worse_and_absolute_tolerance() -> None:
    success = [99.5, 99.7, 99.6, 99.8, 99.4, 99.9]
    lower = [v - 0.3 for v in success]
    assert _judge(lower, success, direction="lower-is-worse").worse
    assert not _judge(lower, success, direction="lower-is-worse", tolerance=0.5).worse
    # a canary that is better never fails a lower-is-worse comparison
    assert not _judge([100.0] * 6, success, direction="lower-is-worse").worse


def test_too_few_samples_is_no_verdict() -> None:
    settings = comparison_api.Comparison()
    assert baseline.judge("c.ns", "m", [1.0] * 4, [1.0] * 9, settings, "p") is None


def _tick_with(samples: checks.Samples) -> decision.Decision:
    canary = fx.make_canary(
        {
            "interval": "1m",
            "threshold": 2,
            "maxWeight": 50,
            "stepWeight": 25,
            "metrics": [{"name": "latency", "templateRef": {"name": "latency"}}],
        }
    )
    world = fx.initialized(canary, metrics={"latency": [samples]})
    fx.new_revision(world)
    world.tick()  # new revision: scale up
    world.advance_clock()
    world.tick()  # first step: no analysis yet
    world.advance_clock()
    return world.tick()


def test_a_tick_reports_the_verdict_and_halts_only_when_worse() -> None:
    settings = comparison_api.Comparison(tolerance=0.1, relative=True)
    passed = _tick_with(checks.Samples(tuple(PRIMARY), tuple(PRIMARY), settings, "podinfo-primary"))
    texts = [a.message for a in passed.actions if isinstance(a, decision.Event)]
    assert any("canary is not significantly worse" in t for t in texts)
    assert any("Advance podinfo.test canary weight 50" in t for t in texts)
    worse = tuple(v * 2 for v in PRIMARY)
    halted = _tick_with(checks.Samples(worse, tuple(PRIMARY), settings, "podinfo-primary"))
    events = [a for a in halted.actions if isinstance(a, decision.Event)]
    assert [e.severity for e in events] == ["warning"]
    assert "canary is significantly worse" in events[0].message
    assert halted.status is not None and halted.status.failed_checks == 1
    recorded = [a for a in halted.actions if isinstance(a, decision.RecordMetricValue)]
    assert recorded == [decision.RecordMetricValue("latency", 200.5)]
