"""The generated CRDs: the committed file is current, the schemas are structural, and the
names, versions, subresources and printer columns are Flagger's (plus the older versions).

The API server's structural-schema rules are checked here without a server (every node typed,
no ``properties`` beside ``additionalProperties``, nothing typed or described inside ``oneOf`` /
``anyOf`` / ``not``, fields named there also named outside); ``tests/integration`` applies the
same file to a real API server.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger.api import alert_provider, canary, crds, metric_template

ROOT = pathlib.Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "deploy" / "crds" / "crds.yaml"
KINDS = ["Canary", "MetricTemplate", "AlertProvider"]
TYPES = {"object", "array", "string", "integer", "number", "boolean"}
JUNCTORS = ("oneOf", "anyOf", "allOf", "not")
#: What a node of our schemas may hold (a subset of apiextensions' JSONSchemaProps).
ALLOWED_KEYS = {
    "description",
    "type",
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "required",
    "properties",
    "additionalProperties",
    "items",
    *JUNCTORS,
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
    "default",
}
#: Not allowed inside a logical junctor (the API server's rule 3).
JUNCTOR_FORBIDDEN = {"description", "type", "default", "additionalProperties", "nullable"}


def structural_problems(node: dict[str, Any], path: str = "") -> list[str]:  # noqa: C901
    """Where ``node`` breaks the API server's rules for a structural schema (empty if none)."""
    problems = [f"{path}: unknown keyword {key!r}" for key in node if key not in ALLOWED_KEYS]
    open_node = node.get("x-kubernetes-int-or-string") or node.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if node.get("type") not in TYPES and not open_node:
        problems.append(f"{path}: no type (type {node.get('type')!r})")
    if node.get("x-kubernetes-int-or-string") and "type" in node:
        problems.append(f"{path}: int-or-string with a type")
    if node.get("x-kubernetes-preserve-unknown-fields") not in (None, True):
        problems.append(f"{path}: x-kubernetes-preserve-unknown-fields must be true")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties and additionalProperties together")
    if "additionalProperties" in node and not isinstance(node["additionalProperties"], dict):
        problems.append(f"{path}: additionalProperties must be a schema")
    if node.get("type") == "array" and not isinstance(node.get("items"), dict):
        problems.append(f"{path}: an array needs items")
    if node.get("type") != "object" and ("properties" in node or "required" in node):
        problems.append(f"{path}: properties or required on a {node.get('type')!r} node")
    for name in node.get("required", []):
        if name not in node.get("properties", {}):
            problems.append(f"{path}: required {name!r} is not a property")
    for name, sub in node.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        problems += structural_problems(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], f"{path}{{}}")
    for junctor in JUNCTORS:
        if junctor in node:
            branches = node[junctor] if isinstance(node[junctor], list) else [node[junctor]]
            for i, branch in enumerate(branches):
                problems += _junctor_problems(branch, node, f"{path}.{junctor}[{i}]")
    return problems


def _junctor_problems(branch: dict[str, Any], structural: dict[str, Any], path: str) -> list[str]:
    """Rules 2 and 3 inside ``oneOf``/``anyOf``/``allOf``/``not``: value validations only, on
    fields the structural part (``structural``) also specifies."""
    problems = [
        f"{path}: {key!r} inside a logical junctor" for key in branch if key in JUNCTOR_FORBIDDEN
    ]
    for name, sub in branch.get("properties", {}).items():
        outside = structural.get("properties", {}).get(name)
        if outside is None:
            problems.append(f"{path}.{name}: not specified outside the junctor")
        problems += _junctor_problems(sub, outside or {}, f"{path}.{name}")
    if "items" in branch:
        if not isinstance(structural.get("items"), dict):
            problems.append(f"{path}[]: items not specified outside the junctor")
        else:
            problems += _junctor_problems(branch["items"], structural["items"], f"{path}[]")
    for junctor in JUNCTORS:
        if junctor in branch:
            inner = branch[junctor] if isinstance(branch[junctor], list) else [branch[junctor]]
            for i, sub in enumerate(inner):
                problems += _junctor_problems(sub, structural, f"{path}.{junctor}[{i}]")
    return problems


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _schemas() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for crd in crds.all():
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            yield crd["spec"]["names"]["kind"], version["name"], schema


def test_committed_crds_are_the_generated_ones() -> None:
    assert COMMITTED.is_file(), "deploy/crds/crds.yaml is missing: run `make crds`"
    assert COMMITTED.read_text() == crds.render_all(), (
        "deploy/crds/crds.yaml differs from the models: run `make crds` and commit the result"
    )


def test_render_is_stable_and_says_it_is_generated() -> None:
    text = crds.render_all()
    assert text == crds.render_all()
    assert text.startswith("# Generated by `flagger crds`")
    assert "&id" not in text and "*id" not in text  # no YAML anchors: every schema in full
    documents = [d for d in yaml.safe_load_all(text) if d]
    assert [d["spec"]["names"]["kind"] for d in documents] == KINDS
    assert documents == crds.all()
    assert [crds.build(kind) for kind in KINDS] == crds.all()


def test_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="Canary, MetricTemplate, AlertProvider"):
        crds.build("Rollout")


@pytest.mark.parametrize(
    ("kind", "version", "schema"), list(_schemas()), ids=[f"{k}-{v}" for k, v, _ in _schemas()]
)
def test_schemas_are_structural(kind: str, version: str, schema: dict[str, Any]) -> None:
    assert structural_problems(schema, kind) == []
    assert schema["type"] == "object"
    assert schema["properties"]["metadata"] == {"type": "object"}


def test_the_structural_check_notices_violations() -> None:
    bad = {
        "type": "object",
        "properties": {
            "untyped": {"description": "no type"},
            "both": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            },
            "list": {"type": "array"},
            "choice": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "oneOf": [
                    {"required": ["a"], "description": "A"},
                    {"properties": {"b": {"type": "string"}}},
                ],
            },
            "ref": {"$ref": "#/definitions/x"},
        },
        "required": ["missing"],
    }
    problems = structural_problems(bad)
    expected = [
        ".untyped: no type (type None)",
        ".both: properties and additionalProperties together",
        ".list: an array needs items",
        ".choice.oneOf[0]: 'description' inside a logical junctor",
        ".choice.oneOf[1].b: not specified outside the junctor",
        ".choice.oneOf[1].b: 'type' inside a logical junctor",
        ".ref: unknown keyword '$ref'",
        ": required 'missing' is not a property",
    ]
    for problem in expected:
        assert problem in problems, problems


def test_no_defaults_anywhere() -> None:
    """The API server would inject them and manifests would not read back as written."""
    for kind, version, schema in _schemas():
        for node in _walk(schema):
            assert "default" not in node, f"{kind} {version}: {node}"


def test_free_form_objects_only_where_flagger_leaves_them_open() -> None:
    """Flagger's CRD keeps no unknown fields; neither do ours (MetricTemplate and AlertProvider
    status are not described, so the API server prunes them as it does for Flagger)."""
    for _, _, schema in _schemas():
        assert not any("x-kubernetes-preserve-unknown-fields" in n for n in _walk(schema))
    for kind in ("MetricTemplate", "AlertProvider"):
        assert "status" not in crds.schema(kind)["properties"]
    assert "status" in crds.schema("Canary")["properties"]


def test_versions_v1beta1_stored_older_ones_served_and_deprecated() -> None:
    for crd in crds.all():
        kind = crd["spec"]["names"]["kind"]
        versions = {v["name"]: v for v in crd["spec"]["versions"]}
        assert list(versions) == ["v1beta1", "v1alpha1", "v1alpha2", "v1alpha3"]
        assert [n for n, v in versions.items() if v["storage"]] == ["v1beta1"]
        assert all(v["served"] for v in versions.values())
        assert "deprecated" not in versions["v1beta1"]
        for name in ("v1alpha1", "v1alpha2", "v1alpha3"):
            version = versions[name]
            assert version["deprecated"] is True
            warning = version["deprecationWarning"]
            assert f"flagger.app/{name} {kind} is deprecated" in warning
            assert "use flagger.app/v1beta1" in warning
            assert len(warning) <= 256
            for key in ("schema", "subresources", "additionalPrinterColumns"):
                assert version[key] == versions["v1beta1"][key], (name, key)


def test_names_subresources_and_columns_are_flaggers(reference_crd: pathlib.Path) -> None:
    documents = yaml.safe_load_all(reference_crd.read_text())
    reference = {d["spec"]["names"]["kind"]: d for d in documents}
    for crd in crds.all():
        kind = crd["spec"]["names"]["kind"]
        theirs = reference[kind]
        assert crd["metadata"] == theirs["metadata"]
        assert crd["spec"]["names"] == theirs["spec"]["names"]
        assert "shortNames" not in crd["spec"]["names"]
        assert crd["spec"]["group"] == theirs["spec"]["group"]
        assert crd["spec"]["scope"] == theirs["spec"]["scope"]
        [their_version] = theirs["spec"]["versions"]
        ours = crd["spec"]["versions"][0]
        for key in ("name", "served", "storage", "subresources", "additionalPrinterColumns"):
            assert ours[key] == their_version[key], (kind, key)


def test_canary_columns_plain_and_wide() -> None:
    columns = crds.build("Canary")["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns if not c.get("priority")] == [
        "Status",
        "Weight",
        "LastTransitionTime",
    ]
    assert [c["name"] for c in columns if c.get("priority") == 1] == [
        "Suspended",
        "FailedChecks",
        "Interval",
        "Mirror",
        "StepWeight",
        "StepWeights",
        "MaxWeight",
    ]


BUILTIN_PROVIDERS = {
    "Canary": canary.PROVIDERS,
    "MetricTemplate": metric_template.PROVIDER_TYPES,
    "AlertProvider": alert_provider.PROVIDER_TYPES,
}


PROVIDER_PATHS = {
    "Canary": ["provider"],
    "MetricTemplate": ["provider", "type"],
    "AlertProvider": ["type"],
}


def _provider_node(kind: str) -> dict[str, Any]:
    node: dict[str, Any] = crds.schema(kind)["properties"]["spec"]
    for name in PROVIDER_PATHS[kind]:
        node = node["properties"][name]
    return node


@pytest.mark.parametrize("kind", KINDS)
def test_provider_names_are_checked_by_shape_not_by_enum(kind: str) -> None:
    node = _provider_node(kind)
    assert "enum" not in node
    assert node["pattern"] == crds.PROVIDER_NAME_PATTERN
    pattern = re.compile(node["pattern"])
    for name in BUILTIN_PROVIDERS[kind]:
        assert pattern.match(name), name
    for name in ("acme-mesh", "example.com/router", "acme:v2", "my_backend"):
        assert pattern.match(name), name
    for name in ("", "Istio", "bad name", "-istio", "istio-", "istio:", "slack\n"):
        assert not pattern.fullmatch(name), repr(name)
