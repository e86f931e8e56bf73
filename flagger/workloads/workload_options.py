"""Daemon-wide settings the workload controllers honour (Flagger's flags)."""

from __future__ import annotations

import dataclasses

__all__ = ["DEFAULT_SELECTOR_LABELS", "Options", "split_flag"]

#: `-selector-labels` default: the first of these found in the target's matchLabels is used.
DEFAULT_SELECTOR_LABELS: tuple[str, ...] = ("app", "name", "app.kubernetes.io/name")


def split_flag(value: str) -> tuple[str, ...]:
    """A comma-separated flag value as Go's `strings.Split` gives it ("" -> ("",))."""
    return tuple(part.strip() for part in value.split(","))


@dataclasses.dataclass(frozen=True)
class Options:
    """`-selector-labels`, `-include-label-prefix` and `-enable-config-tracking`.

    `include_label_prefixes` filters the labels copied from the target to the primary
    workload (and its annotations at promotion); "*" matches every key and an empty prefix
    none, so the default (flag unset, which Go splits into [""]) copies no label. Keys
    containing `toolkit.fluxcd.io` are always dropped.
    """

    selector_labels: tuple[str, ...] = DEFAULT_SELECTOR_LABELS
    include_label_prefixes: tuple[str, ...] = ("",)
    config_tracking: bool = True
