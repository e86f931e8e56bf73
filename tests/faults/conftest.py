"""The fault-injection suite: each scenario adds a row, printed as a table at the end.

Short form (in ``make test``): a few faults per scenario. Long form: ``make faults``
(``FLAGGER_FAULTS=long``), which prints the table the issue asks for.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

LONG = os.environ.get("FLAGGER_FAULTS") == "long"


@dataclasses.dataclass
class Row:
    """One scenario's figures."""

    scenario: str
    cases: int = 0
    failures: int = 0
    duplicated_or_skipped: int = 0
    seconds_blind: float = 0.0


ROWS: list[Row] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    header = ("scenario", "cases", "failures", "duplicated or skipped steps", "seconds blind")
    cells = [header] + [
        (
            r.scenario,
            str(r.cases),
            str(r.failures),
            str(r.duplicated_or_skipped),
            f"{r.seconds_blind:.1f}",
        )
        for r in ROWS
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    terminalreporter.section("fault injection")
    for row in cells:
        terminalreporter.write_line(" | ".join(c.ljust(widths[i]) for i, c in enumerate(row)))
