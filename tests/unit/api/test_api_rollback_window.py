"""The rollback window annotation: its value, and what ``flagger validate`` says about it."""

from __future__ import annotations

from typing import Any

import pytest

from flagger.api import rollback_window, validation


def _canary(value: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "podinfo", "namespace": "test"}
    if value is not None:
        metadata["annotations"] = {rollback_window.ANNOTATION: value}
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": metadata,
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10},
        },
    }


def test_values() -> None:
    assert rollback_window.revisions(None) == 0
    assert rollback_window.revisions({"annotations": {rollback_window.ANNOTATION: " 3 "}}) == 3
    for bad in ("three", "-1", "2.5", "21"):
        with pytest.raises(ValueError, match=r"rollback-window"):
            rollback_window.revisions({"annotations": {rollback_window.ANNOTATION: bad}})


def test_validate_notes_the_window_and_rejects_a_bad_value() -> None:
    assert validation.validate(_canary(None)) == []
    assert validation.validate(_canary("0")) == []
    found = validation.validate(_canary("3"))
    assert [(p.path, p.severity) for p in found] == [(rollback_window.PATH, "note")]
    assert "the last 3 promoted revisions" in found[0].message
    bad = validation.validate(_canary("three"))
    assert [p.severity for p in bad] == ["error"]
    assert bad[0].message.startswith(
        "metadata.annotations[\"flagger.app/rollback-window\"]: 'three' is not a whole number"
    )
