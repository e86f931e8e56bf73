"""Replica-based canary weights for the ``kubernetes`` provider (no mesh needed).

An extension of Flagger's API (fluxcd/flagger#1136), set by a Canary annotation so that
Flagger's CRD accepts the manifest unchanged::

    metadata:
      annotations:
        flagger.app/replica-split-label: app.kubernetes.io/name

Plain Services cannot split traffic by weight, so the split is made by replica counts, as Argo
Rollouts does without traffic management: the apex Service selects the pods of *both*
workloads through a label their pod templates share (the annotation names it; the primary's
template is a copy of the target's, so every template label but the selector label is shared),
and for a weight w with N replicas in all, the canary runs ``ceil(N * w / 100)`` of them and
the primary the rest (at least one). The share each request sees is the replica ratio.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

ANNOTATION = "flagger.app/replica-split-label"
PATH = f'metadata.annotations["{ANNOTATION}"]'
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)


def split_label(metadata: Mapping[str, Any] | None) -> str | None:
    """The shared pod label key, or ``None`` when replica-based weights are off.

    Raises :class:`ValueError` naming the annotation and the fix.
    """
    annotations = (metadata or {}).get("annotations")
    raw = annotations.get(ANNOTATION) if isinstance(annotations, Mapping) else None
    if raw is None:
        return None
    text = str(raw).strip()
    if not text or len(text) > 316 or not _LABEL_KEY.match(text):
        raise ValueError(
            f"{PATH}: {raw!r} is not a label key; name a label of the target's pod template "
            "other than its selector label, e.g. app.kubernetes.io/name"
        )
    return text


def enabled(metadata: Mapping[str, Any] | None) -> bool:
    """Replica-based weights are on (a bad annotation, reported by validation, is off)."""
    try:
        return split_label(metadata) is not None
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class Split:
    """Replica counts for a weight; ``share`` is the canary's effective percentage."""

    primary: int
    canary: int

    @property
    def share(self) -> float:
        total = self.primary + self.canary
        return 100.0 * self.canary / total if total else 0.0


def split(total: int, weight: int) -> Split:
    """``total`` replicas split for a canary ``weight`` (0..100): the canary gets
    ``ceil(total * weight / 100)``, the primary keeps the rest and at least one replica."""
    if total <= 0:
        return Split(0, 0)
    canary = math.ceil(total * max(0, min(weight, 100)) / 100)
    canary = min(canary, total - 1) if total > 1 else 0
    return Split(total - canary, canary)
