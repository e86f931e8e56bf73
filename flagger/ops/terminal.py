"""Text for a terminal: the canaries table, a canary's details, the live frame of ``watch``.

Plain text that reads well over SSH and in a log; colour only when asked (a TTY without
``NO_COLOR``), and then only to mark health (green, yellow, red).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TextIO

from flagger.ops import views

__all__ = ["canaries_table", "canary_detail", "frame", "use_colour"]

_COLOURS = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2"}
BAR_WIDTH = 40


def use_colour(stream: TextIO) -> bool:
    """Colour for a terminal, never for a pipe or a file, never with ``NO_COLOR`` set."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _paint(text: str, colour: str, on: bool) -> str:
    return f"\033[{_COLOURS[colour]}m{text}\033[0m" if on else text


def _health(summary: views.Summary) -> str:
    if summary.phase == "Failed":
        return "red"
    if summary.paused or summary.phase in ("Waiting", "WaitingPromotion"):
        return "yellow"
    if summary.failed.split("/")[0] not in ("0", ""):
        return "yellow"
    return "green"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl prints them."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["   ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def canaries_table(summaries: Sequence[views.Summary], *, all_namespaces: bool) -> str:
    """``flagger get canaries``."""
    head = ["NAME", "STATUS", "WEIGHT", "STEP", "FAILED", "LASTTRANSITIONTIME", "MESSAGE"]
    rows = [(["NAMESPACE"] if all_namespaces else []) + head]
    for s in summaries:
        status = s.status + (f" ({s.pending_action} asked)" if s.pending_action else "")
        row = [s.name, status, str(s.weight), s.step, s.failed, s.last_transition, s.message]
        rows.append(([s.namespace] if all_namespaces else []) + row)
    return table(rows)


def bar(detail: views.Detail, colour: bool = False) -> str:
    """A progress bar of the weight (canary) or of the iterations (blue/green, A/B)."""
    s = detail.summary
    if detail.iterations:
        done, total = (int(x) for x in s.step.split("/"))
        filled = round(BAR_WIDTH * min(done, total) / max(total, 1))
        label = f"iteration {done}/{total}"
    else:
        top = detail.ladder[-1] if detail.ladder else 100
        filled = round(BAR_WIDTH * min(s.weight, top) / max(top, 1))
        label = f"canary weight {s.weight}% (step {s.step}, promoted at {top}%)"
    body = "#" * filled + "." * (BAR_WIDTH - filled)
    return f"[{_paint(body[:filled], _health(s), colour)}{body[filled:]}] {label}"


def canary_detail(detail: views.Detail, colour: bool = False) -> str:
    """``flagger get canary NAME``."""
    s = detail.summary
    lines = [
        f"Name:         {s.name}",
        f"Namespace:    {s.namespace}",
        f"Status:       {_paint(s.status, _health(s), colour)}",
        f"Target:       {detail.target} (primary {detail.primary})",
        f"Provider:     {detail.provider}",
        f"Strategy:     {detail.strategy}",
        f"Interval:     {detail.interval}",
        f"Failed:       {s.failed} checks (threshold {detail.threshold})",
    ]
    if detail.ladder:
        lines.append("Weights:      " + " -> ".join(f"{w}%" for w in detail.ladder))
    lines.append(f"Progress:     {bar(detail, colour)}")
    if detail.last_action:
        lines.append(f"Last action:  {detail.last_action}")
    if s.pending_action:
        lines.append(f"Asked:        {s.pending_action} (waiting for the daemon)")
    if detail.checks:
        lines += ["", "Checks:"]
        rows = [["  NAME", "THRESHOLD", "LAST VALUE"]]
        rows += [[f"  {c.name}", c.threshold, c.last] for c in detail.checks]
        lines.append(table(rows).rstrip("\n"))
    if detail.webhooks:
        lines += ["", "Webhooks:"]
        rows = [["  NAME", "TYPE", "LAST RESULT", "URL"]]
        rows += [[f"  {w.name}", w.type, w.last, w.url] for w in detail.webhooks]
        lines.append(table(rows).rstrip("\n"))
    lines += ["", "Events:"]
    if detail.events:
        rows = [["  TIME", "TYPE", "MESSAGE"]]
        rows += [[f"  {e.time}", e.type, e.message] for e in detail.events]
        lines.append(table(rows).rstrip("\n"))
    else:
        lines.append("  <none>")
    return "\n".join(lines) + "\n"


def frame(detail: views.Detail, colour: bool = False) -> str:
    """What ``flagger watch`` shows on a terminal at one moment (redrawn in place)."""
    s = detail.summary
    lines = [
        f"{s.name}.{s.namespace}  {_paint(s.status, _health(s), colour)}  failed checks {s.failed}",
        bar(detail, colour),
    ]
    for check in detail.checks:
        lines.append(f"  {check.name:<28} {check.last:>18}   threshold {check.threshold}")
    lines.append("")
    lines += [f"  {e.time}  {e.message}" for e in detail.events[-10:]]
    return "\n".join(lines) + "\n"
