"""Round trips: parse -> to_manifest returns the document exactly (nothing dropped or added)."""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import api_strategies  # type: ignore[import-not-found, unused-ignore]
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from flagger.api import alert_provider, canary, common, documents, metric_template

_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    parsed = documents.parse_object(doc)
    assert parsed is not None
    return parsed.to_manifest()


def test_upstream_manifest_round_trips(upstream_file: pathlib.Path) -> None:
    loaded = documents.load_documents(upstream_file.read_text(), str(upstream_file))
    assert loaded, f"{upstream_file.name} has no documents"
    for doc, _line in loaded:
        original = copy.deepcopy(doc)
        parsed = documents.parse_object(doc)
        assert parsed is not None, f"{upstream_file.name}: not recognised as a flagger.app object"
        assert parsed.to_manifest() == original
        assert doc == original, "parsing must not modify the input"


def test_upstream_manifest_survives_yaml_text(upstream_file: pathlib.Path) -> None:
    for doc, _line in documents.load_documents(upstream_file.read_text(), str(upstream_file)):
        text = yaml.safe_dump(_round_trip(doc), sort_keys=False)
        [(again, _)] = documents.load_documents(text, "dumped.yaml")
        assert again == doc


@_SETTINGS
@given(api_strategies.CANARIES)
def test_generated_canaries_round_trip(doc: dict[str, Any]) -> None:
    original = copy.deepcopy(doc)
    assert _round_trip(doc) == original


@_SETTINGS
@given(api_strategies.resources(canary.Canary))
def test_model_walk_canaries_round_trip(doc: dict[str, Any]) -> None:
    assert _round_trip(copy.deepcopy(doc)) == doc


@_SETTINGS
@given(api_strategies.resources(metric_template.MetricTemplate))
def test_generated_metric_templates_round_trip(doc: dict[str, Any]) -> None:
    assert _round_trip(copy.deepcopy(doc)) == doc


@_SETTINGS
@given(api_strategies.resources(alert_provider.AlertProvider))
def test_generated_alert_providers_round_trip(doc: dict[str, Any]) -> None:
    assert _round_trip(copy.deepcopy(doc)) == doc


@_SETTINGS
@given(api_strategies.CANARIES)
def test_generated_canaries_survive_yaml_and_json(doc: dict[str, Any]) -> None:
    manifest = _round_trip(copy.deepcopy(doc))
    [(from_yaml, line)] = documents.load_documents(yaml.safe_dump(manifest), "generated.yaml")
    assert line == 1
    assert _round_trip(from_yaml) == doc
    assert _round_trip(json.loads(json.dumps(manifest))) == doc


@_SETTINGS
@given(api_strategies.CANARIES)
def test_numbers_keep_their_type(doc: dict[str, Any]) -> None:
    """99 stays 99 and 99.5 stays 99.5: dumps print numbers the way the user wrote them."""
    assert json.dumps(_round_trip(copy.deepcopy(doc)), sort_keys=True) == json.dumps(
        doc, sort_keys=True
    )


def test_defaults_are_not_injected() -> None:
    doc = {
        "apiVersion": common.API_VERSION,
        "kind": "Canary",
        "metadata": {"name": "podinfo"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10},
        },
    }
    assert _round_trip(copy.deepcopy(doc)) == doc


def test_explicit_nulls_and_empty_values_round_trip() -> None:
    doc = {
        "apiVersion": common.API_VERSION,
        "kind": "Canary",
        "metadata": {"name": "podinfo", "labels": {}},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898, "gateways": [], "match": None},
            "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10, "metrics": []},
            "skipAnalysis": False,
        },
        "status": {"phase": "", "conditions": []},
    }
    assert _round_trip(copy.deepcopy(doc)) == doc


def test_deprecated_canary_analysis_round_trips_separately() -> None:
    legacy = {"interval": "30s", "threshold": 2, "iterations": 5}
    doc = {
        "apiVersion": "flagger.app/v1alpha3",
        "kind": "Canary",
        "metadata": {"name": "podinfo"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 80},
            "canaryAnalysis": legacy,
        },
    }
    parsed = documents.parse_object(copy.deepcopy(doc))
    assert isinstance(parsed, canary.Canary)
    assert parsed.spec.analysis is None
    assert parsed.spec.effective_analysis is parsed.spec.canary_analysis
    assert parsed.to_manifest() == doc


def test_objects_built_in_python_get_api_version_and_kind() -> None:
    spec = canary.CanarySpec.model_validate(
        {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}}
    )
    built = canary.Canary(metadata={"name": "app"}, spec=spec)
    assert built.to_manifest() == {
        "apiVersion": common.API_VERSION,
        "kind": "Canary",
        "metadata": {"name": "app"},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}},
    }


def test_snake_case_names_are_accepted_and_dumped_as_wire_names() -> None:
    ref = canary.TargetReference(api_version="apps/v1", kind="Deployment", name="app")
    assert ref.to_dict() == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}


@pytest.mark.parametrize(
    "doc",
    [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}},
        {"apiVersion": "flagger.app/v2", "kind": "Canary"},
        {"apiVersion": "flagger.app/v1beta1", "kind": "Canry"},
        ["not", "a", "mapping"],
        "text",
    ],
)
def test_other_documents_are_not_parsed(doc: Any) -> None:
    assert documents.parse_object(doc) is None
