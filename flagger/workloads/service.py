"""Plain ``Service`` targets (``targetRef.kind: Service``), as Flagger's ``ServiceController``.

The target is a Service, not pods: a router (Gateway API, Istio, ...) shifts traffic between
``<svc>-primary`` and ``<svc>-canary``, two copies of the target Service this controller keeps.

- **Initialisation** creates ``<svc>-primary`` once (a copy of the target's spec) and keeps
  ``<svc>-canary`` equal to the target's spec (written only when it differs); the copies are
  owned by the Canary, keep their own ClusterIP, and never carry kubectl's
  last-applied-configuration. ``spec.service.trafficDistribution`` is set on both.
- **The revision** is the hash of the target's ``spec``; there are no tracked configs.
- **Promotion** copies the target's spec into the primary; its labels and annotations are
  replaced by the target's, filtered by ``-include-label-prefix``.
- There is nothing to scale and nothing to wait for: readiness is always ready, scaling and
  autoscalers are no-ops, and the apex/primary/canary Service router does nothing (the target
  is the apex).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from flagger.api import canary as canary_api
from flagger.workloads import (
    contract,
    controller_core,
    metadata,
    readiness,
    revision,
    workload_errors,
)

__all__ = ["ServiceController"]

KIND = "Service"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_ASSIGNED = ("clusterIP", "clusterIPs")


class ServiceController(controller_core.UnscaledController):
    """Flagger's workload controller for ``Service`` targets."""

    async def _get(self, name: str, namespace: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self.reader.get("v1", KIND, name, namespace)
        return found

    async def get_target(self, canary: canary_api.Canary) -> dict[str, Any]:
        """The target Service; `WorkloadError` when it does not exist."""
        name = canary.spec.target_ref.name
        found = await self._get(name, canary.namespace)
        if found is None:
            raise workload_errors.WorkloadError(
                f'service {name}.{canary.namespace} get query error: services "{name}" not found'
            )
        return found

    async def get_metadata(self, canary: canary_api.Canary) -> metadata.Metadata:
        return metadata.Metadata("", "")

    async def initialize(self, canary: canary_api.Canary) -> contract.Initialization:
        target = await self.get_target(canary)
        name = canary.spec.target_ref.name
        lines: list[str] = []
        canary_name = f"{name}-canary"
        existing = await self._get(canary_name, canary.namespace)
        wanted = self._copy(canary, canary_name, target, existing)
        if existing is None:
            await self.kube.create(wanted)
            lines.append(f"Service {canary_name}.{canary.namespace} created")
        elif _comparable(existing) != _comparable(wanted):
            wanted["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            await self.kube.replace(wanted)
            lines.append(f"Service {canary_name}.{canary.namespace} updated")
        primary_name = metadata.primary_name(name)
        created = False
        if await self._get(primary_name, canary.namespace) is None:
            await self.kube.create(self._copy(canary, primary_name, target, None))
            lines.append(f"Service {primary_name}.{canary.namespace} created")
            created = True
        return contract.Initialization(created, readiness.Readiness.ok(), tuple(lines))

    def _copy(
        self,
        canary: canary_api.Canary,
        name: str,
        source: Mapping[str, Any],
        existing: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """Flagger's ``buildService``: the source's labels, annotations (no last-applied) and
        spec, owned by the Canary; a ClusterIP Service keeps the IP it was given."""
        meta = source.get("metadata") or {}
        spec = copy.deepcopy(dict(source.get("spec") or {}))
        for key in _ASSIGNED:
            spec.pop(key, None)
        if existing is not None and spec.get("type", "ClusterIP") == "ClusterIP":
            for key in _ASSIGNED:
                if (existing.get("spec") or {}).get(key) is not None:
                    spec[key] = existing["spec"][key]
        service = canary.spec.service
        if service is not None and service.traffic_distribution:
            spec["trafficDistribution"] = service.traffic_distribution
        return {
            "apiVersion": "v1",
            "kind": KIND,
            "metadata": {
                "name": name,
                "namespace": canary.namespace,
                "labels": dict(meta.get("labels") or {}),
                "annotations": {
                    k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED
                },
                "ownerReferences": [metadata.owner_reference(canary)],
            },
            "spec": spec,
        }

    async def is_primary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        return readiness.Readiness.ok()

    async def is_canary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        return readiness.Readiness.ok()

    async def promote(self, canary: canary_api.Canary) -> contract.Promotion:
        target = await self.get_target(canary)
        primary_name = metadata.primary_name(canary.spec.target_ref.name)
        primary = await self._get(primary_name, canary.namespace)
        if primary is None:
            raise workload_errors.WorkloadError(
                f"service {primary_name}.{canary.namespace} get query error: services "
                f'"{primary_name}" not found'
            )
        wanted = self._copy(canary, primary_name, target, primary)
        prefixes = self.options.include_label_prefixes
        target_meta = target.get("metadata") or {}
        wanted["metadata"]["labels"] = metadata.include_labels_by_prefix(
            target_meta.get("labels"), prefixes
        )
        wanted["metadata"]["annotations"] = metadata.include_labels_by_prefix(
            target_meta.get("annotations"), prefixes
        )
        wanted["metadata"]["resourceVersion"] = primary["metadata"]["resourceVersion"]
        await self.kube.replace(wanted)
        return contract.Promotion(primary_name, ())

    async def revision(self, canary: canary_api.Canary) -> contract.Revision:
        target = await self.get_target(canary)
        return contract.Revision(revision.template_hash(target.get("spec") or {}), {})

    async def primary_matches_target(self, canary: canary_api.Canary) -> bool:
        target = await self.get_target(canary)
        primary = await self._get(
            metadata.primary_name(canary.spec.target_ref.name), canary.namespace
        )
        if primary is None:
            return False
        return _spec(primary) == _spec(target)


def _spec(service: Mapping[str, Any]) -> dict[str, Any]:
    found = {k: v for k, v in (service.get("spec") or {}).items() if k not in _ASSIGNED}
    return found


def _comparable(service: Mapping[str, Any]) -> tuple[Any, ...]:
    meta = service.get("metadata") or {}
    return (
        _spec(service),
        meta.get("labels") or {},
        meta.get("annotations") or {},
        [r.get("uid") for r in meta.get("ownerReferences") or []],
    )
