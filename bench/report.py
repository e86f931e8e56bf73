"""The bench's printed table: one block per N, this daemon beside Flagger (Go) and the ratio."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from bench.harness import Result

ROWS: tuple[tuple[str, str, str], ...] = (
    ("bootstrap_s", "bootstrap to all Initialized (s)", "{:.1f}"),
    ("bootstrap_initialized", "bootstrap: Initialized", "{:.0f}"),
    ("idle_cpu_s_per_120s", "idle CPU (s per 120 s)", "{:.2f}"),
    ("cpu_ms_per_tick", "CPU per canary tick (ms)", "{:.2f}"),
    ("rss_mb", "RSS (MB)", "{:.0f}"),
    ("idle_ticks", "idle ticks done", "{:.0f}"),
    ("ticks_done", "idle ticks done / expected", "{:.2f}"),
    ("lateness_p50_s", "tick lateness p50 (s)", "{:.3f}"),
    ("lateness_p99_s", "tick lateness p99 (s)", "{:.3f}"),
    ("reads_per_tick", "API reads per idle tick per canary", "{:.2f}"),
    ("writes_per_tick", "API writes per idle tick per canary", "{:.2f}"),
    ("burst_detected", "burst: detected (Progressing)", "{:.0f}"),
    ("detect_p50_s", "burst: change -> detected p50 (s)", "{:.2f}"),
    ("detect_p99_s", "burst: change -> detected p99 (s)", "{:.2f}"),
    ("burst_succeeded", "burst: Succeeded", "{:.0f}"),
    ("burst_s", "burst: all Succeeded after (s)", "{:.1f}"),
    ("burst_cpu_s", "burst: CPU (s)", "{:.1f}"),
    ("burst_peak_rss_mb", "burst: peak RSS (MB)", "{:.0f}"),
)


def _cell(fmt: str, value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return fmt.format(value)


def table(ours: Result, theirs: Result | None, *, title: str = "") -> str:
    """A Markdown table of one N."""
    expected = ours.expected_ticks or (theirs.expected_ticks if theirs else 0.0)
    head = f"### N = {ours.n}{title} (expected idle ticks: {expected:.0f})"
    lines = [
        head,
        "",
        "| figure | this project | Flagger (Go) | ours/Flagger |",
        "|---|---|---|---|",
    ]
    for key, label, fmt in ROWS:
        mine = ours.figures.get(key)
        other = theirs.figures.get(key) if theirs else None
        ratio = (
            f"{mine / other:.2f}"
            if mine is not None and other and not math.isnan(mine) and not math.isnan(other)
            else "-"
        )
        lines.append(f"| {label} | {_cell(fmt, mine)} | {_cell(fmt, other)} | {ratio} |")
    lines.append("")
    lines += [breakdown(r) for r in (ours, theirs) if r is not None]
    if ours.figures:
        lines.append(targets(ours))
    for r in (ours, theirs):
        if r is not None:
            lines += [f"note ({r.operator}): {note}" for note in r.notes]
    if ours.shards:
        lines += ["", shard_table(ours)]
    return "\n".join(lines)


def shard_table(combined: Result) -> str:
    """A Markdown table of a sharded run: each shard's figures beside the combined ones."""
    names = [part.operator.removeprefix(f"{combined.operator} ") for part in combined.shards]
    lines = [
        f"#### N = {combined.n}, {len(names)} shards: each shard and combined",
        "",
        "| figure | combined | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
        "| canaries | " + " | ".join(str(r.n) for r in (combined, *combined.shards)) + " |",
    ]
    for key, label, fmt in ROWS:
        cells = [_cell(fmt, r.figures.get(key)) for r in (combined, *combined.shards)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    for part in combined.shards:
        lines.append(breakdown(part))
        lines += [f"note ({part.operator}): {note}" for note in part.notes]
    return "\n".join(lines)


#: The issue's targets on this 2-core machine: (figure, label, test of the value).
TARGETS: tuple[tuple[str, str, Callable[[float, Result], bool]], ...] = (
    ("ticks_done", "every expected idle tick happens", lambda v, r: v >= 0.99),
    ("lateness_p99_s", "tick lateness p99 < 1 s", lambda v, r: v < 1.0),
    ("reads_per_tick", "0 API reads per idle tick", lambda v, r: v < 0.01),
    ("idle_cpu_s_per_120s", "idle CPU < 10% of one core", lambda v, r: v < 12.0 * r.daemons),
    ("rss_mb", "RSS < 300 MB per daemon", lambda v, r: v < 300.0 * r.daemons),
    ("detect_p99_s", "burst detected p99 < 2 s", lambda v, r: v < 2.0),
    (
        "burst_s",
        "burst all Succeeded within (iterations + 2) x interval + 60 s",
        lambda v, r: v <= r.figures.get("burst_target_s", math.inf),
    ),
)


def targets(result: Result) -> str:
    """Which of the issue's targets this run met (per daemon when sharded)."""
    marks = []
    for key, label, met in TARGETS:
        value = result.figures.get(key)
        if value is None or math.isnan(value):
            marks.append(f"{label}: not measured")
        else:
            marks.append(f"{label}: {'met' if met(value, result) else 'MISSED'}")
    return f"targets ({result.operator}, N={result.n}): " + "; ".join(marks)


def breakdown(result: Result, top: int = 8) -> str:
    """Requests per idle tick per canary by verb and resource (watches included)."""
    per = max(result.expected_ticks, 1.0)
    parts = [
        f"{verb} {resource} {count / per:.2f}"
        for (verb, resource), count in result.requests.most_common(top)
    ]
    return f"{result.operator} requests per idle tick per canary: " + (", ".join(parts) or "none")


def summary(results: Sequence[tuple[Result, Result | None]]) -> str:
    return "\n\n".join(table(o, t) for o, t in results)
