"""Reads served from watch caches, with read-your-writes.

`CachedKube` is a `Kube` whose ``get`` and ``list`` answer from informers for the kinds it was
told to cache (`cache(api_version, kind)`), and from the API server for every other kind. The
informers hold a projection of each object (`project`: no ``managedFields``), which bounds the
daemon's memory, and callers get their own copy (they may edit it and write it back).

The rule that makes serving from a cache safe: never decide on state older than your own write.
Every write made through this client (create, replace, status, patch, delete) records the
resourceVersion the API server answered with; the next read of that object waits until the
informer has seen that version (or, after ``READ_YOUR_WRITES_SECONDS``, reads through to the API
server once). A write refused with 409 Conflict makes the next read of that object read through,
so a retry starts from the API server's copy.

A miss in a synced cache is an answer (the object does not exist, or is outside the watched
namespace/selector — which for a sharded daemon means "not ours"); reads outside the cached
namespace, or with a label selector other than ``key=value`` pairs, go to the API server.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
from collections.abc import Mapping
from typing import Any

from flagger.kube import client as kube_client
from flagger.kube import errors, informers, read_trace

__all__ = ["CachedKube", "peek", "project"]

READ_YOUR_WRITES_SECONDS = 2.0
_GONE = -1
_STALE = -2


def project(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without ``metadata.managedFields``, which the daemon never reads and which is
    often the larger part of an object. (kubectl's last-applied annotation stays: the Service
    router reads it when giving a Service back on deletion.)"""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _version(obj: dict[str, Any] | None) -> int | None:
    raw = ((obj or {}).get("metadata") or {}).get("resourceVersion")
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


_Key = tuple[str, str, str, str]
"""(apiVersion, kind, namespace, name)"""


class CachedKube(kube_client.Kube):
    """A `Kube` reading the kinds it caches from informers, with read-your-writes."""

    def __init__(self, api: Any, **kwargs: Any) -> None:
        super().__init__(api, **kwargs)
        self._caches: dict[tuple[str, str], informers.Informer[dict[str, Any]]] = {}
        self._pending: dict[_Key, int] = {}
        self._arrivals: dict[_Key, asyncio.Event] = {}
        self.reads: collections.Counter[str] = collections.Counter()
        """``cache`` / ``api`` / ``read-through``: where reads of cached kinds were answered."""

    # --- what is cached ---------------------------------------------------------------------

    def cache(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> informers.Informer[dict[str, Any]]:
        """Serve reads of ``kind`` from a new informer (the caller starts it); returns it."""
        informer: informers.Informer[dict[str, Any]] = informers.Informer(
            self, api_version, kind, namespace, reduce=project, label_selector=label_selector
        )
        informer.subscribe(self._arrived(api_version, kind))
        self._caches[(api_version, kind)] = informer
        return informer

    def cached(self) -> dict[str, int]:
        """``Kind`` -> objects held, for the cache-size metric."""
        return {kind: len(informer) for (_, kind), informer in self._caches.items()}

    def _serving(
        self, api_version: str, kind: str, namespace: str | None
    ) -> informers.Informer[dict[str, Any]] | None:
        informer = self._caches.get((api_version, kind))
        if informer is None or not informer.synced:
            return None
        if informer.namespace and namespace != informer.namespace:
            return None
        return informer

    # --- reads ------------------------------------------------------------------------------

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        found = await self.peek(api_version, kind, name, namespace)
        return _copy(found) if found is not None else None

    async def peek(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Mapping[str, Any] | None:
        """Like `get`, but a cached object is the cache's own, not a copy: read it, never
        change it (copy what you mean to write). Same read-your-writes rule as `get`."""
        informer = self._serving(api_version, kind, namespace)
        if informer is None:
            return await super().get(api_version, kind, name, namespace)
        key = (api_version, kind, namespace or "", name)
        if key in self._pending and not await self._caught_up(informer, key):
            self.reads["read-through"] += 1
            return await super().get(api_version, kind, name, namespace)
        self.reads["cache"] += 1
        found = informer.get(name, namespace)
        read_trace.read(key, found)
        return found

    def cached_version(self, key: _Key) -> str | bool | None:
        """The cached resourceVersion of ``key`` (None: not there); False when the cache cannot
        answer for it (not cached or synced, or a write of ours not seen yet). For
        `read_trace.Trace.unchanged`."""
        api_version, kind, namespace, name = key
        informer = self._serving(api_version, kind, namespace or None)
        if informer is None or key in self._pending:
            return False
        found = informer.get(name, namespace or None)
        if found is None:
            return None
        return str((found.get("metadata") or {}).get("resourceVersion") or "")

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        informer = self._caches.get((api_version, kind))
        wanted = _equalities(label_selector)
        pending = any(k[:2] == (api_version, kind) for k in self._pending)
        if (
            informer is None
            or not informer.synced
            or wanted is None
            or pending
            or (informer.namespace and namespace != informer.namespace)
        ):
            return await super().list(api_version, kind, namespace, label_selector=label_selector)
        self.reads["cache"] += 1
        read_trace.opaque(f"list {kind}")  # which objects a list saw is not recorded
        found = []
        for key, obj in informer.items():
            if namespace and key.namespace != namespace:
                continue
            labels = (obj.get("metadata") or {}).get("labels") or {}
            if all(labels.get(k) == v for k, v in wanted.items()):
                found.append(_copy(obj))
        return found

    # --- writes (recorded for read-your-writes) -----------------------------------------------

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._wrote(await super().create(obj))

    async def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._wrote(await super().replace(obj))
        except errors.Conflict:
            self._mark(self._key_of(obj), _STALE)
            raise

    async def replace_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._wrote(await super().replace_status(obj))
        except errors.Conflict:
            self._mark(self._key_of(obj), _STALE)
            raise

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
        try:
            patched = await super().patch(
                api_version,
                kind,
                name,
                namespace,
                patch,
                patch_type=patch_type,
                subresource=subresource,
            )
        except errors.Conflict:
            self._mark(key, _STALE)
            raise
        self._mark(key, _version(patched))
        return patched

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> None:
        await super().delete(api_version, kind, name, namespace)
        self._mark((api_version, kind, namespace or "", name), _GONE)

    # --- read-your-writes ---------------------------------------------------------------------

    @staticmethod
    def _key_of(obj: dict[str, Any]) -> _Key:
        meta = obj.get("metadata") or {}
        return (
            str(obj.get("apiVersion") or ""),
            str(obj.get("kind") or ""),
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
        )

    def _wrote(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._mark(self._key_of(obj), _version(obj))
        return obj

    def _mark(self, key: _Key, version: int | None) -> None:
        if key[:2] not in self._caches:
            return
        self._pending[key] = _STALE if version is None else version

    def _seen(self, informer: informers.Informer[dict[str, Any]], key: _Key) -> bool:
        """Whether the cache reflects our last write of ``key``."""
        want = self._pending.get(key)
        if want is None:
            return True
        if want == _STALE:
            return False
        held = informer.get(key[3], key[2] or None)
        if want == _GONE:
            return held is None
        have = _version(held)
        return have is not None and have >= want

    async def _caught_up(self, informer: informers.Informer[dict[str, Any]], key: _Key) -> bool:
        """Wait (bounded) until the cache has seen our last write of ``key``; False when it
        did not in time, or when the object must be read from the API server once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READ_YOUR_WRITES_SECONDS
        while not self._seen(informer, key):
            left = deadline - loop.time()
            if self._pending.get(key) == _STALE or left <= 0:
                self._pending.pop(key, None)
                self._arrivals.pop(key, None)
                return False
            event = self._arrivals.setdefault(key, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), left)
            event.clear()
        self._pending.pop(key, None)
        self._arrivals.pop(key, None)
        return True

    def _arrived(self, api_version: str, kind: str) -> informers.ChangeCallback[dict[str, Any]]:
        def changed(
            key: informers.ObjectKey, old: dict[str, Any] | None, new: dict[str, Any] | None
        ) -> None:
            event = self._arrivals.get((api_version, kind, key.namespace, key.name))
            if event is not None:
                event.set()

        return changed


async def peek(
    reader: Any, api_version: str, kind: str, name: str, namespace: str | None = None
) -> Mapping[str, Any] | None:
    """A read-only read through any `Reader`: the cache's own object (no copy) when ``reader``
    is a `CachedKube`, else ``reader.get``. For hot paths that only look (readiness, hashes,
    comparing desired with current); never change what it returns."""
    if isinstance(reader, CachedKube):
        return await reader.peek(api_version, kind, name, namespace)
    found: Mapping[str, Any] | None = await reader.get(api_version, kind, name, namespace)
    return found


def _copy(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars), several times faster than
    ``copy.deepcopy``, which a read of every cached object pays."""
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value


def _equalities(selector: str | None) -> dict[str, str] | None:
    """``a=b,c==d`` as a dict; None for anything else (set-based, ``!=``, existence)."""
    if not selector:
        return {}
    found: dict[str, str] = {}
    for part in selector.split(","):
        if "!=" in part or "=" not in part or " in " in part or "(" in part:
            return None
        name, _, value = part.replace("==", "=").partition("=")
        found[name.strip()] = value.strip()
    return found
