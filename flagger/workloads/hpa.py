"""The primary's HorizontalPodAutoscaler (autoscaling/v2).

For `autoscalerRef: {kind: HorizontalPodAutoscaler, name: <hpa>}` Flagger creates
`<hpa>-primary`, owned by the Canary, scaling `<target>-primary` with the target HPA's
min/max replicas, metrics and behavior. `autoscalerRef.primaryScalerReplicas` overrides min and
max for the primary. On promotion (`init=False`) the copy is updated when any of those differ
(an unset minReplicas counts as 1, as in Kubernetes); on initialization an existing copy is
left alone.

Pausing and resuming an HPA are no-ops in Flagger (only KEDA ScaledObjects are paused).
"""

from __future__ import annotations

import copy
from typing import Any

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.workloads import metadata, workload_errors

__all__ = ["API_VERSION", "primary_hpa_spec", "reconcile_primary_hpa"]

API_VERSION = "autoscaling/v2"
KIND = "HorizontalPodAutoscaler"


def primary_hpa_spec(canary: canary_api.Canary, hpa: dict[str, Any]) -> dict[str, Any]:
    """The spec of `<hpa>-primary` for a target HPA."""
    source = hpa.get("spec") or {}
    target = source.get("scaleTargetRef") or {}
    spec: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": target.get("apiVersion", "apps/v1"),
            "kind": target.get("kind", canary.spec.target_ref.kind),
            "name": metadata.primary_name(canary.spec.target_ref.name),
        },
        "maxReplicas": source.get("maxReplicas"),
    }
    if source.get("minReplicas") is not None:
        spec["minReplicas"] = source["minReplicas"]
    for field in ("metrics", "behavior"):
        if source.get(field) is not None:
            spec[field] = copy.deepcopy(source[field])
    apply_replica_overrides(spec, canary, "minReplicas", "maxReplicas")
    return spec


def apply_replica_overrides(
    spec: dict[str, Any], canary: canary_api.Canary, min_key: str, max_key: str
) -> None:
    """``autoscalerRef.primaryScalerReplicas`` wins over the target scaler's own bounds (the
    keys are ``minReplicas``/``maxReplicas`` for an HPA, ``*ReplicaCount`` for KEDA)."""
    ref = canary.spec.autoscaler_ref
    overrides = ref.primary_scaler_replicas if ref is not None else None
    if overrides is None:
        return
    if overrides.min_replicas is not None:
        spec[min_key] = overrides.min_replicas
    if overrides.max_replicas is not None:
        spec[max_key] = overrides.max_replicas


async def reconcile_primary_hpa(
    kube: kube_client.Kube, canary: canary_api.Canary, *, init: bool
) -> str | None:
    """Create (or, unless `init`, update) `<hpa>-primary`; returns Flagger's log line
    (`HorizontalPodAutoscaler podinfo-primary.test created`/`updated`) or None when nothing
    was written."""
    ref = canary.spec.autoscaler_ref
    if ref is None:
        return None
    if ref.kind != KIND:
        raise workload_errors.WorkloadError(f"cd.Spec.AutoscalerRef.Kind is invalid: {ref.kind}")
    namespace = canary.namespace
    hpa = await kube.get(API_VERSION, KIND, ref.name, namespace)
    if hpa is None:
        raise workload_errors.WorkloadError(
            f"HorizontalPodAutoscaler {ref.name}.{namespace} get query error: "
            f'horizontalpodautoscalers.autoscaling "{ref.name}" not found; create it or fix '
            "spec.autoscalerRef"
        )
    wanted = primary_hpa_spec(canary, hpa)
    name = metadata.primary_name(ref.name)
    existing = await kube.get(API_VERSION, KIND, name, namespace)
    if existing is None:
        await kube.create(
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": metadata.filter_metadata((hpa.get("metadata") or {}).get("labels")),
                    "ownerReferences": [metadata.owner_reference(canary)],
                },
                "spec": wanted,
            }
        )
        return f"HorizontalPodAutoscaler {name}.{namespace} created"
    if init:
        return None
    current = existing.get("spec") or {}
    if (
        current.get("metrics") == wanted.get("metrics")
        and current.get("behavior") == wanted.get("behavior")
        and int(current.get("minReplicas") or 1) == int(wanted.get("minReplicas") or 1)
        and current.get("maxReplicas") == wanted.get("maxReplicas")
    ):
        return None
    updated = copy.deepcopy(existing)
    spec = updated.setdefault("spec", {})
    for field in ("minReplicas", "maxReplicas", "metrics", "behavior"):
        if field in wanted:
            spec[field] = wanted[field]
        else:
            spec.pop(field, None)
    await kube.replace(updated)
    return f"HorizontalPodAutoscaler {name}.{namespace} updated"
