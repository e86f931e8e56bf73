"""The fault-injection suite: each scenario adds a row, printed as a table at the end.

Short form (in ``make test``): a few faults per scenario. Long form: ``make faults``
(``FLAGGER_FAULTS=long``), which prints the table the issue asks for.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Generator

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
_FIRST_ROW = pytest.StashKey[int]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A scenario whose test failed (an assertion before its row was filled in, a timeout) counts
    at least one failure in its row: the table never shows a failed scenario as clean."""
    report = yield
    if report.failed:
        for row in ROWS[item.stash.get(_FIRST_ROW, len(ROWS)) :]:
            row.failures = max(row.failures, 1)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_FIRST_ROW] = len(ROWS)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Generator[None]:
    """The table, after pytest's own summaries (failures, the short test summary, coverage):
    the last thing printed before the final count."""
    yield
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
