"""Config tracking: the ConfigMaps and Secrets a pod template uses, their checksums and copies.

A change to a ConfigMap or Secret the target uses is a new revision, like a change to the pod
template. Flagger finds them by scanning the pod spec — volumes (`configMap`, `secret`,
`projected.sources`), `env[].valueFrom.{configMapKeyRef,secretKeyRef}` and
`envFrom[].{configMapRef,secretRef}` of every container and initContainer — and tracks each as
`configmap/<name>` or `secret/<name>` with a checksum in `status.trackedConfigs`:

    checksum = hex( sha256( json(data) )[:8] )

`json` is Go's `encoding/json` output for the `data` map (keys sorted, compact, `<>&` escaped as
`\\u003c` etc.); Secret values stay base64 as the API returns them, exactly what Go marshals for
`[]byte`. So our checksums equal Go Flagger's for the same data. A ConfigMap with `binaryData`
hashes `{"binaryData":..., "data":...}` instead, so binary changes are seen too.

Not tracked: Secrets other than Opaque, basic-auth, ssh-auth and tls (registry credentials
belong to service accounts), objects annotated `flagger.app/config-tracking: disabled`, and
objects that do not exist (the pod would not start; the next change is seen when it appears).

The primary gets `<name>-primary` copies owned by the Canary, and its pod spec references them
(`apply_primary_configs`). The target keeps referencing the originals.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.kube import errors as kube_errors
from flagger.workloads import metadata

__all__ = [
    "OPT_OUT_ANNOTATION",
    "SUPPORTED_SECRET_TYPES",
    "ConfigChanges",
    "ConfigRef",
    "apply_primary_configs",
    "checksum",
    "config_changes",
    "config_checksum",
    "get_target_configs",
    "go_json",
    "references",
    "sync_primary_configs",
    "tracked_configs",
]

log = logging.getLogger(__name__)

OPT_OUT_ANNOTATION = "flagger.app/config-tracking"
SUPPORTED_SECRET_TYPES = frozenset(
    {
        "Opaque",
        "kubernetes.io/basic-auth",
        "kubernetes.io/ssh-auth",
        "kubernetes.io/tls",
    }
)
ConfigKind = Literal["configmap", "secret"]
_API_KIND: dict[str, str] = {"configmap": "ConfigMap", "secret": "Secret"}


@dataclasses.dataclass(frozen=True)
class ConfigRef:
    """A tracked ConfigMap or Secret and its checksum."""

    kind: ConfigKind
    name: str
    checksum: str

    @property
    def key(self) -> str:
        """The `status.trackedConfigs` key: `configmap/<name>` or `secret/<name>`."""
        return f"{self.kind}/{self.name}"

    @property
    def api_kind(self) -> str:
        """`ConfigMap` or `Secret`."""
        return _API_KIND[self.kind]


@dataclasses.dataclass(frozen=True)
class ConfigChanges:
    """Whether the tracked configs differ from the status, with Flagger's log lines."""

    changed: bool
    messages: tuple[str, ...] = ()


# --- checksums ------------------------------------------------------------------------------

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_json(value: Any) -> bytes:
    """`value` as Go's `json.Marshal` writes it (maps sorted, compact, HTML-safe escapes)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in _GO_ESCAPES.items():
        text = text.replace(char, escape)
    return text.encode("utf-8")


def checksum(data: Any) -> str:
    """Flagger's checksum: the first 8 bytes of SHA-256 of the Go JSON, in hex."""
    return hashlib.sha256(go_json(data)).digest()[:8].hex()


def config_checksum(obj: Mapping[str, Any]) -> str | None:
    """The checksum of a ConfigMap or Secret, or None when it is not tracked (opted out,
    unsupported Secret type). Usable as an informer `reduce` so Secret data is never kept."""
    meta = obj.get("metadata") or {}
    # Flagger's configIsDisabled: any value starting with "disable"
    if str((meta.get("annotations") or {}).get(OPT_OUT_ANNOTATION, "")).startswith("disable"):
        return None
    if obj.get("kind") == "Secret":
        if obj.get("type", "Opaque") not in SUPPORTED_SECRET_TYPES:
            return None
        return checksum(obj.get("data") or None)
    if obj.get("binaryData"):
        return checksum({"binaryData": obj.get("binaryData"), "data": obj.get("data") or None})
    return checksum(obj.get("data") or None)


# --- discovery ------------------------------------------------------------------------------


def _containers(pod_spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod_spec.get("initContainers") or []
    yield from pod_spec.get("containers") or []


def references(pod_spec: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and of the Secrets a pod spec refers to."""
    config_maps: set[str] = set()
    secrets: set[str] = set()
    for volume in pod_spec.get("volumes") or []:
        if (cm := volume.get("configMap")) and cm.get("name"):
            config_maps.add(cm["name"])
        if (sv := volume.get("secret")) and sv.get("secretName"):
            secrets.add(sv["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (cm := source.get("configMap")) and cm.get("name"):
                config_maps.add(cm["name"])
            if (sv := source.get("secret")) and sv.get("name"):
                secrets.add(sv["name"])
    for container in _containers(pod_spec):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if (ref := source.get("configMapKeyRef")) and ref.get("name"):
                config_maps.add(ref["name"])
            elif (ref := source.get("secretKeyRef")) and ref.get("name"):
                secrets.add(ref["name"])
        for env_from in container.get("envFrom") or []:
            if (ref := env_from.get("configMapRef")) and ref.get("name"):
                config_maps.add(ref["name"])
            elif (ref := env_from.get("secretRef")) and ref.get("name"):
                secrets.add(ref["name"])
    return config_maps, secrets


async def get_target_configs(
    kube: kube_client.Kube, namespace: str, pod_spec: Mapping[str, Any]
) -> dict[str, ConfigRef]:
    """The tracked configs of a pod spec by `trackedConfigs` key, read from the API.

    Missing objects are skipped; other API errors propagate (a transient failure must not read
    as "the config disappeared", Flagger issue #989).
    """
    config_maps, secrets = references(pod_spec)
    found: dict[str, ConfigRef] = {}
    wanted: list[tuple[ConfigKind, str]] = [("configmap", n) for n in sorted(config_maps)]
    wanted += [("secret", n) for n in sorted(secrets)]
    for kind, name in wanted:
        obj = await kube.get("v1", _API_KIND[kind], name, namespace)
        if obj is None:
            log.debug("%s %s.%s not found, not tracked", _API_KIND[kind], name, namespace)
            continue
        value = config_checksum(obj)
        if value is not None:
            ref = ConfigRef(kind, name, value)
            found[ref.key] = ref
    return found


def tracked_configs(refs: Mapping[str, ConfigRef]) -> dict[str, str]:
    """The `status.trackedConfigs` map for these refs."""
    return {key: ref.checksum for key, ref in sorted(refs.items())}


def config_changes(
    refs: Mapping[str, ConfigRef], tracked: Mapping[str, str] | None
) -> ConfigChanges:
    """Flagger's `HasConfigChanged`: compare current checksums with `status.trackedConfigs`.

    Messages read `ConfigMap backend has changed` / `Secret db has changed`, one per config
    whose checksum differs (Flagger logs the first).
    """
    if not refs and tracked is None:
        return ConfigChanges(False)
    if tracked is None or len(refs) != len(tracked):
        return ConfigChanges(True)
    messages = tuple(
        f"{ref.api_kind} {ref.name} has changed"
        for key, ref in sorted(refs.items())
        if tracked.get(key) != ref.checksum
    )
    return ConfigChanges(bool(messages), messages)


# --- primary copies -------------------------------------------------------------------------


async def sync_primary_configs(
    kube: kube_client.Kube,
    canary: canary_api.Canary,
    refs: Mapping[str, ConfigRef],
    include_label_prefixes: Iterable[str],
) -> list[str]:
    """Create or update the `-primary` copies; returns `ConfigMap x-primary synced` lines for
    the copies that were written (an unchanged copy is not written)."""
    prefixes = tuple(include_label_prefixes)
    synced: list[str] = []
    for ref in sorted(refs.values(), key=lambda r: r.key):
        source = await kube.get("v1", ref.api_kind, ref.name, canary.namespace)
        if source is None:
            continue
        wanted = _primary_copy(canary, source, prefixes)
        existing = await kube.get("v1", ref.api_kind, wanted["metadata"]["name"], canary.namespace)
        if existing is None:
            try:
                await kube.create(wanted)
            except kube_errors.Conflict:
                continue  # created meanwhile by another writer; the next sync compares it
        elif _differs(existing, wanted):
            wanted["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            await kube.replace(wanted)
        else:
            continue
        synced.append(f"{ref.api_kind} {wanted['metadata']['name']} synced")
    return synced


def _primary_copy(
    canary: canary_api.Canary, source: Mapping[str, Any], prefixes: tuple[str, ...]
) -> dict[str, Any]:
    meta = source.get("metadata") or {}
    copy_: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": source["kind"],
        "metadata": {
            "name": metadata.primary_name(str(meta["name"])),
            "namespace": canary.namespace,
            "labels": metadata.include_labels_by_prefix(meta.get("labels"), prefixes),
            # Flagger copies no annotation: last-applied-configuration of a Secret holds its
            # stringData in clear text.
            "annotations": {},
            "ownerReferences": [metadata.owner_reference(canary)],
        },
    }
    for field in ("data", "binaryData", "type"):
        if source.get(field) is not None:
            copy_[field] = copy.deepcopy(source[field])
    return copy_


def _differs(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for field in ("data", "binaryData"):
        if (existing.get(field) or {}) != (wanted.get(field) or {}):
            return True
    old, new = existing.get("metadata") or {}, wanted["metadata"]
    return (
        (old.get("labels") or {}) != new["labels"]
        or (old.get("annotations") or {}) != new["annotations"]
        or not any(
            o.get("uid") == new["ownerReferences"][0]["uid"]
            for o in old.get("ownerReferences") or []
        )
    )


def apply_primary_configs(
    pod_spec: Mapping[str, Any], refs: Mapping[str, ConfigRef]
) -> dict[str, Any]:
    """A copy of `pod_spec` whose references to tracked configs point at the `-primary` copies."""
    spec: dict[str, Any] = copy.deepcopy(dict(pod_spec))
    _rename_volumes(spec, refs)
    for container in _containers(spec):
        _rename_container_refs(container, refs)
    return spec


def _rename(obj: dict[str, Any], field: str, kind: str, refs: Mapping[str, ConfigRef]) -> None:
    """Point ``obj[field]`` at the ``-primary`` copy when it names a tracked config."""
    if f"{kind}/{obj.get(field)}" in refs:
        obj[field] = metadata.primary_name(str(obj[field]))


def _rename_volumes(spec: dict[str, Any], refs: Mapping[str, ConfigRef]) -> None:
    """Volumes and projected volume sources of ConfigMaps and Secrets."""
    for volume in spec.get("volumes") or []:
        if cm := volume.get("configMap"):
            _rename(cm, "name", "configmap", refs)
        if sv := volume.get("secret"):
            _rename(sv, "secretName", "secret", refs)
        for source in (volume.get("projected") or {}).get("sources") or []:
            if cm := source.get("configMap"):
                _rename(cm, "name", "configmap", refs)
            if sv := source.get("secret"):
                _rename(sv, "name", "secret", refs)


def _rename_container_refs(container: dict[str, Any], refs: Mapping[str, ConfigRef]) -> None:
    """A container's ``env[].valueFrom`` key references and ``envFrom`` sources."""
    for env in container.get("env") or []:
        source = env.get("valueFrom") or {}
        if ref := source.get("configMapKeyRef"):
            _rename(ref, "name", "configmap", refs)
        elif ref := source.get("secretKeyRef"):
            _rename(ref, "name", "secret", refs)
    for env_from in container.get("envFrom") or []:
        if ref := env_from.get("configMapRef"):
            _rename(ref, "name", "configmap", refs)
        elif ref := env_from.get("secretRef"):
            _rename(ref, "name", "secret", refs)
