"""Hypothesis strategies for flagger.app documents, derived from the models themselves.

:func:`documents_for` walks a model's ``model_fields`` (wire names, ``Literal`` enums, numeric
and string bounds from ``FieldInfo.metadata``, the CRD ``oneOf`` sets recorded in the model's
``json_schema_extra``) and draws raw documents the model accepts. Because the walk is driven by
the same metadata a CRD generator reads, these strategies also check that metadata is usable.
Hand-written strategies on top make sure the interesting parts of a Canary (analysis, metrics,
webhooks, alerts, autoscalerRef, status) appear in most examples.
"""

from __future__ import annotations

import enum
import functools
import re
import types
import typing
from typing import Any

import annotated_types
import pydantic
from hypothesis import strategies as st

from flagger.api import analysis, canary, common, istio_types, service, status

# Printable text without characters YAML treats specially at the edges.
_ALPHABET = st.characters(
    codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="\x85\u2028\u2029"
)
TEXT = st.text(_ALPHABET, max_size=12)
KEYS = st.text(_ALPHABET, min_size=1, max_size=10)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6), TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=2) | st.dictionaries(KEYS, children, max_size=2),
    max_leaves=4,
)
DURATIONS = st.builds(
    lambda amount, unit: f"{amount}{unit}", st.integers(0, 600), st.sampled_from(["s", "m"])
)


def _one_of_sets(model: type[pydantic.BaseModel]) -> list[list[str]] | None:
    extra = model.model_config.get("json_schema_extra")
    if isinstance(extra, dict):
        sets = extra.get(common.CRD_ONE_OF_KEY)
        if isinstance(sets, list):
            return [[str(name) for name in group] for group in sets if isinstance(group, list)]
    return None


def _valid(model: type[pydantic.BaseModel], doc: dict[str, Any]) -> bool:
    try:
        model.model_validate(doc)
    except pydantic.ValidationError:
        return False
    return True


@functools.cache
def documents_for(model: type[pydantic.BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Raw documents (wire names) that ``model`` accepts."""
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    sets = _one_of_sets(model)
    groups: list[list[str]] = sets if sets else [[]]
    grouped = {name for group in groups for name in group}

    @st.composite
    def draw(draw_: st.DrawFn) -> dict[str, Any]:
        chosen = set(draw_(st.sampled_from(groups)))
        doc: dict[str, Any] = {}
        for wire, info in fields.items():
            if wire in grouped and wire not in chosen and len(groups) > 1:
                continue
            strategy = _for_annotation(info.annotation, info.metadata)
            if info.is_required() or wire in chosen or draw_(st.booleans()):
                doc[wire] = draw_(strategy)
        return doc

    return draw().filter(functools.partial(_valid, model))


def _for_annotation(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    constraints = list(metadata)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return _for_annotation(base, [*constraints, *extra])
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(options) < len(typing.get_args(annotation))
        if len(options) == 1:
            inner = _for_annotation(options[0], constraints)
            return _nullable(inner) if nullable else inner
        choices = st.one_of(*(_for_annotation(o, constraints) for o in options))
        return _nullable(choices) if nullable else choices
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return st.lists(_for_annotation(item, []), max_size=_max_len(constraints, 2))
    if origin is dict:
        _, value = typing.get_args(annotation)
        return st.dictionaries(KEYS, _for_annotation(value, []), max_size=2)
    if annotation is Any:
        return JSON_VALUES
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from([member.value for member in annotation])
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return documents_for(annotation)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low, high = _bounds(constraints)
        return st.integers(low if low is not None else -1000, high if high is not None else 10**6)
    if annotation is float:
        return st.floats(-1e6, 1e6, allow_nan=False)
    if annotation is str:
        return _strings(constraints)
    raise AssertionError(f"no strategy for {annotation!r}")


def _nullable(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``inner``, and now and then an explicit ``null`` (which must round-trip too)."""
    return st.one_of(st.none(), inner, inner, inner)


def _bounds(constraints: list[Any]) -> tuple[int | None, int | None]:
    low = high = None
    for item in constraints:
        if isinstance(item, annotated_types.Ge):
            low = int(item.ge)  # type: ignore[call-overload]
        elif isinstance(item, annotated_types.Le):
            high = int(item.le)  # type: ignore[call-overload]
        elif isinstance(item, pydantic.fields.FieldInfo):
            sub_low, sub_high = _bounds(item.metadata)
            low = sub_low if sub_low is not None else low
            high = sub_high if sub_high is not None else high
    return low, high


def _max_len(constraints: list[Any], default: int) -> int:
    for item in constraints:
        if isinstance(item, annotated_types.MaxLen):
            return min(item.max_length, default)
    return default


def _strings(constraints: list[Any]) -> st.SearchStrategy[str]:
    for item in constraints:
        if isinstance(item, pydantic.StringConstraints):
            low = item.min_length or 0
            high = min(item.max_length or 20, 20)
            if item.pattern:
                pattern = str(item.pattern)
                return st.from_regex(pattern, fullmatch=True).filter(
                    functools.partial(_fits, pattern, low, high)
                )
            return st.text(_ALPHABET, min_size=low, max_size=high)
    return TEXT


def _fits(pattern: str, low: int, high: int, text: str) -> bool:
    return low <= len(text) <= high and re.fullmatch(pattern, text) is not None


# --- hand-written: documents with the interesting parts present ------------------------------

METADATA = st.fixed_dictionaries(
    {"name": st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)},
    optional={
        "namespace": st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
        "labels": st.dictionaries(KEYS, TEXT, max_size=2),
        "annotations": st.dictionaries(KEYS, TEXT, max_size=2),
    },
)


def _some(model: type[pydantic.BaseModel]) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(documents_for(model), min_size=1, max_size=3)


_ANALYSIS_REQUIRED: dict[str, st.SearchStrategy[Any]] = {
    "interval": DURATIONS,
    "threshold": st.integers(0, 20),
    "metrics": _some(analysis.CanaryMetric),
    "webhooks": _some(analysis.CanaryWebhook),
    "alerts": _some(analysis.CanaryAlert),
}
_ANALYSIS_OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "stepWeight": st.integers(0, 100),
    "maxWeight": st.integers(0, 100),
    "iterations": st.integers(0, 50),
    "stepWeights": st.lists(st.integers(1, 100), max_size=4),
    "mirror": st.booleans(),
    "match": st.lists(documents_for(istio_types.CanaryMatch), max_size=2),
    "sessionAffinity": documents_for(analysis.SessionAffinity),
}
ANALYSES = st.fixed_dictionaries(_ANALYSIS_REQUIRED, optional=_ANALYSIS_OPTIONAL)

_SPEC_REQUIRED: dict[str, st.SearchStrategy[Any]] = {
    "targetRef": documents_for(canary.TargetReference),
    "service": documents_for(service.CanaryService),
    "analysis": ANALYSES,
    "autoscalerRef": documents_for(canary.AutoscalerReference),
}
_SPEC_OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "provider": st.sampled_from(canary.PROVIDERS),
    "progressDeadlineSeconds": st.integers(0, 3600),
    "skipAnalysis": st.booleans(),
    "suspend": st.booleans(),
}
SPECS = st.fixed_dictionaries(_SPEC_REQUIRED, optional=_SPEC_OPTIONAL)

CANARIES = st.fixed_dictionaries(
    {
        "apiVersion": st.just(common.API_VERSION),
        "kind": st.just("Canary"),
        "metadata": METADATA,
        "spec": SPECS,
        "status": documents_for(status.CanaryStatus),
    }
)


def resources(model: type[common.Resource]) -> st.SearchStrategy[dict[str, Any]]:
    """Whole documents of a kind, every part drawn from the model walk."""
    spec_model = model.model_fields["spec"].annotation
    assert isinstance(spec_model, type) and issubclass(spec_model, pydantic.BaseModel)
    optional: dict[str, st.SearchStrategy[Any]] = {}
    status_annotation = model.model_fields["status"].annotation
    optional["status"] = _for_annotation(status_annotation, [])
    return st.fixed_dictionaries(
        {
            "apiVersion": st.sampled_from([common.API_VERSION, *common.LEGACY_API_VERSIONS]),
            "kind": st.just(model.KIND),
            "metadata": METADATA,
            "spec": documents_for(spec_model),
        },
        optional=optional,
    )
