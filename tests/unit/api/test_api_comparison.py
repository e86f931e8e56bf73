"""Baseline comparison annotations on a MetricTemplate: parsed settings and clear errors.

The matrix: no annotations (no comparison), the full set, defaults, each annotation with a bad
value (the error names the annotation and the fix), and ``flagger validate``'s note.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagger.api import comparison, validation


def test_no_annotations_is_no_comparison() -> None:
    assert comparison.from_annotations(None) is None
    assert comparison.from_annotations({"other": "x"}) is None


def test_full_settings() -> None:
    found = comparison.from_annotations(
        {
            comparison.COMPARISON: "lower-is-worse",
            comparison.TOLERANCE: "2.5%",
            comparison.SIGNIFICANCE: "0.01",
            comparison.STEP: "15s",
        }
    )
    assert found == comparison.Comparison("lower-is-worse", 0.025, True, 0.01, 15.0)
    assert found.allowed(100) == pytest.approx(97.5)
    assert found.step_seconds(600) == 15.0
    assert found.describe() == "lower is worse, tolerance 2.5%, significance 0.01"


def test_defaults() -> None:
    found = comparison.from_annotations({comparison.COMPARISON: "higher-is-worse"})
    assert found == comparison.Comparison()
    assert found.allowed(3.0) == 3.0
    assert found.step_seconds(300) == 10.0  # a window cut into 30 steps
    assert found.step_seconds(10) == 1.0  # at least 1s


@pytest.mark.parametrize(
    ("annotations", "wanted"),
    [
        ({comparison.TOLERANCE: "5%"}, 'flagger.app/baseline-comparison"]: missing'),
        ({comparison.COMPARISON: "higher"}, "use higher-is-worse or lower-is-worse"),
        ({comparison.COMPARISON: "higher-is-worse", comparison.TOLERANCE: "-1"}, "negative"),
        ({comparison.COMPARISON: "higher-is-worse", comparison.TOLERANCE: "x%"}, "not a number"),
        ({comparison.COMPARISON: "higher-is-worse", comparison.SIGNIFICANCE: "5"}, "between 0"),
        ({comparison.COMPARISON: "higher-is-worse", comparison.STEP: "5"}, "missing unit"),
        ({comparison.COMPARISON: "higher-is-worse", "flagger.app/baseline-alpha": "1"}, "unknown"),
    ],
)
def test_bad_annotations_name_the_annotation_and_the_fix(
    annotations: dict[str, str], wanted: str
) -> None:
    with pytest.raises(comparison.ComparisonError) as caught:
        comparison.from_annotations(annotations)
    assert caught.value.path.startswith('metadata.annotations["flagger.app/baseline-')
    assert wanted in str(caught.value)


def _template(annotations: dict[str, str], query: str = "x{w='{{ target }}'}") -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "latency", "namespace": "test", "annotations": annotations},
        "spec": {"provider": {"type": "prometheus", "address": "http://p:9090"}, "query": query},
    }


def test_validate_explains_the_extension_and_rejects_bad_values() -> None:
    found = validation.validate(_template({comparison.COMPARISON: "higher-is-worse"}))
    assert [p.severity for p in found] == ["note"]
    assert "Mann-Whitney U" in found[0].message
    assert "<target>-primary" in found[0].message
    no_target = validation.validate(_template({comparison.COMPARISON: "higher-is-worse"}, "up"))
    assert [p.severity for p in no_target] == ["note", "warning"]
    bad = validation.validate(_template({comparison.COMPARISON: "sideways"}))
    assert [p.severity for p in bad] == ["error"]
    assert bad[0].path == 'metadata.annotations["flagger.app/baseline-comparison"]'
