"""Rollback window: promote a revision that was promoted before without analysing it again.

An extension of Flagger's API (fluxcd/flagger#1800, #453; Argo Rollouts' ``rollbackWindow``),
set by an annotation of the Canary so that Flagger's CRD accepts the manifest unchanged::

    metadata:
      annotations:
        flagger.app/rollback-window: "3"

With a window of K, the daemon keeps the last K promoted revisions in
``status.promotedRevisions`` (oldest first). When the target changes to one of them (a
``kubectl rollout undo``), that version has already proven itself: the daemon promotes it at
once, skipping the analysis. Unset or ``"0"``: off, Flagger's behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ANNOTATION = "flagger.app/rollback-window"
PATH = f'metadata.annotations["{ANNOTATION}"]'
#: More than this many revisions is refused (the status keeps them all).
MAX_REVISIONS = 20


def revisions(metadata: Mapping[str, Any] | None) -> int:
    """The window K from a Canary's metadata (0: off); :class:`ValueError` naming the fix."""
    annotations = (metadata or {}).get("annotations")
    raw = annotations.get(ANNOTATION) if isinstance(annotations, Mapping) else None
    if raw is None:
        return 0
    text = str(raw).strip()
    if not text.isdigit():
        raise ValueError(
            f"{PATH}: {raw!r} is not a whole number; give how many promoted revisions to "
            f'remember, e.g. "3" (or "0" to turn the window off)'
        )
    value = int(text)
    if value > MAX_REVISIONS:
        raise ValueError(f"{PATH}: {value} is above {MAX_REVISIONS}; use {MAX_REVISIONS} or less")
    return value
