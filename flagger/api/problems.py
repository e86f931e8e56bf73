"""Problems found in a manifest, phrased for the person who wrote it.

A :class:`Problem` names the field by its wire path (``spec.analysis.stepWeights``,
``spec.analysis.metrics[0].interval``) and says what is wrong and how to fix it; its
``message`` starts with that path so it can be printed as is. :func:`from_validation_error`
turns pydantic's errors into problems, with camelCase paths and plain-language fixes.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import pydantic

Severity = Literal["error", "warning", "note"]
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One finding: ``path`` in wire names, a ``message`` starting with the path, a severity.

    Errors make the object unusable (the API server or Flagger would reject it); warnings
    point at deprecated or ignored settings; notes explain an extension of Flagger's API that
    the object uses (Flagger (Go) ignores it).
    """

    path: str
    message: str
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        """True for errors, False for warnings."""
        return self.severity == "error"

    def __str__(self) -> str:
        return self.message


def error(path: str, text: str) -> Problem:
    """An error at ``path``; ``text`` says what is wrong and the fix."""
    return Problem(path, f"{path or 'document'}: {text}", "error")


def warning(path: str, text: str) -> Problem:
    """A warning at ``path``; ``text`` says what is wrong and the fix."""
    return Problem(path, f"{path or 'document'}: {text}", "warning")


def note(path: str, text: str) -> Problem:
    """A note at ``path``: what an extension of Flagger's API will do with this object."""
    return Problem(path, f"{path or 'document'}: {text}", "note")


def join_path(parts: Iterable[str | int]) -> str:
    """Format a location as ``a.b[0].c``; map keys that are not plain names use ``["key"]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _SIMPLE_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text


def from_validation_error(
    exc: pydantic.ValidationError, model: type[pydantic.BaseModel], prefix: Sequence[str | int] = ()
) -> list[Problem]:
    """Convert pydantic's errors for ``model`` into problems (paths under ``prefix``)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for item in exc.errors(include_url=False):
        loc = [*prefix, *item["loc"]]
        problem = _convert(item, loc, model, len(prefix))
        if problem.message not in seen:
            seen.add(problem.message)
            problems.append(problem)
    return problems


def _convert(
    item: Any, loc: list[str | int], model: type[pydantic.BaseModel], skip: int
) -> Problem:
    kind: str = item["type"]
    value = item.get("input")
    ctx: dict[str, Any] = item.get("ctx") or {}
    if loc and loc[-1] == "[key]":
        return error(join_path(loc[:-2]), f"map keys must be strings, got {show_value(loc[-2])}")
    path = join_path(loc)
    if kind == "missing":
        name = loc[-1] if loc else "it"
        return error(path, f"required field is missing; add {name}")
    if kind == "extra_forbidden":
        return error(path, _unknown_field(model, loc[skip:]))
    text = _TYPE_FIXES.get(kind)
    if text is not None:
        fields = {
            "value": show_value(value),
            "hint": _number_hint(value),
            "quoted": _as_text(value),
        }
        return error(path, text.format(**fields, **ctx))
    if kind in ("literal_error", "enum"):
        return error(path, _choice(value, str(ctx.get("expected", ""))))
    if kind == "value_error":
        return error(path, str(item["msg"]).removeprefix("Value error, "))
    return error(path, f"{item['msg']}, got {show_value(value)}")


_TYPE_FIXES: dict[str, str] = {
    "string_type": 'expected a string, got {value}; quote it, e.g. "{quoted}"',
    "bool_type": "expected true or false, got {value}; write true or false without quotes",
    "int_type": "expected a whole number, got {value}{hint}",
    "int_from_float": "expected a whole number, got {value}; round it, e.g. 5",
    "int_parsing": "expected a whole number, got {value}{hint}",
    "float_type": "expected a number, got {value}{hint}",
    "dict_type": "expected a mapping (key: value lines), got {value}; write it as key: value pairs",
    "model_type": "expected a mapping of fields, got {value}; write it as key: value lines",
    "model_attributes_type": "expected a mapping of fields, got {value}; write key: value lines",
    "list_type": "expected a list, got {value}; write it as a YAML list (lines starting with -)",
    "greater_than_equal": "must be at least {ge}, got {value}; use a value of {ge} or more",
    "greater_than": "must be more than {gt}, got {value}; use a larger value",
    "less_than_equal": "must be at most {le}, got {value}; use a value of {le} or less",
    "less_than": "must be less than {lt}, got {value}; use a smaller value",
    "string_too_short": "must be at least {min_length} characters long, got {value}",
    "string_too_long": "must be at most {max_length} characters long, got {value}; shorten it",
    "string_pattern_mismatch": "got {value}, which does not match {pattern}; fix the value",
    "too_long": "has too many items (at most {max_length}), got {actual_length}; remove some",
    "too_short": "has too few items (at least {min_length}), got {actual_length}; add some",
}


def _number_hint(value: Any) -> str:
    """Advice for a number field: unquote a quoted number, else write a plain number."""
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value.strip()):
        return f"; write it without quotes: {value.strip()}"
    if isinstance(value, float) and math.isfinite(value):
        return f"; use a whole number, e.g. {round(value)}"
    return "; write a plain number such as 5"


def _as_text(value: Any) -> str:
    """How a scalar reads as text, for advice to quote it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return str(value)
    return "text"


def show_value(value: Any) -> str:
    """A wrong value with its kind, for messages: ``'5' (a string)``, ``a list``."""
    kind = {dict: "a mapping", list: "a list", bool: "a boolean", str: "a string"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
    if isinstance(value, dict | list):
        return kind
    return f"{value!r} ({kind})"


def _choice(value: Any, expected: str) -> str:
    options = re.findall(r"'([^']*)'", expected)
    text = f"must be one of {expected}, got {show_value(value)}"
    if isinstance(value, str):
        close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
        if close:
            return f"{text}; did you mean '{close[0]}'?"
    return f"{text}; use one of the listed values"


def _unknown_field(model: type[pydantic.BaseModel], loc: Sequence[str | int]) -> str:
    name = str(loc[-1]) if loc else ""
    owner = _model_at(model, loc[:-1])
    if owner is None:
        return "unknown field; remove it or check its spelling"
    known = sorted(f.alias or n for n, f in owner.model_fields.items())
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown field; did you mean {close[0]}? Fix the spelling or remove it"
    return f"unknown field; remove it or use one of: {', '.join(known)}"


def _model_at(
    model: type[pydantic.BaseModel], loc: Sequence[str | int]
) -> type[pydantic.BaseModel] | None:
    """The model class found by following ``loc`` (wire names, indices, map keys) from ``model``."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
            found = [f for n, f in current.model_fields.items() if part in (n, f.alias)]
            if not found:
                return None
            current = found[0].annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin is list and args:
            current = args[0]
        elif origin is dict and len(args) == 2:
            current = args[1]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
        return current
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation
