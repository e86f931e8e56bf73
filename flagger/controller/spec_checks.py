"""A Canary's validation, done once per version of the object rather than on every tick.

An idle daemon ticks every Canary every ``analysis.interval`` and the spec rarely changes, so
the problems `flagger.api.validation.validate` finds are kept per Canary and reused while what
validation reads stays the same: the object's ``uid``, its ``generation`` (moved by every spec
change, not by status writes, which a rollout makes each tick) and its labels and annotations.
An object without a generation (never stored) is validated every time.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from flagger.api import problems as problems_api
from flagger.api import validation

__all__ = ["SpecChecks"]


class SpecChecks:
    """The problems of each Canary, by ``(namespace, name)``, for its current version."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], tuple[Hashable, list[problems_api.Problem]]] = {}
        self.validated = 0
        """How many times a Canary was actually validated (the rest were remembered)."""

    def problems(
        self, raw: Mapping[str, Any], known: validation.KnownNames
    ) -> list[problems_api.Problem]:
        """`validation.validate(raw, known)`, remembered for this version of the object."""
        meta = raw.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        version = _version(meta)
        held = self._found.get(key)
        if held is not None and version is not None and held[0] == version:
            return list(held[1])
        self.validated += 1
        found = validation.validate(raw, known)
        self._found[key] = (version, found)
        return list(found)

    def forget(self, namespace: str, name: str) -> None:
        """Drop what is kept for a Canary that is gone."""
        self._found.pop((namespace, name), None)


def _version(meta: Mapping[str, Any]) -> Hashable | None:
    """What validation reads besides the spec, and the generation standing for the spec."""
    generation = meta.get("generation")
    if not generation:
        return None
    try:
        return (
            meta.get("uid"),
            generation,
            frozenset((meta.get("labels") or {}).items()),
            frozenset((meta.get("annotations") or {}).items()),
        )
    except (AttributeError, TypeError):  # damaged metadata: validate, which names the problem
        return None
