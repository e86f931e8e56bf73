"""The DaemonSet workload controller.

A DaemonSet has no replica count, so Flagger "scales it to zero" by adding the node selector
`flagger.app/scale-to-zero: "true"` to its pod template (no node carries that label, so its pods
go away) and scales it back by removing the selector. The primary copies `updateStrategy`,
`minReadySeconds` and `revisionHistoryLimit`, and never carries the scale-to-zero selector.

Readiness is `readiness.daemonset_readiness`; the progress deadline counts from the Canary's
`status.lastTransitionTime` because DaemonSets report no progress condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger.api import canary as canary_api
from flagger.workloads import base, readiness

__all__ = ["SCALE_TO_ZERO_SELECTOR", "DaemonSetController"]

SCALE_TO_ZERO_SELECTOR = "flagger.app/scale-to-zero"
_COPIED = ("updateStrategy", "minReadySeconds", "revisionHistoryLimit")


class DaemonSetController(base.PodWorkloadController):
    """Flagger's DaemonSetController."""

    KIND = "DaemonSet"
    PLURAL = "daemonsets"
    COPIED_FIELDS = _COPIED

    def copied_spec_fields(
        self, canary: canary_api.Canary, target: Mapping[str, Any], *, creating: bool
    ) -> dict[str, Any]:
        spec = target.get("spec") or {}
        return {k: spec[k] for k in _COPIED if k in spec}

    def primary_pod_spec(self, pod_spec: dict[str, Any]) -> dict[str, Any]:
        selector = dict(pod_spec.get("nodeSelector") or {})
        if SCALE_TO_ZERO_SELECTOR in selector:
            del selector[SCALE_TO_ZERO_SELECTOR]
            if selector:
                pod_spec["nodeSelector"] = selector
            else:
                pod_spec.pop("nodeSelector", None)
        return pod_spec

    async def is_primary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        return self._readiness(canary, await self.look_primary(canary), primary=True)

    async def is_canary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        return self._readiness(canary, await self.look_target(canary), primary=False)

    def _readiness(
        self, canary: canary_api.Canary, daemonset: Mapping[str, Any], *, primary: bool
    ) -> readiness.Readiness:
        verdict = readiness.daemonset_readiness(
            daemonset,
            deadline_seconds=canary.spec.effective_progress_deadline_seconds,
            ready_threshold=base.ready_threshold(canary, primary=primary),
            last_transition_time=canary.status.last_transition_time if canary.status else None,
        )
        name = f"{(daemonset.get('metadata') or {}).get('name')}.{canary.namespace}"
        if primary:
            return readiness.not_ready(verdict, f"primary daemonset {name} not ready")
        # Flagger 1.44's wording, typo included
        retryable = "true" if verdict.retriable else "false"
        return readiness.not_ready(
            verdict, f"canary damonset {name} not ready with retryable {retryable}"
        )

    async def scale_to_zero(self, canary: canary_api.Canary) -> None:
        target = await self.get_target(canary)
        if _node_selector(target).get(SCALE_TO_ZERO_SELECTOR) == "true":
            return
        await self._patch_selector(canary, "true")

    async def scale_from_zero(self, canary: canary_api.Canary) -> None:
        target = await self.get_target(canary)
        if SCALE_TO_ZERO_SELECTOR not in _node_selector(target):
            return
        await self._patch_selector(canary, None)

    async def finalize(self, canary: canary_api.Canary) -> None:
        await self.scale_from_zero(canary)

    async def _patch_selector(self, canary: canary_api.Canary, value: str | None) -> None:
        await self.kube.patch(
            base.API_VERSION,
            self.KIND,
            canary.spec.target_ref.name,
            canary.namespace,
            {"spec": {"template": {"spec": {"nodeSelector": {SCALE_TO_ZERO_SELECTOR: value}}}}},
        )


def _node_selector(daemonset: Mapping[str, Any]) -> dict[str, Any]:
    template = (daemonset.get("spec") or {}).get("template") or {}
    return dict((template.get("spec") or {}).get("nodeSelector") or {})
