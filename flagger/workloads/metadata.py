"""Labels, annotations, owner references and the selector label of generated workloads.

Flagger's rules, kept as pure functions on raw JSON:

- The selector label is the first of `-selector-labels` present in the target's
  `spec.selector.matchLabels`; the primary is selected by the same key with `<value>-primary`.
- Labels copied to the primary are filtered by `-include-label-prefix` (`*` copies all, an empty
  prefix none, so the unset flag copies no label); at promotion the primary's annotations are
  replaced by the target's, filtered the same way. Keys containing `toolkit.fluxcd.io` are
  dropped everywhere so Flux does not garbage-collect or fight over objects Flagger manages.
- The primary pod template gets a fresh `flagger-id` annotation on every copy, which forces a
  rolling update even when only a referenced ConfigMap changed.
- Everything generated is owned by the Canary (a controller reference), so deleting the Canary
  deletes it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flagger.api import canary as canary_api
from flagger.workloads import workload_errors

__all__ = [
    "FLAGGER_ID",
    "TOOLKIT_MARKER",
    "Metadata",
    "discover_ports",
    "filter_metadata",
    "include_labels_by_prefix",
    "make_annotations",
    "make_primary_labels",
    "owner_reference",
    "primary_name",
    "selector_label",
]

TOOLKIT_MARKER = "toolkit.fluxcd.io"
FLAGGER_ID = "flagger-id"
SIDECARS = frozenset({"istio-proxy", "envoy"})


@dataclasses.dataclass(frozen=True)
class Metadata:
    """What routers need from the target: the selector label, its value and extra ports."""

    label: str
    label_value: str
    ports: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def primary_label_value(self) -> str:
        return f"{self.label_value}-primary"


def primary_name(name: str) -> str:
    """`podinfo` -> `podinfo-primary`."""
    return f"{name}-primary"


def include_labels_by_prefix(
    labels: Mapping[str, str] | None, prefixes: Iterable[str]
) -> dict[str, str]:
    """Labels whose key starts with one of `prefixes`, no Flux keys (Go's
    `includeLabelsByPrefix`): "*" matches every key, an empty prefix none."""
    wanted = tuple(prefixes)
    return {
        key: value
        for key, value in (labels or {}).items()
        if TOOLKIT_MARKER not in key and any(p == "*" or (p and key.startswith(p)) for p in wanted)
    }


def filter_metadata(meta: Mapping[str, str] | None) -> dict[str, str]:
    """Labels or annotations without Flux ownership keys."""
    return {k: v for k, v in (meta or {}).items() if TOOLKIT_MARKER not in k}


def make_primary_labels(
    labels: Mapping[str, str] | None, label_value: str, label: str
) -> dict[str, str]:
    """`labels` without Flux keys, with the selector label set to the primary's value."""
    result = {k: v for k, v in (labels or {}).items() if TOOLKIT_MARKER not in k and k != label}
    result[label] = label_value
    return result


def make_annotations(annotations: Mapping[str, str] | None) -> dict[str, str]:
    """Pod template annotations for the primary: no Flux keys, and a fresh `flagger-id`."""
    result = {
        k: v for k, v in (annotations or {}).items() if TOOLKIT_MARKER not in k and k != FLAGGER_ID
    }
    result[FLAGGER_ID] = str(uuid.uuid4())
    return result


def owner_reference(canary: canary_api.Canary) -> dict[str, Any]:
    """A controller owner reference to the Canary (needs `metadata.uid`)."""
    uid = canary.metadata.get("uid")
    if not uid:
        raise workload_errors.WorkloadError(
            f"canary {canary.name}.{canary.namespace} has no metadata.uid (not read from the API?)"
        )
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": canary.name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def selector_label(workload: Mapping[str, Any], selector_labels: Iterable[str]) -> tuple[str, str]:
    """The first `-selector-labels` key in `spec.selector.matchLabels`, and its value."""
    labels = tuple(selector_labels)
    match_labels = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    for label in labels:
        if label in match_labels:
            return label, str(match_labels[label])
    meta = workload.get("metadata") or {}
    kind = str(workload.get("kind", "workload")).lower()
    return _raise(
        f"{kind} {meta.get('name')}.{meta.get('namespace')} spec.selector.matchLabels "
        f"must contain one of [{' '.join(labels)}]"
    )


def _raise(message: str) -> tuple[str, str]:
    raise workload_errors.WorkloadError(message)


def discover_ports(
    canary: canary_api.Canary, containers: Iterable[Mapping[str, Any]]
) -> dict[str, int]:
    """`portDiscovery`: every container port except the service port and mesh sidecars.

    Unnamed ports are called `tcp-<container>-<index>`, as Flagger does.
    """
    service = canary.spec.service
    if service is None or not service.port_discovery:
        return {}
    target_port = service.target_port
    ports: dict[str, int] = {}
    for container in containers:
        if container.get("name") in SIDECARS:
            continue
        for index, port in enumerate(container.get("ports") or []):
            number = int(port.get("containerPort", 0))
            if target_port in (None, 0, "0"):
                if number == service.port:
                    continue
            elif isinstance(target_port, int):
                if number == target_port:
                    continue
            elif port.get("name") == target_port:
                continue
            name = port.get("name") or f"tcp-{container.get('name')}-{index}"
            ports[str(name)] = number
    return ports
