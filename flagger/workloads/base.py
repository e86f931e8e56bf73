"""What Deployment and DaemonSet controllers share: the primary copy and the revision logic.

`PodWorkloadController` implements the parts of `contract.WorkloadController` that depend
only on "an apps/v1 object with a selector and a pod template": reading the target, the
selector label, revision hashes, config tracking, creating the primary and promoting into it,
and the autoscaler (`hpa` or `keda`, chosen by `autoscalerRef.kind`).
Subclasses supply the kind-specific fields (replicas and strategy vs. updateStrategy), scaling
and readiness.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from flagger.api import canary as canary_api
from flagger.kube import cache
from flagger.kube import errors as kube_errors
from flagger.workloads import (
    configs,
    contract,
    controller_core,
    hpa,
    keda,
    metadata,
    readiness,
    revision,
    workload_errors,
)

__all__ = ["PodWorkloadController", "ready_threshold"]

API_VERSION = "apps/v1"
# Annotations owned by the API machinery of the target, never copied to the primary.
NOT_COPIED_ANNOTATIONS = frozenset(
    {
        "deployment.kubernetes.io/revision",
        "deprecated.daemonset.template.generation",
        "kubectl.kubernetes.io/last-applied-configuration",
    }
)


_HASHES: dict[tuple[str, Any, Any], str] = {}
"""Revision hashes by (kind, uid, resourceVersion) of the target they were computed from."""
_HASHES_KEPT = 16384


class PodWorkloadController(controller_core.ControllerCore):
    """Shared logic of the apps/v1 workload controllers."""

    KIND: ClassVar[str] = ""
    COPIED_FIELDS: ClassVar[tuple[str, ...]] = ()  # spec fields promotion copies
    PLURAL: ClassVar[str] = ""  # for Flagger-style "not found" messages

    # --- reading --------------------------------------------------------------------------

    async def get_target(self, canary: canary_api.Canary) -> dict[str, Any]:
        """The target object; `WorkloadError` when it does not exist."""
        return await self._get(canary.spec.target_ref.name, canary.namespace)

    async def get_primary(self, canary: canary_api.Canary) -> dict[str, Any]:
        """The `-primary` object; `WorkloadError` when it does not exist."""
        return await self._get(metadata.primary_name(canary.spec.target_ref.name), canary.namespace)

    async def look_target(self, canary: canary_api.Canary) -> Mapping[str, Any]:
        """`get_target`, read-only: the watch cache's own object, not a copy (never change
        it). For the reads every tick makes: readiness, the revision hash, the selector."""
        return await self._look(canary.spec.target_ref.name, canary.namespace)

    async def look_primary(self, canary: canary_api.Canary) -> Mapping[str, Any]:
        """`get_primary`, read-only (see `look_target`)."""
        return await self._look(
            metadata.primary_name(canary.spec.target_ref.name), canary.namespace
        )

    async def _get(self, name: str, namespace: str) -> dict[str, Any]:
        obj = await self.reader.get(API_VERSION, self.KIND, name, namespace)
        return dict(self._found(obj, name, namespace))

    async def _look(self, name: str, namespace: str) -> Mapping[str, Any]:
        obj = await cache.peek(self.reader, API_VERSION, self.KIND, name, namespace)
        found: Mapping[str, Any] = self._found(obj, name, namespace)
        return found

    def _found(self, obj: Mapping[str, Any] | None, name: str, namespace: str) -> Any:
        if obj is None:
            raise workload_errors.WorkloadError(
                f"{self.KIND.lower()} {name}.{namespace} get query error: "
                f'{self.PLURAL}.apps "{name}" not found'
            )
        return obj

    def selector(self, workload: Mapping[str, Any]) -> tuple[str, str]:
        return metadata.selector_label(workload, self.options.selector_labels)

    async def get_metadata(self, canary: canary_api.Canary) -> metadata.Metadata:
        target = await self.look_target(canary)
        label, value = self.selector(target)
        containers = _pod_spec(target).get("containers") or []
        return metadata.Metadata(label, value, metadata.discover_ports(canary, containers))

    # --- revisions ------------------------------------------------------------------------

    async def target_configs(
        self, canary: canary_api.Canary, target: Mapping[str, Any]
    ) -> dict[str, configs.ConfigRef]:
        if not self.options.config_tracking:
            return {}
        return await configs.get_target_configs(self.kube, canary.namespace, _pod_spec(target))

    def revision_hash(self, target: Mapping[str, Any]) -> str:
        """The hash of the target's pod template as the user wrote it: what Flagger itself
        writes there to stop the target (a DaemonSet's scale-to-zero node selector) is left out,
        so stopping the target is never mistaken for a new revision. Kept per stored version of
        the target (uid, resourceVersion): an idle tick does not hash it again."""
        meta = target.get("metadata") or {}
        version = (self.KIND, meta.get("uid"), meta.get("resourceVersion"))
        if version[1] and version[2]:
            found = _HASHES.get(version)
            if found is None:
                if len(_HASHES) >= _HASHES_KEPT:
                    _HASHES.clear()
                found = _HASHES[version] = self._revision_hash(target)
            return found
        return self._revision_hash(target)

    def _revision_hash(self, target: Mapping[str, Any]) -> str:
        template = _template(target)  # shallow: primary_pod_spec replaces, never edits
        if "spec" in template:
            template["spec"] = self.primary_pod_spec(dict(template["spec"]))
        return revision.template_hash(template)

    async def revision(self, canary: canary_api.Canary) -> contract.Revision:
        target = await self.look_target(canary)
        refs = await self.target_configs(canary, target)
        return contract.Revision(self.revision_hash(target), configs.tracked_configs(refs))

    async def primary_matches_target(self, canary: canary_api.Canary) -> bool:
        """True when `<target>-primary` already runs the target's pod template (the same
        template promotion would write, `flagger-id` aside) and each tracked config's
        `-primary` copy holds the original's data: there is nothing new to analyse.

        Used when the status holds a revision hash this daemon did not compute (one written by
        Flagger, Go): the two hash functions differ, the pod templates do not.
        """
        target = await self.look_target(canary)
        primary = await cache.peek(
            self.kube,
            API_VERSION,
            self.KIND,
            metadata.primary_name(canary.spec.target_ref.name),
            canary.namespace,
        )
        if primary is None:
            return False
        label, value = self.selector(target)
        refs = await self.target_configs(canary, target)
        wanted = self.primary_template(target, refs, label, value)
        if _without_flagger_id(wanted) != _without_flagger_id(_template(primary)):
            return False
        for ref in refs.values():
            copy_ = await self.kube.get(
                "v1", ref.api_kind, metadata.primary_name(ref.name), canary.namespace
            )
            if copy_ is None or configs.config_checksum(copy_) != ref.checksum:
                return False
        return True

    async def has_target_changed(self, canary: canary_api.Canary) -> bool:
        target = await self.get_target(canary)
        status = canary.status
        return revision.has_changed(
            self.revision_hash(target),
            status.last_applied_spec if status else None,
            status.last_promoted_spec if status else None,
        )

    async def have_dependencies_changed(self, canary: canary_api.Canary) -> configs.ConfigChanges:
        if not self.options.config_tracking:
            return configs.ConfigChanges(False)
        target = await self.get_target(canary)
        refs = await self.target_configs(canary, target)
        tracked = canary.status.tracked_configs if canary.status else None
        return configs.config_changes(refs, tracked)

    # --- initialization -------------------------------------------------------------------

    async def initialize(self, canary: canary_api.Canary) -> contract.Initialization:
        label, value = self.selector(await self.look_target(canary))
        name = metadata.primary_name(canary.spec.target_ref.name)
        created = False
        lines: list[str] = []
        if await cache.peek(self.reader, API_VERSION, self.KIND, name, canary.namespace) is None:
            target = await self.get_target(canary)
            refs = await self.target_configs(canary, target)
            lines += await configs.sync_primary_configs(
                self.kube, canary, refs, self.options.include_label_prefixes
            )
            primary = self.new_primary(canary, target, refs, label, value)
            try:
                await self.kube.create(primary)
                created = True
                lines.append(f"{self.KIND} {name}.{canary.namespace} created")
            except kube_errors.Conflict:
                pass  # created by an earlier run that died before recording it
        phase = canary.status.phase if canary.status else None
        if phase in controller_core.FIRST_RUN_PHASES and not canary.spec.effective_skip_analysis:
            verdict = await self.is_primary_ready(canary)
        else:
            verdict = readiness.Readiness.ok()
        return contract.Initialization(created, verdict, tuple(lines))

    def new_primary(
        self,
        canary: canary_api.Canary,
        target: Mapping[str, Any],
        refs: Mapping[str, configs.ConfigRef],
        label: str,
        value: str,
    ) -> dict[str, Any]:
        """The `-primary` object to create for `target`."""
        meta = target.get("metadata") or {}
        primary_value = f"{value}-primary"
        spec = self.copied_spec_fields(canary, target, creating=True)
        spec["selector"] = {"matchLabels": {label: primary_value}}
        spec["template"] = self.primary_template(target, refs, label, value)
        return {
            "apiVersion": API_VERSION,
            "kind": self.KIND,
            "metadata": {
                "name": metadata.primary_name(canary.spec.target_ref.name),
                "namespace": canary.namespace,
                "labels": metadata.make_primary_labels(
                    metadata.include_labels_by_prefix(
                        meta.get("labels"), self.options.include_label_prefixes
                    ),
                    primary_value,
                    label,
                ),
                "annotations": _annotations(meta.get("annotations")),
                "ownerReferences": [metadata.owner_reference(canary)],
            },
            "spec": spec,
        }

    def copied_spec_fields(
        self, canary: canary_api.Canary, target: Mapping[str, Any], *, creating: bool
    ) -> dict[str, Any]:
        """Kind-specific spec fields copied from the target (strategy, replicas, ...)."""
        raise NotImplementedError

    def primary_pod_spec(self, pod_spec: dict[str, Any]) -> dict[str, Any]:
        """Kind-specific changes to the primary's pod spec (after config renaming)."""
        return pod_spec

    def primary_template(
        self,
        target: Mapping[str, Any],
        refs: Mapping[str, configs.ConfigRef],
        label: str,
        value: str,
    ) -> dict[str, Any]:
        """The primary's pod template: labels relabelled, a fresh `flagger-id`, configs and
        anti-affinity/topology selectors pointing at the primary."""
        template = _template(target)
        template_meta = template.get("metadata") or {}
        pod_spec = configs.apply_primary_configs(template.get("spec") or {}, refs)
        _suffix_selectors(pod_spec, label, {value, str((target.get("metadata") or {}).get("name"))})
        return {
            "metadata": {
                "labels": metadata.make_primary_labels(
                    template_meta.get("labels"), f"{value}-primary", label
                ),
                "annotations": metadata.make_annotations(template_meta.get("annotations")),
            },
            "spec": self.primary_pod_spec(pod_spec),
        }

    # --- promotion ------------------------------------------------------------------------

    async def promote(self, canary: canary_api.Canary) -> contract.Promotion:
        target = await self.get_target(canary)
        label, value = self.selector(target)
        refs = await self.target_configs(canary, target)
        lines = await configs.sync_primary_configs(
            self.kube, canary, refs, self.options.include_label_prefixes
        )
        target_meta = target.get("metadata") or {}
        primary = await self.get_primary(canary)
        primary_meta = primary.get("metadata") or {}
        labels = metadata.make_primary_labels(
            metadata.include_labels_by_prefix(
                target_meta.get("labels"), self.options.include_label_prefixes
            ),
            f"{value}-primary",
            label,
        )
        annotations = {
            **{
                k: v
                for k, v in (primary_meta.get("annotations") or {}).items()
                if k in NOT_COPIED_ANNOTATIONS
            },
            **_annotations(
                metadata.include_labels_by_prefix(
                    target_meta.get("annotations"), self.options.include_label_prefixes
                )
            ),
        }
        # A JSON patch replaces exactly what promotion owns, without a resourceVersion: the
        # primary's status changes many times a second during a rollout, and a PUT would
        # conflict with every one of those writes.
        ops: list[dict[str, Any]] = [
            {"op": "add", "path": "/metadata/labels", "value": labels},
            {"op": "add", "path": "/metadata/annotations", "value": annotations},
            {
                "op": "add",
                "path": "/spec/template",
                "value": self.primary_template(target, refs, label, value),
            },
        ]
        copied = self.copied_spec_fields(canary, target, creating=False)
        for field in self.COPIED_FIELDS:
            if field in copied:
                ops.append({"op": "add", "path": f"/spec/{field}", "value": copied[field]})
            elif field in (primary.get("spec") or {}) and field != "replicas":
                ops.append({"op": "remove", "path": f"/spec/{field}"})
        await self.kube.patch(
            API_VERSION, self.KIND, primary_meta["name"], canary.namespace, ops, patch_type="json"
        )
        return contract.Promotion(metadata.primary_name(canary.spec.target_ref.name), tuple(lines))

    # --- scaling and readiness (kind-specific) --------------------------------------------

    async def is_primary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        raise NotImplementedError

    # --- the autoscaler (by `autoscalerRef.kind`, whatever the target kind, as in Flagger) --

    async def reconcile_primary_scaler(
        self, canary: canary_api.Canary, *, init: bool
    ) -> str | None:
        """`<hpa>-primary` or `<so>-primary`; a log line when something was written."""
        ref = canary.spec.autoscaler_ref
        if ref is None:
            return None
        if ref.kind == keda.KIND:
            return await keda.reconcile_primary_scaled_object(
                self.kube,
                canary,
                init=init,
                include_label_prefixes=self.options.include_label_prefixes,
            )
        return await hpa.reconcile_primary_hpa(self.kube, canary, init=init)

    async def pause_target_scaler(self, canary: canary_api.Canary) -> None:
        """KEDA: pause the target's ScaledObject; an HPA (or no autoscaler): nothing."""
        await keda.pause_target_scaled_object(self.kube, canary)

    async def resume_target_scaler(self, canary: canary_api.Canary) -> None:
        """KEDA: resume the target's ScaledObject; an HPA (or no autoscaler): nothing."""
        await keda.resume_target_scaled_object(self.kube, canary)

    async def scaler_min_replicas(self, canary: canary_api.Canary) -> int | None:
        """The autoscaler's minimum (HPA `minReplicas`, KEDA `minReplicaCount`) when above 1;
        None without an autoscaler, when it is missing or its minimum is unset/0/1."""
        ref = canary.spec.autoscaler_ref
        if ref is None:
            return None
        api_version, field = (
            (keda.API_VERSION, "minReplicaCount")
            if ref.kind == keda.KIND
            else (hpa.API_VERSION, "minReplicas")
        )
        try:
            scaler = await self.reader.get(api_version, ref.kind, ref.name, canary.namespace)
        except kube_errors.UnknownKind:
            return None  # Flagger ignores any error reading the scaler here
        minimum = ((scaler or {}).get("spec") or {}).get(field)
        return int(minimum) if minimum is not None and int(minimum) > 1 else None


def ready_threshold(canary: canary_api.Canary, *, primary: bool) -> int:
    """`primaryReadyThreshold` or `canaryReadyThreshold` (default 100)."""
    analysis = canary.spec.effective_analysis
    if analysis is None:
        return 100
    if primary:
        return analysis.effective_primary_ready_threshold
    return analysis.effective_canary_ready_threshold


def _template(workload: Mapping[str, Any]) -> dict[str, Any]:
    return dict((workload.get("spec") or {}).get("template") or {})


def _pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    return dict(_template(workload).get("spec") or {})


def _without_flagger_id(template: Mapping[str, Any]) -> dict[str, Any]:
    """A pod template without the `flagger-id` annotation (fresh on every promotion), and
    without empty metadata maps (the API server drops them)."""
    found = dict(template)  # shallow: only "metadata" is replaced, for a comparison
    meta = dict(found.get("metadata") or {})
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k != metadata.FLAGGER_ID
    }
    meta["annotations"] = annotations
    found["metadata"] = {k: v for k, v in meta.items() if v not in ({}, None)}
    return found


def _annotations(annotations: Mapping[str, str] | None) -> dict[str, str]:
    return {
        k: v
        for k, v in metadata.filter_metadata(annotations).items()
        if k not in NOT_COPIED_ANNOTATIONS
    }


def _suffix_selectors(pod_spec: dict[str, Any], label: str, values: set[str]) -> None:
    """Anti-affinity and topology-spread selectors that name the target select the primary."""
    selectors: list[dict[str, Any]] = []
    for constraint in pod_spec.get("topologySpreadConstraints") or []:
        if constraint.get("labelSelector"):
            selectors.append(constraint["labelSelector"])
    anti = (pod_spec.get("affinity") or {}).get("podAntiAffinity") or {}
    for term in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        if (term.get("podAffinityTerm") or {}).get("labelSelector"):
            selectors.append(term["podAffinityTerm"]["labelSelector"])
    for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        if term.get("labelSelector"):
            selectors.append(term["labelSelector"])
    for selector in selectors:
        match_labels = selector.get("matchLabels") or {}
        if match_labels.get(label) in values:
            match_labels[label] = f"{match_labels[label]}-primary"
        for expression in selector.get("matchExpressions") or []:
            if expression.get("key") == label:
                expression["values"] = [
                    f"{v}-primary" if v in values else v for v in expression.get("values") or []
                ]
