"""The StatefulSet workload controller (an extension: Flagger (Go) has none, fluxcd/flagger#410).

A StatefulSet target is handled as a Deployment (scaling to and from zero, replicas copied on
promotion without an autoscaler) with these differences:

- **Its own identity and storage.** The ``-primary`` StatefulSet is created with
  ``serviceName: <serviceName>-primary`` (``podinfo`` becomes ``podinfo-primary``, the Service
  Flagger creates for the primary) and the target's ``volumeClaimTemplates``,
  ``podManagementPolicy`` and ``ordinals``. PVC names are ``<claim>-<statefulset>-<ordinal>``,
  so the primary's claims (``data-podinfo-primary-0``) and the canary's (``data-podinfo-0``)
  are never the same PVC.
- **Promotion** copies the pod template, ``updateStrategy``, ``minReadySeconds``,
  ``revisionHistoryLimit``, ``persistentVolumeClaimRetentionPolicy`` and replicas. The fields
  Kubernetes does not let change (``volumeClaimTemplates``, ``serviceName``,
  ``podManagementPolicy``, ``selector``) keep the values the primary was created with.
- **Data.** Flagger deletes no PVC. Scaling the canary to zero after a promotion or a rollback
  keeps its PVCs unless the target's ``persistentVolumeClaimRetentionPolicy.whenScaled`` is
  ``Delete``; deleting the Canary (and with it the primary) keeps the primary's PVCs unless the
  policy's ``whenDeleted`` is ``Delete``. Kept canary PVCs are reused by the next analysis.
- **Readiness** (:func:`statefulset_readiness`): the generation observed, the updated replicas
  of a rolling update past its ``partition`` (a partitioned update is finished when the
  replicas at or above the partition are updated), ``currentRevision == updateRevision`` when
  there is no partition, and ``readyReplicas`` at the Canary's ready threshold; the progress
  deadline counts from the Canary's ``status.lastTransitionTime`` (StatefulSets report no
  progress condition).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from flagger.api import canary as canary_api
from flagger.workloads import base, deployment, readiness

__all__ = ["KIND", "StatefulSetController", "statefulset_readiness"]

KIND = "StatefulSet"
_MUTABLE = (
    "updateStrategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
)
_AT_CREATION = ("volumeClaimTemplates", "podManagementPolicy", "ordinals")


class StatefulSetController(deployment.DeploymentController):
    """StatefulSet targets: a Deployment's scaling and promotion, a StatefulSet's identity."""

    KIND = KIND
    PLURAL = "statefulsets"
    COPIED_FIELDS = (*_MUTABLE, "replicas")

    def copied_spec_fields(
        self, canary: canary_api.Canary, target: Mapping[str, Any], *, creating: bool
    ) -> dict[str, Any]:
        spec = target.get("spec") or {}
        fields = {k: spec[k] for k in _MUTABLE if k in spec}
        replicas = int(spec.get("replicas") or 0)
        if creating:
            fields["replicas"] = replicas if replicas > 0 else 1
            fields.update({k: spec[k] for k in _AT_CREATION if k in spec})
            if spec.get("serviceName"):
                fields["serviceName"] = f"{spec['serviceName']}-primary"
        elif canary.spec.autoscaler_ref is None and replicas > 0:
            fields["replicas"] = replicas
        return fields

    async def is_primary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        return self._readiness(canary, await self.look_primary(canary), primary=True)

    async def is_canary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        return self._readiness(canary, await self.look_target(canary), primary=False)

    def _readiness(
        self, canary: canary_api.Canary, statefulset: Mapping[str, Any], *, primary: bool
    ) -> readiness.Readiness:
        verdict = statefulset_readiness(
            statefulset,
            deadline_seconds=canary.spec.effective_progress_deadline_seconds,
            ready_threshold=base.ready_threshold(canary, primary=primary),
            last_transition_time=canary.status.last_transition_time if canary.status else None,
        )
        name = f"{(statefulset.get('metadata') or {}).get('name')}.{canary.namespace}"
        side = "primary" if primary else "canary"
        return readiness.not_ready(verdict, f"{side} statefulset {name} not ready")


def statefulset_readiness(
    statefulset: Mapping[str, Any],
    *,
    deadline_seconds: int,
    ready_threshold: int = 100,
    last_transition_time: str | None = None,
    now: datetime.datetime | None = None,
) -> readiness.Readiness:
    """Is a StatefulSet's rollout finished (see the module docstring)?"""
    now = now or datetime.datetime.now(datetime.UTC)
    meta = statefulset.get("metadata") or {}
    spec = statefulset.get("spec") or {}
    status = statefulset.get("status") or {}
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return readiness.Readiness.waiting(
            "waiting for rollout to finish: observed statefulset generation less than desired "
            "generation"
        )
    replicas = int(spec.get("replicas", 1) or 0)
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0) if rolling else 0
    expected = max(replicas - partition, 0) if rolling else 0
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    needed = int(replicas * (ready_threshold / 100.0))
    revisions_differ = status.get("updateRevision") != status.get("currentRevision")
    not_updated = updated < expected or (
        rolling and partition == 0 and replicas > 0 and revisions_differ
    )
    not_ready = ready < needed
    if not not_updated and not not_ready:
        return readiness.Readiness.ok()
    since = readiness.parse_time(last_transition_time)
    if since is not None and since + datetime.timedelta(seconds=deadline_seconds) < now:
        return readiness.Readiness.failed(
            f"exceeded its progressDeadlineSeconds: {deadline_seconds}"
        )
    if not_updated:
        scope = f" at or above partition {partition}" if partition else ""
        return readiness.Readiness.waiting(
            f"waiting for rollout to finish: {updated} of {expected} replicas{scope} updated"
        )
    return readiness.Readiness.waiting(
        f"waiting for rollout to finish: {ready} of {needed} (readyThreshold "
        f"{ready_threshold}%) replicas are ready"
    )
