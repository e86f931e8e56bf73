"""Knative Service targets (``serving.knative.dev/v1`` ``Service``), as Flagger's
``KnativeController``.

Knative keeps every revision of a Service; Flagger routes between two of them instead of
copying a Deployment. The primary is the revision named in the Service's
``flagger.app/primary-revision`` annotation, the canary is ``status.latestCreatedRevisionName``
(Knative's latest revision):

- **Initialisation** (phase empty or Initializing) records the latest revision as the primary and
  sends it all the traffic (``spec.traffic``: latest revision 0%, primary 100%).
- **The revision** is the hash of ``status.latestCreatedRevisionName``: a new Knative revision is
  a new revision to analyse. There are no tracked configs.
- **Readiness** is the Knative Revision's ``Ready`` condition (retriable, as in Flagger).
- **Promotion** moves the annotation to the latest revision. Nothing is scaled (Knative scales
  revisions itself) and there is no autoscalerRef.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger.api import canary as canary_api
from flagger.api import knative_types
from flagger.workloads import (
    contract,
    controller_core,
    metadata,
    readiness,
    revision,
    workload_errors,
)

__all__ = ["API_VERSION", "PRIMARY_REVISION", "KnativeController", "traffic"]

API_VERSION = knative_types.API_VERSION
KIND = knative_types.KIND
PRIMARY_REVISION = knative_types.PRIMARY_REVISION
traffic = knative_types.traffic


class KnativeController(controller_core.UnscaledController):
    """Flagger's workload controller for Knative Service targets."""

    async def get_target(self, canary: canary_api.Canary) -> dict[str, Any]:
        """The Knative Service; `WorkloadError` when it does not exist."""
        name = canary.spec.target_ref.name
        found: dict[str, Any] | None = await self.reader.get(
            API_VERSION, KIND, name, canary.namespace
        )
        if found is None:
            raise workload_errors.WorkloadError(
                f"Knative Service {name}.{canary.namespace} get query error: "
                f'services.serving.knative.dev "{name}" not found'
            )
        return found

    async def get_metadata(self, canary: canary_api.Canary) -> metadata.Metadata:
        return metadata.Metadata("", "")

    async def initialize(self, canary: canary_api.Canary) -> contract.Initialization:
        service = await self.get_target(canary)
        phase = canary.status.phase if canary.status else None
        lines: tuple[str, ...] = ()
        if phase in controller_core.FIRST_RUN_PHASES:
            latest = _latest(service)
            await self.kube.patch(
                API_VERSION,
                KIND,
                canary.spec.target_ref.name,
                canary.namespace,
                {
                    "metadata": {"annotations": {PRIMARY_REVISION: latest}},
                    "spec": {"traffic": traffic(latest, 100, 0)},
                },
            )
            lines = (f"Knative Service {canary.spec.target_ref.name}.{canary.namespace} updated",)
        return contract.Initialization(False, readiness.Readiness.ok(), lines)

    async def _revision_ready(self, canary: canary_api.Canary, name: str) -> readiness.Readiness:
        found = await self.reader.get(API_VERSION, "Revision", name, canary.namespace)
        if found is None:
            return readiness.Readiness.waiting(
                f"Knative Revision {name}.{canary.namespace} get query error: "
                f'revisions.serving.knative.dev "{name}" not found'
            )
        conditions = (found.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return readiness.Readiness.ok()
        return readiness.Readiness.waiting(
            f"Knative Revision {name}.{canary.namespace} is not ready"
        )

    async def is_primary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        service = await self.get_target(canary)
        name = (service.get("metadata") or {}).get("annotations", {}).get(PRIMARY_REVISION)
        if not name:
            return readiness.Readiness.waiting(
                f"Knative Service {canary.spec.target_ref.name}.{canary.namespace} primary "
                "revision annotation not found"
            )
        return await self._revision_ready(canary, str(name))

    async def is_canary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        return await self._revision_ready(canary, _latest(await self.get_target(canary)))

    async def promote(self, canary: canary_api.Canary) -> contract.Promotion:
        latest = _latest(await self.get_target(canary))
        await self.kube.patch(
            API_VERSION,
            KIND,
            canary.spec.target_ref.name,
            canary.namespace,
            {"metadata": {"annotations": {PRIMARY_REVISION: latest}}},
        )
        return contract.Promotion(latest, ())

    async def revision(self, canary: canary_api.Canary) -> contract.Revision:
        latest = _latest(await self.get_target(canary))
        return contract.Revision(revision.template_hash({"revision": latest}), {})

    async def primary_matches_target(self, canary: canary_api.Canary) -> bool:
        service = await self.get_target(canary)
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        return bool(annotations.get(PRIMARY_REVISION)) and annotations.get(
            PRIMARY_REVISION
        ) == _latest(service)


def _latest(service: Mapping[str, Any]) -> str:
    return str((service.get("status") or {}).get("latestCreatedRevisionName") or "")
