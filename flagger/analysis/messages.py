"""Flagger's user-visible messages, word for word, and Go's way of printing numbers.

Users grep and alert on these texts and tutorials quote them, so they are built in one place.
``%v`` of a float prints like Go (``99``, ``99.5``, ``1e+06``), ``%.2f`` rounds as Go does, and
durations print like Go's ``time.Duration`` (``2.415s``, ``500ms``).
"""

from __future__ import annotations

import decimal
import math

from flagger.api import durations


def go_value(value: float) -> str:
    """``fmt.Sprintf("%v", value)`` for a Go float64 (or int): ``99``, ``99.5``, ``1e+06``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    value = float(value)  # Go keeps thresholds as float64, even when written as integers
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    sci = exponent + len(text) - 1  # the exponent of d.ddd x 10^sci
    prefix = "-" if sign else ""
    if sci < -4 or sci >= 6:  # strconv.FormatFloat(v, 'g', -1, 64)
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if sci < 0 else '+'}{abs(sci):02d}"
    if exponent >= 0:
        return prefix + text + "0" * exponent
    point = len(text) + exponent
    if point > 0:
        return f"{prefix}{text[:point]}.{text[point:]}"
    return f"{prefix}0.{'0' * -point}{text}"


def go_milliseconds(value: float) -> int:
    """Whole milliseconds, as Flagger converts a float to ``time.Duration`` (truncating)."""
    return int(value)


def go_duration_ms(millis: int) -> str:
    """A whole number of milliseconds printed as a Go duration."""
    return durations.format_duration_nanos(millis * 1_000_000)


def ref(name: str, namespace: str) -> str:
    """``name.namespace``, the way Flagger names objects in messages."""
    return f"{name}.{namespace}"


# --- lifecycle ---------------------------------------------------------------------------------


def initialization_done(canary: str) -> str:
    return f"Initialization done! {canary}"


def new_revision(target: str) -> str:
    return f"New revision detected! Scaling up {target}"


def restarting_analysis(target: str) -> str:
    return f"New revision detected! Restarting analysis for {target}"


def starting_analysis(target: str) -> str:
    return f"Starting canary analysis for {target}"


def config_changed(kind: str, name: str) -> str:
    """``ConfigMap backend has changed`` (``kind`` is ``configmap`` or ``secret``)."""
    shown = {"configmap": "ConfigMap", "secret": "Secret"}.get(kind, kind)
    return f"{shown} {name} has changed"


def copying(target: str, primary: str) -> str:
    return f"Copying {target} template spec to {primary}"


def promotion_completed(target: str) -> str:
    return f"Promotion completed! Scaling down {target}"


def promotion_skipped(target: str) -> str:
    return f"Promotion completed! Canary analysis was skipped for {target}"


def canary_failed(canary: str) -> str:
    return f"Canary failed! Scaling down {canary}"


def promotion_failed(target: str, error: str) -> str:
    return f"Promotion of {target} failed, primary not ready: {error}"


def suspended() -> str:
    return "skipping canary run as object is suspended"


# --- steps -------------------------------------------------------------------------------------


def advance_canary_weight(canary: str, weight: int) -> str:
    return f"Advance {canary} canary weight {weight}"


def advance_primary_weight(canary: str, weight: int) -> str:
    return f"Advance {canary} primary weight {weight}"


def advance_iteration(canary: str, iteration: int, iterations: int) -> str:
    return f"Advance {canary} canary iteration {iteration}/{iterations}"


def mirror_step(primary: int, canary: int, mirrored: bool) -> str:
    return f"Running mirror step {primary}/{canary}/{'true' if mirrored else 'false'}"


START_MIRRORING = "Start traffic mirroring"
STOP_MIRRORING = "Stop traffic mirroring and route all traffic to canary"
ALL_TO_PRIMARY = "Routing all traffic to primary"
ALL_TO_CANARY = "Routing all traffic to canary"
AB_NOT_SUPPORTED = "A/B testing is not supported when using the kubernetes provider"
PROGRESSIVE_NOT_SUPPORTED = (
    "Progressive traffic is not supported when using the kubernetes provider"
)
SETTING_ITERATIONS = "Setting canaryAnalysis.iterations: 10"


# --- hooks -------------------------------------------------------------------------------------


def waiting_for_approval(canary: str, hook: str) -> str:
    return f"Halt {canary} advancement waiting for approval {hook}"


def waiting_for_promotion_approval(canary: str, hook: str) -> str:
    return f"Halt {canary} advancement waiting for promotion approval {hook}"


def waiting_for_traffic_increase_approval(canary: str, hook: str) -> str:
    return f"Halt {canary} advancement waiting for traffic increase approval {hook}"


def pre_rollout_failed(canary: str, hook: str, error: str) -> str:
    return f"Halt {canary} advancement pre-rollout check {hook} failed {error}"


def external_check_failed(canary: str, hook: str, error: str) -> str:
    return f"Halt {canary} advancement external check {hook} failed {error}"


def hook_passed(kind: str, hook: str) -> str:
    """``Pre-rollout check load-test passed`` and the like (``kind`` as Flagger capitalises it)."""
    return f"{kind} check {hook} passed"


def rollback_hook_idle(hook: str) -> str:
    return f"Rollback hook {hook} not signaling a rollback"


def post_rollout_passed(hook: str) -> str:
    """For the shell, after running a ``post-rollout`` hook that answered 2xx."""
    return hook_passed("Post-rollout", hook)


def post_rollout_failed(hook: str, error: str) -> str:
    """For the shell, after running a ``post-rollout`` hook that failed."""
    return f"Post-rollout hook {hook} failed {error}"


# --- rollback ----------------------------------------------------------------------------------


def threshold_reached(canary: str, failed_checks: int) -> str:
    return f"Rolling back {canary} failed checks threshold reached {failed_checks}"


def manual_rollback(canary: str) -> str:
    return f"Rolling back {canary} manual webhook invoked"


# --- metrics -----------------------------------------------------------------------------------


def success_rate_below(canary: str, value: float, minimum: float) -> str:
    return f"Halt {canary} advancement success rate {value:.2f}% < {go_value(minimum)}%"


def success_rate_above(canary: str, value: float, maximum: float) -> str:
    return f"Halt {canary} advancement success rate {value:.2f}% > {go_value(maximum)}%"


def duration_below(canary: str, value_ms: int, minimum_ms: int) -> str:
    value, limit = go_duration_ms(value_ms), go_duration_ms(minimum_ms)
    return f"Halt {canary} advancement request duration {value} < {limit}"


def duration_above(canary: str, value_ms: int, maximum_ms: int) -> str:
    value, limit = go_duration_ms(value_ms), go_duration_ms(maximum_ms)
    return f"Halt {canary} advancement request duration {value} > {limit}"


def metric_below(canary: str, metric: str, value: float, minimum: float) -> str:
    return f"Halt {canary} advancement {metric} {value:.2f} < {go_value(minimum)}"


def metric_above(canary: str, metric: str, value: float, maximum: float) -> str:
    return f"Halt {canary} advancement {metric} {value:.2f} > {go_value(maximum)}"


def no_values_builtin(provider: str, metric: str, target: str, error: str | None) -> str:
    text = (
        f"Halt advancement no values found for {provider} metric {metric} "
        f"probably {target} is not receiving traffic"
    )
    return f"{text}: {error}" if error else text


def no_values_query(metric: str) -> str:
    return f"Halt advancement no values found for metric: {metric}"


def no_values_custom(metric: str, error: str) -> str:
    return f"Halt advancement no values found for custom metric: {metric}: {error}"


def prometheus_failed(error: str) -> str:
    return f"Prometheus query failed: {error}"


def prometheus_failed_for(metric: str, error: str) -> str:
    return f"Prometheus query failed for {metric}: {error}"


def metric_query_failed(metric: str, error: str) -> str:
    return f"Metric query failed for {metric}: {error}"


# --- extensions (no Flagger wording to follow) ------------------------------------------------


def baseline_verdict(
    canary: str,
    metric: str,
    canary_median: float,
    baseline: str,
    baseline_median: float,
    p_value: float,
    significance: float,
    settings: str,
    worse: bool,
) -> str:
    """The baseline judge's decision, with the figures behind it."""
    head = "Halt advancement " if worse else ""
    verdict = "significantly worse" if worse else "not significantly worse"
    relation = "<" if worse else ">="
    return (
        f"{head}{canary} baseline comparison {metric}: canary median {canary_median:.6g}, "
        f"{baseline} median {baseline_median:.6g}, p-value {p_value:.4g} {relation} "
        f"{significance:g} ({settings}): canary is {verdict}"
    )


def rolling_back_known_good(target: str, revision: str) -> str:
    return f"Rolling back {target} to revision {revision} known good, skipping analysis"


def replica_split(
    canary: str, canary_replicas: int, primary_replicas: int, share: float, weight: int
) -> str:
    return (
        f"Traffic split by replicas for {canary}: {canary_replicas} canary and "
        f"{primary_replicas} primary replicas behind the apex Service, {share:.4g}% to the "
        f"canary (weight {weight}%)"
    )


def baseline_too_few(
    canary: str, metric: str, canary_count: int, baseline_count: int, minimum: int
) -> str:
    return (
        f"Halt advancement {canary} baseline comparison {metric}: too few samples "
        f"(canary {canary_count}, primary {baseline_count}; at least {minimum} each are needed: "
        "widen the metric's interval or shorten flagger.app/baseline-step)"
    )


# --- alerts ------------------------------------------------------------------------------------

ALERT_WAITING_APPROVAL = "Canary is waiting for approval."
ALERT_WAITING_PROMOTION = "Canary promotion is waiting for approval."
ALERT_WAITING_TRAFFIC = "Canary traffic increase is waiting for approval."
ALERT_NEW_REVISION = "New revision detected, progressing canary analysis."
ALERT_MANUAL_ROLLBACK = "Rolling back manual webhook invoked"
ALERT_SUCCEEDED = "Canary analysis completed successfully, promotion finished."
ALERT_SKIPPED = "Canary analysis was skipped, promotion finished."


def alert_initialized(kind: str) -> str:
    return f"New {kind} detected, initialization completed."


def alert_threshold(failed_checks: int) -> str:
    return f"Failed checks threshold reached {failed_checks}"


def alert_promotion_failed(error: str) -> str:
    return f"Promotion failed, primary not ready: {error}"


# --- the Promoted condition ----------------------------------------------------------------------


def condition_message(phase: str, kind: str) -> str:
    """The ``Promoted`` condition's message for a phase (``kind`` is the target's kind)."""
    return {
        "Initializing": f"New {kind} detected, starting initialization.",
        "Initialized": f"{kind} initialization completed.",
        "Waiting": "Waiting for approval.",
        "WaitingPromotion": "Waiting for approval.",
        "Progressing": "New revision detected, progressing canary analysis.",
        "Promoting": "Canary analysis completed, starting primary rolling update.",
        "Finalising": "Canary analysis completed, routing all traffic to primary.",
        "Succeeded": "Canary analysis completed successfully, promotion finished.",
        "Failed": f"Canary analysis failed, {kind} scaled to zero.",
    }.get(phase, f"New {kind} detected, starting initialization.")
