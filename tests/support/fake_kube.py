"""An in-memory API server behind the `flagger.kube.client.Kube` interface, for fast tests.

`FakeKube` is a `Kube` (so it goes wherever the daemon takes one, and satisfies the read and
write methods the plugin API's Reader/KubeClient protocols name) whose requests never leave the
process. It keeps what the daemon relies on from a real API server:

- every write bumps one cluster-wide ``resourceVersion``; a write that names a stale one is a
  409 `Conflict`, a create of an existing object is a 409, a read/replace/patch of a missing
  object is a 404 `NotFound` (``get`` answers None and ``delete`` ignores it, as `Kube` does);
- ``generation`` moves only when something besides metadata and status changes; ``replace``
  keeps the stored status and ``replace_status`` / ``patch(subresource="status")`` change only
  the status (the status subresource);
- merge patches (RFC 7386), strategic merge patches (lists of named items merged by name) and
  JSON patches (add, remove, replace, test);
- deletion of an object holding finalizers only sets ``deletionTimestamp``; it goes once the
  last finalizer is removed;
- ``watch`` streams ADDED/MODIFIED/DELETED events from a resourceVersion (410 `Gone` after
  `compact`), so `flagger.kube.informers.Informer` and `flagger.kube.cache.CachedKube` can be
  fed from it (`CachedFakeKube`).

Tests script the rest: `inject` makes the next matching request fail (or runs a concurrent edit
first, so a 409 happens the way it does in a cluster), `roll_out` plays the workload
controllers (a Deployment's status converges at once), `calls` lists every request sent.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import dataclasses
import datetime
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from flagger.kube import cache, errors, read_trace
from flagger.kube import client as kube_client

__all__ = ["CachedFakeKube", "Call", "FakeKube", "merge_patch"]

_Key = tuple[str, str, str, str]
"""(apiVersion, kind, namespace, name)"""

WORKLOAD_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet"})
CLUSTER_SCOPED = frozenset(
    {"Namespace", "Node", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
)
#: What a test can make the next matching request do: raise this error, or call this first.
Injection = BaseException | Callable[[], object]


@dataclasses.dataclass(frozen=True)
class Call:
    """One request the fake served (or refused)."""

    verb: str
    """``get``, ``list``, ``create``, ``replace``, ``replace_status``, ``patch``, ``delete``,
    ``watch``."""
    kind: str
    namespace: str
    name: str = ""


@dataclasses.dataclass
class _Injected:
    verb: str
    kind: str | None
    name: str | None
    action: Injection
    times: int


@dataclasses.dataclass(frozen=True)
class _Change:
    version: int
    type: str
    key: _Key
    obj: dict[str, Any]


class FakeKube(kube_client.Kube):
    """A `Kube` answering from memory (see the module docstring)."""

    def __init__(self, api: Any = None, **kwargs: Any) -> None:
        super().__init__(api, **kwargs)
        self.objects: dict[_Key, dict[str, Any]] = {}
        """Stored objects; edit them through the methods (or `put`) so watchers see it."""
        self.calls: builtins.list[Call] = []
        self.roll_out = False
        """Play the workload controllers: a Deployment/DaemonSet/StatefulSet written through
        the fake reports its template rolled out and all its replicas ready at once."""
        self._version = 0
        self._history: builtins.list[_Change] = []
        self._oldest = 0
        self._unserved: set[tuple[str, str]] = set()
        self._injected: builtins.list[_Injected] = []
        self._changed = asyncio.Condition()

    # --- scripting ------------------------------------------------------------------------

    def inject(
        self,
        verb: str,
        action: Injection,
        *,
        kind: str | None = None,
        name: str | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` requests of ``verb`` (on ``kind``/``name`` when given) first run
        ``action``: an exception is raised instead of serving the request; a callable is called
        (e.g. an edit by someone else) and the request is then served."""
        self._injected.append(_Injected(verb, kind, name, action, times))

    def unserve(self, api_version: str, kind: str) -> None:
        """Answer requests for this kind as a server without its CRD does (`UnknownKind`)."""
        self._unserved.add((api_version, kind))

    def compact(self) -> None:
        """Forget the change history: watches from an older resourceVersion get 410 Gone."""
        self._history.clear()
        self._oldest = self._version

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or overwrite an object as another client would (spec, metadata and status as
        given; no version check); watchers see it. Returns the stored copy."""
        key = _key_of(obj)
        old = self.objects.get(key)
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        if old is None:
            self._born(stored)
        else:
            meta["uid"] = old["metadata"]["uid"]
            meta["creationTimestamp"] = old["metadata"].get("creationTimestamp")
            meta["generation"] = _next_generation(old, stored)
        return self._commit(key, stored, "ADDED" if old is None else "MODIFIED")

    def stored(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
        """A copy of a stored object (KeyError when missing), without counting a request."""
        return copy.deepcopy(self.objects[(api_version, kind, namespace, name)])

    def writes(self, kind: str | None = None) -> builtins.list[Call]:
        """The write requests served so far (of ``kind``)."""
        reads = {"get", "list", "watch"}
        return [c for c in self.calls if c.verb not in reads and kind in (None, c.kind)]

    # --- Kube: discovery and transport -----------------------------------------------------

    @property
    def api_client(self) -> Any:
        return None

    async def close(self) -> None:
        return None

    async def resource(self, api_version: str, kind: str) -> kube_client.Resource:
        if (api_version, kind) in self._unserved:
            raise errors.UnknownKind(
                404, "NotFound", f"the server does not serve {kind} in {api_version}"
            )
        plural = kind.lower() + ("es" if kind.endswith("s") else "s")
        return kube_client.Resource(api_version, kind, plural, kind not in CLUSTER_SCOPED)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        raise NotImplementedError(f"FakeKube serves no raw REST calls ({method} {path})")

    # --- Kube: reads -------------------------------------------------------------------------

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        await self._serve("get", api_version, kind, namespace, name)
        found = self.objects.get((api_version, kind, namespace or "", name))
        return copy.deepcopy(found) if found is not None else None

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        items, _ = await self.list_snapshot(
            api_version, kind, namespace, label_selector=label_selector
        )
        return items

    async def list_snapshot(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        await self._serve("list", api_version, kind, namespace, "")
        wanted = _selector(label_selector)
        items = [
            copy.deepcopy(obj)
            for (version, k, ns, _), obj in sorted(self.objects.items())
            if (version, k) == (api_version, kind)
            and (not namespace or ns == namespace)
            and _matches(obj, wanted)
        ]
        return items, str(self._version)

    # --- Kube: writes ------------------------------------------------------------------------

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        key = _key_of(obj)
        await self._serve("create", key[0], key[1], key[2], key[3])
        if key in self.objects:
            raise errors.Conflict(
                409, "AlreadyExists", f'{key[1].lower()} "{key[3]}" already exists'
            )
        stored = copy.deepcopy(obj)
        stored.setdefault("metadata", {}).pop("resourceVersion", None)
        self._born(stored)
        return self._commit(key, stored, "ADDED")

    async def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        key = _key_of(obj)
        await self._serve("replace", key[0], key[1], key[2], key[3])
        old = self._current(key, obj)
        stored = copy.deepcopy(obj)
        if "status" in old:
            stored["status"] = copy.deepcopy(old["status"])
        else:
            stored.pop("status", None)
        return self._update(key, old, stored)

    async def replace_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        key = _key_of(obj)
        await self._serve("replace_status", key[0], key[1], key[2], key[3])
        old = self._current(key, obj)
        stored = copy.deepcopy(old)
        stored["status"] = copy.deepcopy(obj.get("status") or {})
        return self._update(key, old, stored)

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: dict[str, Any] | builtins.list[Any],
        *,
        patch_type: kube_client.PatchType = "merge",
        subresource: str | None = None,
    ) -> dict[str, Any]:
        key = (api_version, kind, namespace or "", name)
        await self._serve("patch", *key)
        old = self.objects.get(key)
        if old is None:
            raise errors.NotFound(404, "NotFound", f'{kind.lower()} "{name}" not found')
        if isinstance(patch, dict):
            _check_version(old, (patch.get("metadata") or {}).get("resourceVersion"), key)
        if patch_type == "json":
            if not isinstance(patch, builtins.list):
                raise errors.ApiError(400, "BadRequest", "a JSON patch is a list of operations")
            patched = json_patch(old, patch)
        elif not isinstance(patch, dict):
            raise errors.ApiError(400, "BadRequest", f"a {patch_type} patch is an object")
        elif patch_type == "strategic":
            patched = strategic_merge_patch(old, patch)
        else:
            patched = merge_patch(old, patch)
        if subresource == "status":
            stored = {**copy.deepcopy(old), "status": patched.get("status") or {}}
        elif subresource == "scale":
            replicas = (patch.get("spec") or {}).get("replicas") if isinstance(patch, dict) else 0
            stored = copy.deepcopy(old)
            stored.setdefault("spec", {})["replicas"] = replicas
        else:
            stored = patched
            if "status" in old:
                stored["status"] = copy.deepcopy(old["status"])
        stored.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._update(key, old, stored)

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> None:
        key = (api_version, kind, namespace or "", name)
        await self._serve("delete", *key)
        old = self.objects.get(key)
        if old is None:
            return
        if old["metadata"].get("finalizers"):
            if not old["metadata"].get("deletionTimestamp"):
                marked = copy.deepcopy(old)
                marked["metadata"]["deletionTimestamp"] = _timestamp()
                self._commit(key, marked, "MODIFIED")
            return
        self._remove(key)

    # --- Kube: watch -------------------------------------------------------------------------

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
        bookmarks: bool = True,
    ) -> AsyncIterator[dict[str, Any]]:
        """Events after ``resource_version`` (all retained ones when None), then live ones,
        until ``timeout_seconds`` of the loop's clock have passed."""
        await self._serve("watch", api_version, kind, namespace, "")
        since = int(resource_version) if resource_version else self._oldest
        if since < self._oldest:
            raise errors.Gone(410, "Expired", f"too old resource version: {since}")
        wanted = _selector(label_selector)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while True:
            for change in [c for c in self._history if c.version > since]:
                since = change.version
                if (change.key[0], change.key[1]) != (api_version, kind):
                    continue
                if namespace and change.key[2] != namespace:
                    continue
                if _matches(change.obj, wanted):
                    yield {"type": change.type, "object": copy.deepcopy(change.obj)}
            if since < self._oldest:
                raise errors.Gone(410, "Expired", f"too old resource version: {since}")
            left = deadline - loop.time()
            if left <= 0:
                return
            async with self._changed:
                if self._version == since:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                    # cancellation that races the wake-up, and the informer would never stop
                    try:
                        async with asyncio.timeout(left):
                            await self._changed.wait()
                    except TimeoutError:
                        return

    # --- internals ---------------------------------------------------------------------------

    async def _serve(
        self, verb: str, api_version: str, kind: str, namespace: str | None, name: str
    ) -> None:
        self.calls.append(Call(verb, kind, namespace or "", name))
        if verb != "watch":
            read_trace.opaque(f"{verb} {kind}")  # as Kube's transport does for every request
        http = {"get": "GET", "list": "GET", "create": "POST", "patch": "PATCH"}
        self.requests[http.get(verb, "DELETE" if verb == "delete" else "PUT")] += 1
        if verb == "watch":
            self.requests["PUT"] -= 1
            self.requests["WATCH"] += 1
        await self.resource(api_version, kind)
        for injected in self._injected:
            if injected.verb != verb or injected.times <= 0:
                continue
            if injected.kind not in (None, kind) or injected.name not in (None, name):
                continue
            injected.times -= 1
            if isinstance(injected.action, BaseException):
                raise injected.action
            injected.action()
            break
        await asyncio.sleep(0)  # a request is a suspension point, as over the network

    def _current(self, key: _Key, obj: dict[str, Any]) -> dict[str, Any]:
        old = self.objects.get(key)
        if old is None:
            raise errors.NotFound(404, "NotFound", f'{key[1].lower()} "{key[3]}" not found')
        _check_version(old, (obj.get("metadata") or {}).get("resourceVersion"), key)
        return old

    def _born(self, stored: dict[str, Any]) -> None:
        meta = stored.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _timestamp())
        meta["generation"] = 1

    def _update(self, key: _Key, old: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
        meta = stored.setdefault("metadata", {})
        for kept in ("uid", "creationTimestamp", "deletionTimestamp"):
            if kept in old["metadata"]:
                meta[kept] = old["metadata"][kept]
        meta["generation"] = _next_generation(old, stored)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(key)
            return copy.deepcopy(stored)
        if _without_version(stored) == _without_version(old):
            return copy.deepcopy(old)  # a no-op write keeps the version, as the API server does
        return self._commit(key, stored, "MODIFIED")

    def _commit(self, key: _Key, stored: dict[str, Any], event: str) -> dict[str, Any]:
        stored["apiVersion"], stored["kind"] = key[0], key[1]
        if self.roll_out and key[1] in WORKLOAD_KINDS:
            _rolled_out(stored)
        self._version += 1
        stored["metadata"]["resourceVersion"] = str(self._version)
        self.objects[key] = stored
        self._record(_Change(self._version, event, key, copy.deepcopy(stored)))
        return copy.deepcopy(stored)

    def _remove(self, key: _Key) -> None:
        gone = self.objects.pop(key)
        self._version += 1
        gone["metadata"]["resourceVersion"] = str(self._version)
        self._record(_Change(self._version, "DELETED", key, gone))

    def _record(self, change: _Change) -> None:
        self._history.append(change)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


class CachedFakeKube(cache.CachedKube, FakeKube):
    """`flagger.kube.cache.CachedKube` over the in-memory API server: reads of cached kinds
    come from informers fed by the fake's watch, with read-your-writes."""

    def __init__(self, api: Any = None, **kwargs: Any) -> None:
        super().__init__(api, **kwargs)


# --- patches -----------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Kubernetes' strategic merge patch, as far as the daemon uses it: a merge patch whose
    lists of named objects (containers, ports, env...) merge item by item on ``name``."""
    if isinstance(patch, builtins.list) and isinstance(target, builtins.list) and _named(patch):
        merged = [copy.deepcopy(item) for item in target]
        names = [item.get("name") if isinstance(item, dict) else None for item in merged]
        for item in patch:
            if item["name"] in names:
                at = names.index(item["name"])
                merged[at] = strategic_merge_patch(merged[at], item)
            else:
                merged.append(copy.deepcopy(item))
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = strategic_merge_patch(result.get(name), value)
    return result


def json_patch(target: dict[str, Any], operations: builtins.list[Any]) -> dict[str, Any]:
    """RFC 6902 JSON patch (add, remove, replace, test); a failed ``test`` or a missing path
    is a 422, as the API server answers."""
    doc = copy.deepcopy(target)
    for op in operations:
        *parents, last = [
            p.replace("~1", "/").replace("~0", "~") for p in str(op["path"]).split("/")[1:]
        ]
        node: Any = doc
        try:
            for part in parents:
                node = node[int(part)] if isinstance(node, builtins.list) else node[part]
            kind = op["op"]
            if kind == "test":
                current = node[int(last)] if isinstance(node, builtins.list) else node[last]
                if current != op["value"]:
                    raise errors.Invalid(422, "Invalid", f"test failed at {op['path']}")
            elif kind == "remove":
                del node[int(last) if isinstance(node, builtins.list) else last]
            elif kind in ("add", "replace"):
                if isinstance(node, builtins.list):
                    at = len(node) if last == "-" else int(last)
                    if kind == "add":
                        node.insert(at, copy.deepcopy(op["value"]))
                    else:
                        node[at] = copy.deepcopy(op["value"])
                else:
                    if kind == "replace" and last not in node:
                        raise KeyError(last)
                    node[last] = copy.deepcopy(op["value"])
            else:
                raise errors.ApiError(400, "BadRequest", f"unsupported JSON patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise errors.Invalid(422, "Invalid", f"{op['op']} {op['path']}: {exc}") from None
    return doc


# --- helpers -----------------------------------------------------------------------------------


def _named(items: builtins.list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def _key_of(obj: dict[str, Any]) -> _Key:
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind") or "")
    namespace = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or "")
    return (str(obj.get("apiVersion") or ""), kind, namespace, str(meta.get("name") or ""))


def _check_version(old: dict[str, Any], given: Any, key: _Key) -> None:
    if given and str(given) != old["metadata"]["resourceVersion"]:
        raise errors.Conflict(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {key[1].lower()} "{key[3]}": the object has been '
            "modified; please apply your changes to the latest version and try again",
        )


def _next_generation(old: dict[str, Any], new: dict[str, Any]) -> int:
    generation = int(old["metadata"].get("generation") or 1)
    spec = {k: v for k, v in old.items() if k not in ("metadata", "status")}
    changed = {k: v for k, v in new.items() if k not in ("metadata", "status")}
    return generation + 1 if spec != changed else generation


def _without_version(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


def _selector(selector: str | None) -> builtins.list[tuple[str, str, str]]:
    """``a=b,c!=d,e,!f`` as (op, key, value) triples."""
    found: builtins.list[tuple[str, str, str]] = []
    for part in (selector or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "!=" in part:
            name, _, value = part.partition("!=")
            found.append(("!=", name.strip(), value.strip()))
        elif "=" in part:
            name, _, value = part.replace("==", "=").partition("=")
            found.append(("=", name.strip(), value.strip()))
        elif part.startswith("!"):
            found.append(("!", part[1:].strip(), ""))
        else:
            found.append(("exists", part, ""))
    return found


def _matches(obj: dict[str, Any], wanted: builtins.list[tuple[str, str, str]]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    checks: dict[str, Callable[[str, str], bool]] = {
        "=": lambda k, v: labels.get(k) == v,
        "!=": lambda k, v: labels.get(k) != v,
        "exists": lambda k, v: k in labels,
        "!": lambda k, v: k not in labels,
    }
    return all(checks[op](name, value) for op, name, value in wanted)


def _rolled_out(obj: dict[str, Any]) -> None:
    """The status a workload controller reports once the template runs on every replica."""
    spec = obj.get("spec") or {}
    replicas = int(spec.get("replicas", 1) if obj["kind"] != "DaemonSet" else 1)
    generation = obj["metadata"].get("generation", 1)
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ],
    }
    if obj["kind"] == "DaemonSet":
        status = {
            "observedGeneration": generation,
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "updatedNumberScheduled": 1,
            "numberReady": 1,
            "numberAvailable": 1,
            "numberUnavailable": 0,
        }
    elif obj["kind"] == "StatefulSet":
        status = {
            **status,
            "currentReplicas": replicas,
            "currentRevision": "r",
            "updateRevision": "r",
        }
    obj["status"] = status


def _timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
