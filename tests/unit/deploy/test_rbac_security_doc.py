"""docs/security.md's tables of the daemon's RBAC say what `flagger/deploy_rbac.py` grants:
the core rules and the config-tracking rules, verb for verb."""

from __future__ import annotations

import pathlib
import re

from flagger import deploy_rbac

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "security.md"
SECTION = "## What the daemon's RBAC allows and why"


def _tables() -> list[set[tuple[str, str]]]:
    """(resource, verb) of each table's rows in the RBAC section, in order."""
    text = DOC.read_text().split(SECTION, 1)[1]
    tables: list[set[tuple[str, str]]] = []
    in_table = False
    for line in text.splitlines():
        row = re.fullmatch(r"\| (`[^|]+`) \| (`[^|]+`) \| .* \|", line)
        if row is None:
            in_table = in_table and line.startswith("|")
            continue
        if not in_table:
            tables.append(set())
            in_table = True
        resources = re.findall(r"`([^`]+)`", row.group(1))
        verbs = re.findall(r"`([^`]+)`", row.group(2))
        tables[-1] |= {(resource, verb) for resource in resources for verb in verbs}
    return tables


def _granted(rules: tuple[deploy_rbac.Rule, ...]) -> set[tuple[str, str]]:
    return {(rule.resource, verb) for rule in rules for verb in rule.verbs}


def test_the_security_page_lists_every_core_and_config_tracking_grant() -> None:
    core, tracking = _tables()
    assert core == _granted(deploy_rbac.CORE)
    assert tracking == _granted(deploy_rbac.CONFIG_TRACKING)
