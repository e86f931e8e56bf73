"""The canary strategy's traffic ladder: Flagger's ``maxWeight`` and ``nextStepWeight``.

Weights are percentages of a total of 100. ``stepWeight`` advances by a fixed step;
``stepWeights`` walks an explicit ladder whose last entry caps ``maxWeight``. As in Flagger, the
last step is not clipped to ``maxWeight``: with ``stepWeight: 20`` and ``maxWeight: 50`` the
canary goes 20, 40, 60 and is then promoted (the weight stays below ``maxWeight + stepWeight``).
"""

from __future__ import annotations

import itertools

from flagger.api import analysis

TOTAL_WEIGHT = 100


def max_weight(spec: analysis.CanaryAnalysis) -> int:
    """The weight at which the canary is promoted."""
    if spec.step_weights:
        return min(TOTAL_WEIGHT, spec.step_weights[-1])
    if spec.max_weight and spec.max_weight > 0:
        return spec.max_weight
    return TOTAL_WEIGHT


def next_step_weight(spec: analysis.CanaryAnalysis, canary_weight: int) -> int:
    """How much weight the next advance adds to the canary (0 never advances)."""
    step = spec.step_weight or 0
    ladder = spec.step_weights or []
    if step > 0 or not ladder:
        return step
    max_step = TOTAL_WEIGHT - canary_weight
    if max_step == 0:
        # at 100% any positive step leads to promotion, as a last stepWeight would
        return 1
    if canary_weight == 0:
        return min(max_step, ladder[0])
    for current, following in itertools.pairwise(ladder):
        if current == canary_weight:
            return min(max_step, following - canary_weight)
    return max_step
