"""The models describe every field of Flagger's CRDs with the same wire names and types.

Walks the reference CRD's ``openAPIV3Schema`` beside ``model_json_schema(by_alias=True)`` (what
a CRD generator starts from) and compares names, types, enums, bounds, patterns, defaults,
``required`` and ``oneOf``; and checks every model field carries a description.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pydantic
import pytest
import yaml

from flagger.api import alert_provider, canary, common, metric_template

MODELS: dict[str, type[common.Resource]] = {
    "Canary": canary.Canary,
    "MetricTemplate": metric_template.MetricTemplate,
    "AlertProvider": alert_provider.AlertProvider,
}
# Fields the models have beyond the CRD, on purpose.
EXTRA_FIELDS = {
    "Canary.spec.canaryAnalysis",  # the deprecated alias of analysis (pruned by upstream's CRD)
    "MetricTemplate.status",  # Flagger's Go types have a status the CRD does not describe
    "AlertProvider.status",
    "Canary.status.paused",  # operating by hand (flagger pause/resume), docs/operating-by-hand.md
    "Canary.status.lastAction",  # the last flagger.app/action request and its outcome
    "Canary.status.promotedRevisions",  # rollback window (extension), docs/rollback-window.md
    "Canary.status.lastCheckTime",  # no step before analysis.interval across restarts (extension)
}
# Enum values the models accept beyond the CRD, on purpose.
EXTRA_ENUM_VALUES = {
    "Canary.spec.targetRef.kind": {"StatefulSet"},  # StatefulSet targets, docs/statefulset.md
}
# Keywords compared verbatim when the CRD states them.
KEYWORDS = ("pattern", "default", "maxItems", "maxLength", "minLength", "minimum", "maximum")


def _crd_schemas(path: pathlib.Path) -> dict[str, dict[str, Any]]:
    schemas = {}
    for doc in yaml.safe_load_all(path.read_text()):
        names = doc["spec"]["names"]
        [version] = doc["spec"]["versions"]
        schemas[names["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline ``$ref`` and drop the ``null`` branch of optional fields."""
    outer = {k: v for k, v in node.items() if k not in ("anyOf", "$ref")}
    if "anyOf" in node:
        rest = [branch for branch in node["anyOf"] if branch != {"type": "null"}]
        if len(rest) == 1:
            return {**_resolve(rest[0], defs), **outer}
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return {**_resolve(target, defs), **outer}
    return node


def _one_of_sets(crd: dict[str, Any]) -> set[frozenset[str]]:
    sets = set()
    for branch in crd["oneOf"]:
        sets.add(frozenset(branch.get("required", [])))
    return sets


def _compare(  # noqa: C901
    path: str, crd: dict[str, Any], ours: dict[str, Any], defs: dict[str, Any]
) -> list[str]:
    issues: list[str] = []
    ours = _resolve(ours, defs)
    if crd.get("x-kubernetes-int-or-string"):
        if not ours.get("x-kubernetes-int-or-string"):
            issues.append(f"{path}: should be int-or-string")
        return issues
    crd_type = crd.get("type", "object" if "properties" in crd else None)
    if crd_type is not None and ours.get("type") != crd_type:
        issues.append(f"{path}: type {ours.get('type')!r}, CRD says {crd_type!r}")
    if "enum" in crd:
        const = [ours["const"]] if "const" in ours else []  # one-value Literal
        enum = ours.get("enum") or const or ours.get(common.BUILTIN_ENUM_KEY) or []
        if set(enum) - EXTRA_ENUM_VALUES.get(path, set()) != set(crd["enum"]):
            issues.append(f"{path}: enum {sorted(enum)}, CRD says {sorted(crd['enum'])}")
    for keyword in KEYWORDS:
        if keyword in crd and ours.get(keyword) != crd[keyword]:
            issues.append(f"{path}: {keyword} {ours.get(keyword)!r}, CRD says {crd[keyword]!r}")
    if crd.get("format") in ("int32", "date-time", "url") and ours.get("format") != crd["format"]:
        issues.append(f"{path}: format {ours.get('format')!r}, CRD says {crd['format']!r}")
    if "oneOf" in crd:
        mine = {frozenset(s) for s in ours.get(common.CRD_ONE_OF_KEY, [])}
        if mine != _one_of_sets(crd):
            issues.append(f"{path}: oneOf {mine}, CRD says {_one_of_sets(crd)}")
    required = set(ours.get("required", [])) | set(ours.get(common.CRD_REQUIRED_KEY, []))
    for name in crd.get("required", []):
        if crd_type == "object" and name not in required:
            issues.append(f"{path}.{name}: required by the CRD, not by the model")
    properties = ours.get("properties", {})
    for name, sub in crd.get("properties", {}).items():
        if name not in properties:
            issues.append(f"{path}.{name}: missing from the model")
        else:
            issues += _compare(f"{path}.{name}", sub, properties[name], defs)
    if "properties" in crd:
        for name in properties:
            if name not in crd["properties"] and f"{path}.{name}" not in EXTRA_FIELDS:
                issues.append(f"{path}.{name}: not in the CRD")
    if "items" in crd:
        issues += _compare(f"{path}[]", crd["items"], ours.get("items", {}), defs)
    if isinstance(crd.get("additionalProperties"), dict):
        sub = ours.get("additionalProperties")
        if not isinstance(sub, dict):
            issues.append(f"{path}: should be a map")
        else:
            issues += _compare(f"{path}{{}}", crd["additionalProperties"], sub, defs)
    return issues


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_models_match_reference_crd(kind: str, reference_crd: pathlib.Path) -> None:
    crd = _crd_schemas(reference_crd)[kind]
    ours = MODELS[kind].model_json_schema(by_alias=True)
    issues = _compare(kind, crd, ours, ours.get("$defs", {}))
    assert issues == []


def _all_models() -> set[type[pydantic.BaseModel]]:
    found: set[type[pydantic.BaseModel]] = set()
    pending: list[Any] = list(MODELS.values())
    while pending:
        model = pending.pop()
        if model in found:
            continue
        found.add(model)
        for info in model.model_fields.values():
            pending += [t for t in _types_in(info.annotation) if t not in found]
    return found


def _types_in(annotation: Any) -> list[type[pydantic.BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [t for arg in getattr(annotation, "__args__", ()) for t in _types_in(arg)]


def test_every_field_has_a_description_and_a_camel_case_alias() -> None:
    models = _all_models()
    assert len(models) > 40
    for model in models:
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"
            wire = info.alias or name
            assert "_" not in wire, f"{model.__name__}.{name} has wire name {wire!r}"
            assert model.model_config.get("populate_by_name"), model.__name__


def test_spec_models_forbid_unknown_fields() -> None:
    for model in _all_models():
        assert model.model_config.get("extra") == "forbid", model.__name__


def test_the_comparison_notices_differences(reference_crd: pathlib.Path) -> None:
    crd = _crd_schemas(reference_crd)["AlertProvider"]
    spec = crd["properties"]["spec"]
    spec["properties"]["chanel"] = {"type": "string"}
    spec["properties"]["username"] = {"type": "boolean"}
    spec["properties"]["type"]["enum"] = ["slack"]
    ours = alert_provider.AlertProvider.model_json_schema(by_alias=True)
    issues = _compare("AlertProvider", crd, ours, ours["$defs"])
    assert any("spec.chanel: missing from the model" in issue for issue in issues)
    assert any("spec.username: type 'string', CRD says 'boolean'" in issue for issue in issues)
    assert any("spec.type: enum" in issue for issue in issues)
    assert any("spec.channel: not in the CRD" in issue for issue in issues) is False
