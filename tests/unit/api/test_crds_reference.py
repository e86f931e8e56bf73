"""Our generated CRD schemas against Flagger v1.44's, field by field.

Both schemas are walked in parallel. At every node the validation keywords must agree: type,
meaningful formats, enums, patterns, bounds, item and length limits, the effective ``required``
list, the ``oneOf``/``anyOf``/``not`` structure, int-or-string and preserve-unknown-fields flags,
CEL rules and defaults; and both must name the same properties. Every deliberate difference is
listed in :data:`ALLOWED` with its reason; any other difference fails with its path.
Descriptions are not compared: ours are the models' (which fix a few of Flagger's typos).
"""

from __future__ import annotations

import copy
import json
import pathlib
import re
from typing import Any

import pytest
import yaml

from flagger.api import crds

_PROVIDER = "provider names admit third-party plugins: a shape pattern instead of Flagger's enum"
_DEFAULT = (
    "no defaults in our CRD: the API server would inject them and manifests would not "
    "read back as written; the daemon applies Flagger's defaults (effective_*)"
)
#: (path, keyword) -> why our CRD differs there from Flagger's. ``property`` stands for a
#: property one side has and the other has not.
ALLOWED: dict[tuple[str, str], str] = {
    ("Canary.spec.provider", "enum"): _PROVIDER,
    ("Canary.spec.provider", "pattern"): _PROVIDER,
    ("MetricTemplate.spec.provider.type", "enum"): _PROVIDER,
    ("MetricTemplate.spec.provider.type", "pattern"): _PROVIDER,
    ("AlertProvider.spec.type", "enum"): _PROVIDER,
    ("AlertProvider.spec.type", "pattern"): _PROVIDER,
    ("Canary.spec.analysis.sessionAffinity.maxAge", "default"): _DEFAULT,
    ("Canary.spec.service.gatewayRefs[].group", "default"): _DEFAULT,
    ("Canary.spec.service.gatewayRefs[].kind", "default"): _DEFAULT,
    ("Canary.spec.service.mirror[].backendRef.group", "default"): _DEFAULT,
    ("Canary.spec.service.mirror[].backendRef.kind", "default"): _DEFAULT,
    ("Canary.spec.service.mirror[].backendRef", "x-kubernetes-validations"): (
        "Gateway API's rule reads group and kind after defaulting; without defaults ours reads an "
        'absent group as "" and an absent kind as Service, so it accepts and rejects the same'
    ),
    ("Canary.spec.canaryAnalysis", "property"): (
        "the deprecated alias of analysis, described so the API server does not prune it"
    ),
    ("Canary.spec.targetRef.kind", "enum"): (
        "StatefulSet targets (an extension); Flagger's CRD refuses kind StatefulSet"
    ),
    ("Canary.status.lastCheckTime", "property"): (
        "the time of the last analysis check (an extension), so a restarted daemon never runs "
        "the next step before analysis.interval; Flagger's CRD prunes it"
    ),
    ("Canary.status.paused", "property"): (
        "operating by hand (an extension): flagger pause/resume, docs/operating-by-hand.md"
    ),
    ("Canary.status.lastAction", "property"): (
        "operating by hand (an extension): the last flagger.app/action request and its outcome"
    ),
    ("Canary.status.promotedRevisions", "property"): (
        "the rollback window's memory (an extension): the last promoted revisions, kept only "
        "with the flagger.app/rollback-window annotation; Flagger's CRD prunes it"
    ),
    ("Canary.spec.service.mirror", "required"): (
        "Flagger puts required: [backendRef] on the array, where it checks nothing; ours puts it "
        "on the items, where Gateway API (and our model) require it"
    ),
    ("Canary.spec.service.mirror[]", "required"): (
        "Flagger puts required: [backendRef] on the array, where it checks nothing; ours puts it "
        "on the items, where Gateway API (and our model) require it"
    ),
}
#: Compared as they are.
KEYWORDS = (
    "type",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "default",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
)
JUNCTORS = ("oneOf", "anyOf", "allOf", "not")


def _reference(path: pathlib.Path) -> dict[str, dict[str, Any]]:
    return {d["spec"]["names"]["kind"]: d for d in yaml.safe_load_all(path.read_text()) if d}


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _format(node: dict[str, Any]) -> str | None:
    """The format, ignoring ``format: string`` (no format at all in OpenAPI)."""
    value = node.get("format")
    return None if value == "string" else value


def _type(node: dict[str, Any]) -> str | None:
    if "type" in node:
        return str(node["type"])
    return "object" if "properties" in node else None


def _required(node: dict[str, Any]) -> set[str]:
    """The names an object must have: ``required`` and those every ``oneOf`` branch requires."""
    names = set(node.get("required", []))
    branches = node.get("oneOf", [])
    if branches and _type(node) == "object":
        names |= set.intersection(*(set(b.get("required", [])) for b in branches))
    return names


def _junctor_form(node: Any) -> Any:
    """A comparable form of a junctor branch: ``required`` lists as sets, nested the same."""
    if isinstance(node, dict):
        return {k: sorted(v) if k == "required" else _junctor_form(v) for k, v in node.items()}
    if isinstance(node, list):
        return sorted((_junctor_form(v) for v in node), key=json.dumps)
    return node


def compare(path: str, theirs: dict[str, Any], ours: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Differences as ``(path, keyword, what)``, Flagger's CRD ``theirs`` against ``ours``."""
    found: list[tuple[str, str, str]] = []

    def differ(keyword: str, mine: Any, upstream: Any) -> None:
        if mine != upstream:
            found.append((path, keyword, f"ours {mine!r}, Flagger's {upstream!r}"))

    differ("type", _type(ours), _type(theirs))
    for keyword in KEYWORDS[1:]:
        differ(keyword, ours.get(keyword), theirs.get(keyword))
    differ("format", _format(ours), _format(theirs))
    if _type(theirs) == "object" or _type(ours) == "object":
        differ("required", sorted(_required(ours)), sorted(_required(theirs)))
    else:
        differ("required", ours.get("required"), theirs.get("required"))
    for junctor in JUNCTORS:
        differ(junctor, _junctor_form(ours.get(junctor)), _junctor_form(theirs.get(junctor)))

    mine, upstream = ours.get("properties", {}), theirs.get("properties", {})
    for name in upstream.keys() - mine.keys():
        found.append((f"{path}.{name}", "property", "in Flagger's CRD, not in ours"))
    for name in mine.keys() - upstream.keys():
        found.append((f"{path}.{name}", "property", "in ours, not in Flagger's CRD"))
    for name in upstream.keys() & mine.keys():
        found += compare(f"{path}.{name}", upstream[name], mine[name])
    for key, suffix in (("items", "[]"), ("additionalProperties", "{}")):
        if isinstance(theirs.get(key), dict) or isinstance(ours.get(key), dict):
            if not (isinstance(theirs.get(key), dict) and isinstance(ours.get(key), dict)):
                found.append((path, key, "only one side has it"))
            else:
                found += compare(f"{path}{suffix}", theirs[key], ours[key])
    return found


def _unexpected(found: list[tuple[str, str, str]]) -> list[str]:
    return [f"{p}: {k}: {what}" for p, k, what in found if (p, k) not in ALLOWED]


@pytest.mark.parametrize("kind", ["Canary", "MetricTemplate", "AlertProvider"])
def test_schema_matches_flaggers_field_by_field(kind: str, reference_crd: pathlib.Path) -> None:
    theirs = _schema(_reference(reference_crd)[kind])
    found = compare(kind, theirs, crds.schema(kind))
    assert _unexpected(found) == []


def test_every_allowed_difference_is_still_there(reference_crd: pathlib.Path) -> None:
    """The list stays exact: an allowance nothing needs any more is removed."""
    reference = _reference(reference_crd)
    found = {
        (path, keyword)
        for kind, crd in reference.items()
        for path, keyword, _ in compare(kind, _schema(crd), crds.schema(kind))
    }
    assert sorted(set(ALLOWED) - found) == []


def test_provider_enums_of_flagger_match_our_pattern(reference_crd: pathlib.Path) -> None:
    pattern = re.compile(crds.PROVIDER_NAME_PATTERN)
    reference = _reference(reference_crd)
    paths = {
        "Canary": ["provider"],
        "MetricTemplate": ["provider", "type"],
        "AlertProvider": ["type"],
    }
    checked = 0
    for kind, names in paths.items():
        node = _schema(reference[kind])["properties"]["spec"]
        for name in names:
            node = node["properties"][name]
        for value in node["enum"]:
            assert pattern.fullmatch(value), f"{kind} {'.'.join(names)}: {value!r}"
            checked += 1
    assert checked == 19 + 11 + 5
    for value in ("appmesh:v1beta2", "gatewayapi:v1beta1", "smi:v1alpha3"):
        assert pattern.fullmatch(value)


def test_the_comparison_notices_differences(reference_crd: pathlib.Path) -> None:
    theirs = copy.deepcopy(_schema(_reference(reference_crd)["Canary"]))
    spec = theirs["properties"]["spec"]
    analysis = spec["properties"]["analysis"]
    analysis["properties"]["stepWeight"]["type"] = "integer"
    analysis["properties"]["interval"]["pattern"] = "^[0-9]+(h|m|s)"
    analysis["oneOf"].pop()
    spec["properties"]["autoscalerRef"]["properties"]["primaryScalerReplicas"]["properties"][
        "minReplicas"
    ]["minimum"] = 0
    spec["properties"]["service"]["properties"]["gatewayRefs"]["maxItems"] = 16
    spec["properties"]["service"]["properties"]["targetPort"] = {"type": "string"}
    spec["properties"]["service"]["required"] = ["port", "name"]
    spec["properties"]["revision"] = {"type": "string"}
    del spec["properties"]["suspend"]
    lb = spec["properties"]["service"]["properties"]["trafficPolicy"]["properties"]["loadBalancer"]
    lb["oneOf"][1]["properties"]["consistentHash"]["oneOf"].pop()
    problems = _unexpected(compare("Canary", theirs, crds.schema("Canary")))
    prefix = "Canary.spec"
    for expected in (
        f"{prefix}.analysis.stepWeight: type: ours 'number', Flagger's 'integer'",
        f"{prefix}.analysis.interval: pattern:",
        f"{prefix}.analysis: oneOf:",
        f"{prefix}.autoscalerRef.primaryScalerReplicas.minReplicas: minimum: ours 1, Flagger's 0",
        f"{prefix}.service.gatewayRefs: maxItems: ours 32, Flagger's 16",
        f"{prefix}.service.targetPort: x-kubernetes-int-or-string: ours True, Flagger's None",
        f"{prefix}.service.targetPort: type: ours None, Flagger's 'string'",
        f"{prefix}.service: required: ours ['port'], Flagger's ['name', 'port']",
        f"{prefix}.revision: property: in Flagger's CRD, not in ours",
        f"{prefix}.suspend: property: in ours, not in Flagger's CRD",
        f"{prefix}.service.trafficPolicy.loadBalancer: oneOf:",
    ):
        assert any(p.startswith(expected) for p in problems), (expected, problems)
    assert len(problems) == 11, problems  # targetPort: its type and int-or-string
