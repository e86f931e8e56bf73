"""What a person wants to see of a rollout, read from a Canary and its Events.

One home for the read side of ``flagger get``, ``flagger watch`` and the dashboard:

- :func:`summary`: one row of ``flagger get canaries`` (phase, weight, step or iteration, failed
  checks against the threshold, the last message);
- :func:`detail`: ``flagger get canary NAME`` and the dashboard's canary page (targets,
  strategy and ladder, each metric check with its threshold and its last value, the webhooks
  with their last result, the recent events, the last action asked by hand).

Works on raw objects (dicts) so that a Canary the models would reject is still shown. Metric
values come from the daemon's Events (a halt names the value) or, when given, from Prometheus
samples of ``flagger_canary_metric_analysis``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flagger.api import actions
from flagger.api import status as status_api

__all__ = ["Detail", "EventLine", "Summary", "detail", "events_of", "settled", "summary"]

Phase = status_api.CanaryPhase
#: Phases in which nothing moves until something changes (watch exits on them).
SETTLED = frozenset({Phase.INITIALIZED, Phase.SUCCEEDED, Phase.FAILED})


@dataclasses.dataclass(frozen=True)
class EventLine:
    """One Event of a canary."""

    time: str
    type: str
    message: str
    count: int = 1


@dataclasses.dataclass(frozen=True)
class Summary:
    """One line of ``flagger get canaries``."""

    namespace: str
    name: str
    phase: str
    paused: bool
    weight: int
    step: str
    failed: str
    last_transition: str
    message: str
    pending_action: str

    @property
    def status(self) -> str:
        """The phase, with ``(paused)`` when paused."""
        return f"{self.phase or 'New'} (paused)" if self.paused else (self.phase or "New")


@dataclasses.dataclass(frozen=True)
class Check:
    """A metric check, its threshold and the last value seen."""

    name: str
    threshold: str
    last: str
    minimum: float | None
    maximum: float | None


@dataclasses.dataclass(frozen=True)
class Webhook:
    """A webhook and the last result the events tell."""

    name: str
    type: str
    url: str
    last: str


@dataclasses.dataclass(frozen=True)
class Detail:
    """Everything ``flagger get canary NAME`` shows."""

    summary: Summary
    target: str
    primary: str
    provider: str
    strategy: str
    ladder: tuple[int, ...]
    iterations: int
    interval: str
    threshold: int
    checks: tuple[Check, ...]
    webhooks: tuple[Webhook, ...]
    events: tuple[EventLine, ...]
    last_action: str


def _analysis(raw: Mapping[str, Any]) -> dict[str, Any]:
    spec = raw.get("spec") or {}
    found = spec.get("analysis") or spec.get("canaryAnalysis") or {}
    return found if isinstance(found, dict) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def ladder(raw: Mapping[str, Any]) -> tuple[int, ...]:
    """The canary weights the analysis walks (empty for blue/green and A/B)."""
    analysis = _analysis(raw)
    if _int(analysis.get("iterations")):
        return ()
    steps = analysis.get("stepWeights")
    if isinstance(steps, list) and steps:
        return tuple(_int(s) for s in steps)
    step = _int(analysis.get("stepWeight"))
    top = _int(analysis.get("maxWeight"), 100) or 100
    if step <= 0:
        return ()
    weights, weight = [], 0
    while weight < top:
        weight += step
        weights.append(weight)
    return tuple(weights)


def events_of(items: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[EventLine]]:
    """Core/v1 Events of Canaries, by (namespace, name), oldest first."""
    found: dict[tuple[str, str], list[EventLine]] = {}
    for item in items:
        involved = item.get("involvedObject") or {}
        if involved.get("kind") != "Canary":
            continue
        stamp = str(
            item.get("lastTimestamp")
            or item.get("eventTime")
            or (item.get("metadata") or {}).get("creationTimestamp")
            or ""
        )
        key = (str(involved.get("namespace") or ""), str(involved.get("name") or ""))
        found.setdefault(key, []).append(
            EventLine(
                stamp,
                str(item.get("type") or ""),
                str(item.get("message") or ""),
                _int(item.get("count"), 1),
            )
        )
    for lines in found.values():
        lines.sort(key=lambda e: e.time)
    return found


def summary(raw: Mapping[str, Any], events: Sequence[EventLine] = ()) -> Summary:
    """The ``flagger get canaries`` row of a Canary."""
    meta = raw.get("metadata") or {}
    status = raw.get("status") or {}
    analysis = _analysis(raw)
    weight = _int(status.get("canaryWeight"))
    iterations = _int(analysis.get("iterations"))
    steps = ladder(raw)
    if iterations:
        step = f"{_int(status.get('iterations'))}/{iterations}"
    elif steps:
        done = sum(1 for w in steps if w <= weight) if weight else 0
        step = f"{done}/{len(steps)}"
    else:
        step = "-"
    threshold = _int(analysis.get("threshold"), 1) or 1
    handled = (status.get("lastAction") or {}).get("id")
    waiting = actions.pending(meta.get("annotations"), handled)
    return Summary(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        phase=str(status.get("phase") or ""),
        paused=bool(status.get("paused")),
        weight=weight,
        step=step,
        failed=f"{_int(status.get('failedChecks'))}/{threshold}",
        last_transition=str(status.get("lastTransitionTime") or ""),
        message=events[-1].message if events else "",
        pending_action=waiting.label if isinstance(waiting, actions.ActionRequest) else "",
    )


def settled(raw: Mapping[str, Any]) -> bool:
    """True when nothing will move until something changes (``flagger watch`` exits)."""
    status = raw.get("status") or {}
    try:
        phase = Phase(status.get("phase") or "")
    except ValueError:
        return False
    return phase in SETTLED and not status.get("paused")


_HALTS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(r"advancement success rate ([\d.]+)% [<>]"), "request-success-rate"),
    (re.compile(r"advancement request duration (\S+) [<>]"), "request-duration"),
    (re.compile(r"advancement (\S+) ([-\d.e+]+) [<>] "), None),
)


def _halted_values(events: Sequence[EventLine]) -> dict[str, str]:
    """The last value each metric check failed with, as the halt events tell."""
    values: dict[str, str] = {}
    for event in events:
        for pattern, name in _HALTS:
            found = pattern.search(event.message)
            if found is None:
                continue
            if name is None:
                values[found.group(1)] = f"{found.group(2)} (failed)"
            else:
                unit = "%" if name == "request-success-rate" else ""
                values[name] = f"{found.group(1)}{unit} (failed)"
            break
    return values


def _threshold(metric: Mapping[str, Any]) -> tuple[str, float | None, float | None]:
    limits = metric.get("thresholdRange") or {}
    low, high = limits.get("min"), limits.get("max")
    if not limits and metric.get("threshold") is not None:
        if metric.get("name") == "request-success-rate":
            low = metric["threshold"]
        else:
            high = metric["threshold"]
    unit = "ms" if metric.get("name") == "request-duration" else ""
    unit = "%" if metric.get("name") == "request-success-rate" else unit
    parts = []
    if low is not None:
        parts.append(f">= {low}{unit}")
    if high is not None:
        parts.append(f"<= {high}{unit}")
    as_float = [float(v) if isinstance(v, int | float) else None for v in (low, high)]
    return " and ".join(parts) or "-", as_float[0], as_float[1]


def _hook_result(name: str, events: Sequence[EventLine]) -> str:
    last = ""
    for event in events:
        text = event.message
        if f" check {name} passed" in text or f"hook {name} passed" in text:
            last = "passed"
        elif f" {name} failed" in text:
            last = "failed: " + text.split(f" {name} failed", 1)[1].strip()
        elif f"approval {name}" in text:
            last = "gate closed"
        elif f"Rollback hook {name} not signaling" in text:
            last = "idle"
    return last or "-"


def detail(
    raw: Mapping[str, Any],
    events: Sequence[EventLine] = (),
    metric_values: Mapping[str, float] | None = None,
) -> Detail:
    """The ``flagger get canary NAME`` view; ``metric_values`` from Prometheus when known."""
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    analysis = _analysis(raw)
    target_ref = spec.get("targetRef") or {}
    target = f"{target_ref.get('kind', '?')}/{target_ref.get('name', '?')}"
    iterations = _int(analysis.get("iterations"))
    steps = ladder(raw)
    if iterations and analysis.get("match"):
        strategy = f"A/B testing, {iterations} iterations"
    elif iterations:
        strategy = f"blue/green, {iterations} iterations"
    elif steps:
        strategy = "canary" + (", mirrored" if analysis.get("mirror") else "")
    else:
        strategy = "-"
    halted = _halted_values(events)
    checks = []
    for metric in analysis.get("metrics") or []:
        name = str(metric.get("name") or "")
        text, low, high = _threshold(metric)
        if metric_values and name in metric_values:
            last = f"{metric_values[name]:.2f}"
        else:
            last = halted.get(name, "-")
        checks.append(Check(name, text, last, low, high))
    hooks = tuple(
        Webhook(
            str(h.get("name") or ""),
            str(h.get("type") or "rollout"),
            str(h.get("url") or ""),
            _hook_result(str(h.get("name") or ""), events),
        )
        for h in analysis.get("webhooks") or []
    )
    record = status.get("lastAction") or {}
    last_action = ""
    if record:
        who = record.get("requestedBy") or "someone"
        verdict = "done" if record.get("accepted") else "refused"
        label = "promote --full" if record.get("full") else record.get("action", "?")
        last_action = f"{label} by {who} ({verdict}): {record.get('message') or ''}".rstrip(": ")
    return Detail(
        summary=summary(raw, events),
        target=target,
        primary=f"{target_ref.get('name', '?')}-primary",
        provider=str(spec.get("provider") or "(the daemon's -mesh-provider)"),
        strategy=strategy,
        ladder=steps,
        iterations=iterations,
        interval=str(analysis.get("interval") or "60s"),
        threshold=_int(analysis.get("threshold"), 1) or 1,
        checks=tuple(checks),
        webhooks=hooks,
        events=tuple(events[-20:]),
        last_action=last_action,
    )


def as_json(value: Any) -> Any:
    """A view as plain JSON (for the dashboard)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Summary):
            out["status"] = value.status
        return out
    if isinstance(value, tuple | list):
        return [as_json(v) for v in value]
    return value
