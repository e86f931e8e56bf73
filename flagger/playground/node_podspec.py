"""A container's environment and volumes, resolved the way a kubelet resolves them.

Before a container starts the node agent needs what a container runtime would be given:

- the environment: ``envFrom`` (ConfigMaps and Secrets, with an optional prefix) first, then
  ``env`` in order (plain values with ``$(VAR)`` expansion, ``configMapKeyRef``,
  ``secretKeyRef``, ``fieldRef``, ``resourceFieldRef``), later names winning;
- the volumes: ``configMap``, ``secret``, ``downwardAPI`` and ``projected`` volumes become files
  in a per-pod directory (kept in step with their sources on each refresh), any other kind an
  empty directory;
- the paths: a process cannot see a container's ``mountPath``, so a command-line word naming a
  path under a volume mount (``--config-path=/podinfo/config``) is rewritten to the local
  directory holding that volume. (A mount nested under another mount's path is not visible
  inside the outer one's directory: each volume is its own directory.)

A reference that cannot be resolved (a missing ConfigMap, Secret or key that is not optional)
raises :class:`ConfigError`; the kubelet's answer is the same: the container waits
(``CreateContainerConfigError``) and is tried again.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pathlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "ConfigError",
    "Fetch",
    "container_env",
    "expand",
    "field_value",
    "mounts",
    "rewrite_paths",
    "write_volumes",
]

#: Reads one object: ``fetch(kind, namespace, name)``, None when it does not exist.
Fetch = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][-._A-Za-z0-9]*)\)")
_FIELD_KEY = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")
_DEFAULT_MODE = 0o644


class ConfigError(Exception):
    """A ConfigMap, Secret or key that a container needs does not exist."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: known names are replaced, unknown ones kept as written,
    and ``$$`` stands for a literal ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, text)


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """A downward-API ``fieldRef`` value of the pod (``metadata.name``, ``status.podIP``, ...)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    keyed = _FIELD_KEY.fullmatch(path)
    if keyed:
        return str((meta.get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        values = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{key}="{value}"' for key, value in sorted(values.items()))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(ip["ip"] for ip in status.get("podIPs") or []),
        "status.hostIPs": ",".join(ip["ip"] for ip in status.get("hostIPs") or []),
    }
    return str(simple.get(path) or "")


def _resource_value(
    pod: Mapping[str, Any], container: Mapping[str, Any], ref: Mapping[str, Any]
) -> str:
    """``resourceFieldRef``: the limit (or request) as written; ``0`` when there is none."""
    name = ref.get("containerName") or container.get("name")
    target = next(
        (c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == name),
        container,
    )
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    values = (target.get("resources") or {}).get(kind) or {}
    return str(values.get(resource, "0"))


async def _data(
    fetch: Fetch, kind: str, namespace: str, name: str, optional: bool
) -> dict[str, bytes] | None:
    """The decoded data of a ConfigMap or Secret; None when it is missing and optional."""
    obj = await fetch(kind, namespace, name)
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    found: dict[str, bytes] = {}
    if kind == "Secret":
        for key, value in (obj.get("data") or {}).items():
            found[key] = base64.b64decode(value)
        for key, value in (obj.get("stringData") or {}).items():
            found[key] = str(value).encode()
    else:
        for key, value in (obj.get("data") or {}).items():
            found[key] = str(value).encode()
        for key, value in (obj.get("binaryData") or {}).items():
            found[key] = base64.b64decode(value)
    return found


async def _key(fetch: Fetch, kind: str, namespace: str, ref: Mapping[str, Any]) -> str | None:
    optional = bool(ref.get("optional"))
    data = await _data(fetch, kind, namespace, str(ref.get("name", "")), optional)
    if data is None:
        return None
    key = str(ref.get("key", ""))
    if key not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {namespace}/{ref.get('name')}")
    return data[key].decode("utf-8", "replace")


async def container_env(
    pod: Mapping[str, Any], container: Mapping[str, Any], fetch: Fetch
) -> dict[str, str]:
    """The container's own variables (``envFrom`` then ``env``), in definition order."""
    namespace = str((pod.get("metadata") or {}).get("namespace", ""))
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(field)
            if not ref:
                continue
            data = await _data(
                fetch, kind, namespace, str(ref.get("name", "")), bool(ref.get("optional"))
            )
            for key, raw in (data or {}).items():
                env[prefix + key] = raw.decode("utf-8", "replace")
    for var in container.get("env") or []:
        name = str(var["name"])
        source = var.get("valueFrom")
        value: str | None
        if not source:
            value = expand(str(var.get("value") or ""), env)
        elif "configMapKeyRef" in source:
            value = await _key(fetch, "ConfigMap", namespace, source["configMapKeyRef"])
        elif "secretKeyRef" in source:
            value = await _key(fetch, "Secret", namespace, source["secretKeyRef"])
        elif "fieldRef" in source:
            value = field_value(pod, str(source["fieldRef"].get("fieldPath", "")))
        elif "resourceFieldRef" in source:
            value = _resource_value(pod, container, source["resourceFieldRef"])
        else:
            value = ""
        if value is not None:
            env[name] = value
    return env


# --- volumes ------------------------------------------------------------------------------

_Files = dict[str, tuple[bytes, int]]


def _project(
    data: Mapping[str, bytes],
    items: Sequence[Mapping[str, Any]] | None,
    mode: int,
    what: str,
    optional: bool,
) -> _Files:
    """Files of a ConfigMap or Secret volume: every key, or only the listed items."""
    if not items:
        return {key: (value, mode) for key, value in data.items()}
    files: _Files = {}
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            if optional:
                continue
            raise ConfigError(f"configmap/secret {what} has no key {key}")
        files[str(item.get("path") or key)] = (data[key], int(item.get("mode") or mode))
    return files


async def _volume_files(
    pod: Mapping[str, Any], volume: Mapping[str, Any], fetch: Fetch
) -> _Files | None:
    """The files of a volume the agent fills; None for a plain directory (``emptyDir``...)."""
    namespace = str((pod.get("metadata") or {}).get("namespace", ""))
    if "configMap" in volume or "secret" in volume:
        kind = "ConfigMap" if "configMap" in volume else "Secret"
        source = volume["configMap"] if kind == "ConfigMap" else volume["secret"]
        name = str(source.get("name") if kind == "ConfigMap" else source.get("secretName"))
        optional = bool(source.get("optional"))
        data = await _data(fetch, kind, namespace, name, optional)
        mode = int(source.get("defaultMode") or _DEFAULT_MODE)
        return _project(data or {}, source.get("items"), mode, name, optional)
    if "downwardAPI" in volume:
        source = volume["downwardAPI"]
        return _downward(
            pod, source.get("items") or [], int(source.get("defaultMode") or _DEFAULT_MODE)
        )
    if "projected" in volume:
        source = volume["projected"]
        mode = int(source.get("defaultMode") or _DEFAULT_MODE)
        files: _Files = {}
        for part in source.get("sources") or []:
            for field, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                if field in part:
                    ref = part[field]
                    optional = bool(ref.get("optional"))
                    data = await _data(fetch, kind, namespace, str(ref.get("name", "")), optional)
                    files.update(
                        _project(data or {}, ref.get("items"), mode, str(ref.get("name")), optional)
                    )
            if "downwardAPI" in part:
                files.update(_downward(pod, part["downwardAPI"].get("items") or [], mode))
            # serviceAccountToken: no process here talks to the API server in-cluster.
        return files
    return None


def _downward(pod: Mapping[str, Any], items: Sequence[Mapping[str, Any]], mode: int) -> _Files:
    files: _Files = {}
    for item in items:
        if "fieldRef" in item:
            value = field_value(pod, str(item["fieldRef"].get("fieldPath", "")))
        else:
            value = _resource_value(pod, {}, item.get("resourceFieldRef") or {})
        files[str(item["path"])] = (value.encode(), int(item.get("mode") or mode))
    return files


def _sync_dir(root: pathlib.Path, files: _Files) -> None:
    """Make ``root`` hold exactly ``files``: changed files are replaced atomically, stale ones
    removed."""
    root.mkdir(parents=True, exist_ok=True)
    for relative, (content, mode) in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            if target.read_bytes() == content:
                continue
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(content)
        os.chmod(temporary, mode & 0o777)
        os.replace(temporary, target)
    wanted = {root / relative for relative in files}
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file() and path not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


async def write_volumes(
    pod: Mapping[str, Any], root: pathlib.Path, fetch: Fetch
) -> dict[str, pathlib.Path]:
    """Write (or refresh) every volume of the pod under ``root``; name -> local directory."""
    local: dict[str, pathlib.Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        path = root / str(volume["name"])
        files = await _volume_files(pod, volume, fetch)
        if files is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            _sync_dir(path, files)
        local[str(volume["name"])] = path
    return local


def mounts(
    container: Mapping[str, Any], volumes: Mapping[str, pathlib.Path]
) -> list[tuple[str, pathlib.Path]]:
    """The container's (mountPath, local path) pairs, longest mount path first."""
    found: list[tuple[str, pathlib.Path]] = []
    for mount in container.get("volumeMounts") or []:
        base = volumes.get(str(mount.get("name")))
        if base is None:
            continue
        sub = str(mount.get("subPath") or "")
        found.append((str(mount["mountPath"]).rstrip("/") or "/", base / sub if sub else base))
    return sorted(found, key=lambda pair: len(pair[0]), reverse=True)


def _rewrite(value: str, pairs: Sequence[tuple[str, pathlib.Path]]) -> str:
    for mount_path, local in pairs:
        if value == mount_path:
            return str(local)
        if value.startswith(mount_path + "/"):
            return str(local / value[len(mount_path) + 1 :])
    return value


def rewrite_paths(argv: Sequence[str], pairs: Sequence[tuple[str, pathlib.Path]]) -> list[str]:
    """Replace command-line words (or ``-flag=value`` values) naming a path under a mount."""
    rewritten: list[str] = []
    for word in argv:
        if word.startswith("-") and "=" in word:
            flag, _, value = word.partition("=")
            rewritten.append(f"{flag}={_rewrite(value, pairs)}")
        else:
            rewritten.append(_rewrite(word, pairs))
    return rewritten
