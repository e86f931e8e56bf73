"""The Deployment workload controller.

Kind-specific parts on top of `base.PodWorkloadController`:

- The primary copies `strategy`, `minReadySeconds`, `revisionHistoryLimit` and
  `progressDeadlineSeconds`. At creation it gets the target's replicas (1 when the target has
  none or 0); on promotion replicas are copied only when there is no autoscaler (the HPA owns
  them) and the target has some (a target at 0 never scales production down).
- Scale to zero sets `spec.replicas: 0`. Scale from zero restores, in order of preference, the
  target's replicas, the primary's, the HPA's `minReplicas` (KEDA `minReplicaCount`), or 1.
- Readiness is `readiness.deployment_readiness` with the Canary's thresholds and deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger.api import canary as canary_api
from flagger.workloads import base, metadata, readiness

__all__ = ["DeploymentController"]

_COPIED = ("strategy", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds")


class DeploymentController(base.PodWorkloadController):
    """Flagger's DeploymentController."""

    KIND = "Deployment"
    PLURAL = "deployments"
    COPIED_FIELDS = (*_COPIED, "replicas")

    def copied_spec_fields(
        self, canary: canary_api.Canary, target: Mapping[str, Any], *, creating: bool
    ) -> dict[str, Any]:
        spec = target.get("spec") or {}
        fields = {k: spec[k] for k in _COPIED if k in spec}
        replicas = int(spec.get("replicas") or 0)
        if creating:
            fields["replicas"] = replicas if replicas > 0 else 1
        elif canary.spec.autoscaler_ref is None and replicas > 0:
            fields["replicas"] = replicas
        return fields

    # --- readiness ------------------------------------------------------------------------

    async def is_primary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        primary = await self.look_primary(canary)
        verdict = readiness.deployment_readiness(
            primary,
            deadline_seconds=canary.spec.effective_progress_deadline_seconds,
            ready_threshold=base.ready_threshold(canary, primary=True),
        )
        name = (primary.get("metadata") or {}).get("name")
        return readiness.not_ready(verdict, f"{name}.{canary.namespace} not ready")

    async def is_canary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        target = await self.look_target(canary)
        verdict = readiness.deployment_readiness(
            target,
            deadline_seconds=canary.spec.effective_progress_deadline_seconds,
            ready_threshold=base.ready_threshold(canary, primary=False),
        )
        name = canary.spec.target_ref.name
        return readiness.not_ready(
            verdict, f"canary deployment {name}.{canary.namespace} not ready"
        )

    # --- scaling --------------------------------------------------------------------------

    async def scale_to_zero(self, canary: canary_api.Canary) -> None:
        await self._scale(canary, 0)

    async def scale_from_zero(self, canary: canary_api.Canary) -> None:
        target = await self.get_target(canary)
        replicas = int((target.get("spec") or {}).get("replicas") or 0)
        if replicas > 0:
            return
        await self._scale(canary, await self._replicas_to_restore(canary))

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Give the target the primary's replicas (scale from zero without a primary)."""
        primary = await self.reader.get(
            base.API_VERSION,
            self.KIND,
            metadata.primary_name(canary.spec.target_ref.name),
            canary.namespace,
        )
        if primary is None:
            await self.scale_from_zero(canary)
            return
        replicas = (primary.get("spec") or {}).get("replicas")
        await self._scale(canary, int(replicas) if replicas is not None else 1)

    async def _replicas_to_restore(self, canary: canary_api.Canary) -> int:
        primary = await self.reader.get(
            base.API_VERSION,
            self.KIND,
            metadata.primary_name(canary.spec.target_ref.name),
            canary.namespace,
        )
        replicas = int(((primary or {}).get("spec") or {}).get("replicas") or 0)
        if replicas > 0:
            return replicas
        minimum = await self.scaler_min_replicas(canary)
        if minimum is not None:
            return minimum
        return 1

    async def _scale(self, canary: canary_api.Canary, replicas: int) -> None:
        target = await self.get_target(canary)
        if (target.get("spec") or {}).get("replicas") == replicas:
            return  # no write when nothing changes
        await self.kube.patch(
            base.API_VERSION,
            self.KIND,
            canary.spec.target_ref.name,
            canary.namespace,
            {"spec": {"replicas": replicas}},
        )
