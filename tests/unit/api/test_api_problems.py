"""Pydantic errors become problems with wire-name paths and plain-language fixes."""

from __future__ import annotations

import pydantic
import pytest

from flagger.api import canary, problems


@pytest.mark.parametrize(
    ("parts", "path"),
    [
        (["spec", "analysis", "metrics", 0, "interval"], "spec.analysis.metrics[0].interval"),
        (
            ["spec", "service", "match", 1, "headers", "x-canary"],
            "spec.service.match[1].headers.x-canary",
        ),
        (["metadata", "annotations", "kuma.io/mesh"], 'metadata.annotations["kuma.io/mesh"]'),
        ([0, "name"], "[0].name"),
        ([], ""),
    ],
)
def test_join_path(parts: list[str | int], path: str) -> None:
    assert problems.join_path(parts) == path


def _problems(doc: object) -> list[problems.Problem]:
    with pytest.raises(pydantic.ValidationError) as caught:
        canary.CanarySpec.model_validate(doc)
    return problems.from_validation_error(caught.value, canary.CanarySpec, prefix=["spec"])


def test_paths_use_wire_names_under_the_prefix() -> None:
    [problem] = _problems(
        {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "p"},
            "autoscalerRef": {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "name": "p",
                "primaryScalerReplicas": {"minReplicas": 0},
            },
        }
    )
    assert problem.path == "spec.autoscalerRef.primaryScalerReplicas.minReplicas"
    assert problem.message.endswith(
        "must be at least 1, got 0 (a number); use a value of 1 or more"
    )


def test_unknown_field_without_a_close_match_lists_the_known_ones() -> None:
    [problem] = _problems(
        {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "p", "zzz": 1}}
    )
    assert problem.path == "spec.targetRef.zzz"
    assert "use one of: apiVersion, kind, name" in problem.message


def test_non_string_map_keys() -> None:
    [problem] = _problems(
        {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "p"},
            "autoscalerRef": {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "name": "p",
                "primaryScalerQueries": {1: "query"},
            },
        }
    )
    assert problem.path == "spec.autoscalerRef.primaryScalerQueries"
    assert "map keys must be strings, got 1" in problem.message


def test_problem_text() -> None:
    found = problems.error("spec.x", "broken; fix it")
    assert str(found) == "spec.x: broken; fix it"
    assert found.is_error
    assert not problems.warning("", "old").is_error
    assert problems.warning("", "old").message == "document: old"


def test_a_key_ending_in_a_newline_is_quoted() -> None:
    """``$`` would admit "name\\n" as a plain key; the whole key must match."""
    assert problems.join_path(["spec", "name\n", 0]) == 'spec["name\n"][0]'
    assert problems.join_path(["spec", "analysis"]) == "spec.analysis"
