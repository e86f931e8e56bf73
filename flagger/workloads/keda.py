"""The primary's KEDA ScaledObject (keda.sh/v1alpha1), and pausing the target's.

For `autoscalerRef: {kind: ScaledObject, name: <so>}` Flagger creates `<so>-primary`, owned by
the Canary, scaling `<target>-primary` with a copy of the target ScaledObject's spec (Flagger's
`ScaledObjectReconciler`):

- `scaleTargetRef` keeps the target's apiVersion, kind and envSourceContainerName and names
  `<target>-primary`;
- pollingInterval, cooldownPeriod, min/maxReplicaCount, advanced, triggers, fallback and
  idleReplicaCount are copied; `autoscalerRef.primaryScalerReplicas` overrides the replica
  counts;
- `advanced.horizontalPodAutoscalerConfig` is always present, and a name set there gets
  `-primary` (so the two ScaledObjects never fight over one HPA);
- the trigger queries are rewritten for the primary (`primary_triggers`).

On creation the primary copies the target's labels and annotations (without Flux keys, and
without KEDA's `paused-replicas` annotation: a primary created while the target is paused must
not be paused itself -- a deliberate difference from Flagger, which copies it). On promotion
(`init=False`) the copy is replaced when its spec differs; on initialization an existing copy is
left alone.

Between rollouts Flagger pauses the target's ScaledObject (the canary is scaled to zero and KEDA
must not scale it back up) with `autoscaling.keda.sh/paused-replicas: "0"`, and removes the
annotation while a rollout runs or when the Canary is deleted.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.kube import errors as kube_errors
from flagger.workloads import hpa, metadata, workload_errors

__all__ = [
    "API_VERSION",
    "KIND",
    "PAUSED_REPLICAS_ANNOTATION",
    "pause_target_scaled_object",
    "primary_scaled_object_spec",
    "primary_triggers",
    "reconcile_primary_scaled_object",
    "resume_target_scaled_object",
    "rewrite_query",
]

API_VERSION = "keda.sh/v1alpha1"
KIND = "ScaledObject"
PAUSED_REPLICAS_ANNOTATION = "autoscaling.keda.sh/paused-replicas"
_COPIED = (
    "pollingInterval",
    "cooldownPeriod",
    "minReplicaCount",
    "maxReplicaCount",
    "advanced",
    "triggers",
    "fallback",
    "idleReplicaCount",
)
_TARGET_REF_FIELDS = ("apiVersion", "kind", "envSourceContainerName")
_UPDATE_ATTEMPTS = 5
# Cannot occur in a Kubernetes name, so it never collides with what a query contains.
_PLACEHOLDER = "\x00flagger-canary\x00"


def rewrite_query(query: str, target: str) -> str:
    """Flagger's best-effort rewrite of a query for the primary: both `<target>-canary` and
    `<target>` become `<target>-primary` (never `<target>-primary-canary`)."""
    primary = metadata.primary_name(target)
    replaced = query.replace(f"{target}-canary", _PLACEHOLDER)
    replaced = replaced.replace(target, primary)
    return replaced.replace(_PLACEHOLDER, primary)


def primary_triggers(
    canary: canary_api.Canary, triggers: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The target's triggers with their queries for the primary (Flagger's
    `setPrimaryScaledObjectQueries`).

    With `autoscalerRef.primaryScalerQueries` set (even empty) it is the only source: a trigger
    whose `name` is a key gets that query (`metadata.query` is added when it had none), every
    other trigger -- unnamed, or named without an entry -- keeps its query unchanged. Without it,
    every `metadata.query` is rewritten by `rewrite_query`.
    """
    ref = canary.spec.autoscaler_ref
    queries = ref.primary_scaler_queries if ref is not None else None
    result = [copy.deepcopy(dict(trigger)) for trigger in triggers]
    for trigger in result:
        if queries is not None:
            name = trigger.get("name") or ""  # Go's zero value: matches only a "" key
            if name in queries:
                meta = trigger.get("metadata")
                trigger["metadata"] = {**(meta or {}), "query": queries[name]}
        else:
            meta = trigger.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("query"), str):
                meta["query"] = rewrite_query(meta["query"], canary.spec.target_ref.name)
    return result


def primary_scaled_object_spec(
    canary: canary_api.Canary, scaled_object: Mapping[str, Any]
) -> dict[str, Any]:
    """The spec of `<so>-primary` for a target ScaledObject."""
    source = scaled_object.get("spec") or {}
    target_ref = source.get("scaleTargetRef") or {}
    scale_target: dict[str, Any] = {"name": metadata.primary_name(canary.spec.target_ref.name)}
    for field in _TARGET_REF_FIELDS:
        if target_ref.get(field):
            scale_target[field] = target_ref[field]
    spec: dict[str, Any] = {"scaleTargetRef": scale_target}
    for field in _COPIED:
        if source.get(field) is not None:
            spec[field] = copy.deepcopy(source[field])
    spec["triggers"] = primary_triggers(canary, source.get("triggers") or [])
    advanced = spec.setdefault("advanced", {})
    hpa_config = advanced.get("horizontalPodAutoscalerConfig") or {}
    if hpa_config.get("name"):
        hpa_config["name"] = metadata.primary_name(hpa_config["name"])
    advanced["horizontalPodAutoscalerConfig"] = hpa_config
    hpa.apply_replica_overrides(spec, canary, "minReplicaCount", "maxReplicaCount")
    return spec


async def get_scaled_object(kube: kube_client.Kube, name: str, namespace: str) -> dict[str, Any]:
    """The ScaledObject; `WorkloadError` (Flagger's wording) when it or its kind is missing."""
    try:
        scaled_object = await kube.get(API_VERSION, KIND, name, namespace)
    except kube_errors.UnknownKind as exc:
        raise workload_errors.WorkloadError(
            f"Keda ScaledObject {name}.{namespace} get query error: {exc}"
        ) from exc
    if scaled_object is None:
        raise workload_errors.WorkloadError(
            f"Keda ScaledObject {name}.{namespace} get query error: "
            f'scaledobjects.keda.sh "{name}" not found; create it or fix spec.autoscalerRef'
        )
    return scaled_object


async def reconcile_primary_scaled_object(
    kube: kube_client.Kube,
    canary: canary_api.Canary,
    *,
    init: bool,
    include_label_prefixes: Iterable[str] = ("",),
) -> str | None:
    """Create (or, unless `init`, update) `<so>-primary`; returns a log line
    (`Keda ScaledObject podinfo-so-primary.test created`/`updated`) or None when nothing was
    written."""
    ref = canary.spec.autoscaler_ref
    if ref is None:
        return None
    if ref.kind != KIND:
        raise workload_errors.WorkloadError(f"cd.Spec.AutoscalerRef.Kind is invalid: {ref.kind}")
    namespace = canary.namespace
    target = await get_scaled_object(kube, ref.name, namespace)
    wanted = primary_scaled_object_spec(canary, target)
    name = metadata.primary_name(ref.name)
    existing = await kube.get(API_VERSION, KIND, name, namespace)
    if existing is None:
        target_meta = target.get("metadata") or {}
        annotations = metadata.filter_metadata(target_meta.get("annotations"))
        annotations.pop(PAUSED_REPLICAS_ANNOTATION, None)
        try:
            await kube.create(
                {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": metadata.filter_metadata(target_meta.get("labels")),
                        "annotations": annotations,
                        "ownerReferences": [metadata.owner_reference(canary)],
                    },
                    "spec": wanted,
                }
            )
        except kube_errors.ApiError as exc:
            raise workload_errors.WorkloadError(
                f"creating Keda ScaledObject {name}.{namespace} failed: {exc}"
            ) from exc
        return f"Keda ScaledObject {name}.{namespace} created"
    if init or existing.get("spec") == wanted:
        return None
    prefixes = tuple(include_label_prefixes)
    for attempt in range(_UPDATE_ATTEMPTS):
        updated = copy.deepcopy(existing)
        meta = updated.setdefault("metadata", {})
        meta["labels"] = metadata.include_labels_by_prefix(meta.get("labels"), prefixes)
        meta["annotations"] = metadata.include_labels_by_prefix(meta.get("annotations"), prefixes)
        updated["spec"] = wanted
        try:
            await kube.replace(updated)
            break
        except kube_errors.Conflict as exc:
            current = await kube.get(API_VERSION, KIND, name, namespace)
            if current is None or attempt == _UPDATE_ATTEMPTS - 1:
                raise workload_errors.WorkloadError(
                    f"updating ScaledObject {name}.{namespace} failed: {exc}"
                ) from exc
            existing = current
        except kube_errors.ApiError as exc:
            raise workload_errors.WorkloadError(
                f"updating ScaledObject {name}.{namespace} failed: {exc}"
            ) from exc
    return f"Keda ScaledObject {name}.{namespace} updated"


async def pause_target_scaled_object(kube: kube_client.Kube, canary: canary_api.Canary) -> None:
    """Set `autoscaling.keda.sh/paused-replicas: "0"` on the target's ScaledObject."""
    await _set_paused(kube, canary, "0")


async def resume_target_scaled_object(kube: kube_client.Kube, canary: canary_api.Canary) -> None:
    """Remove `autoscaling.keda.sh/paused-replicas` from the target's ScaledObject."""
    await _set_paused(kube, canary, None)


async def _set_paused(kube: kube_client.Kube, canary: canary_api.Canary, value: str | None) -> None:
    ref = canary.spec.autoscaler_ref
    if ref is None or ref.kind != KIND:
        return
    scaled_object = await get_scaled_object(kube, ref.name, canary.namespace)
    annotations = (scaled_object.get("metadata") or {}).get("annotations") or {}
    if annotations.get(PAUSED_REPLICAS_ANNOTATION) == value:
        return  # already as wanted (None: absent), no write
    # A merge patch touches only this annotation and needs no resourceVersion, so it cannot
    # conflict with KEDA's own writes (Flagger retries a full update on conflict instead).
    try:
        await kube.patch(
            API_VERSION,
            KIND,
            ref.name,
            canary.namespace,
            {"metadata": {"annotations": {PAUSED_REPLICAS_ANNOTATION: value}}},
        )
    except kube_errors.ApiError as exc:
        raise workload_errors.WorkloadError(
            f"Keda ScaledObject {ref.name}.{canary.namespace} update query error: {exc}"
        ) from exc
