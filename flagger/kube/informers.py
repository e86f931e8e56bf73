"""Watch-fed caches of reduced objects.

An `Informer` mirrors one kind (optionally one namespace, optionally a label selector) in memory:

1. LIST once, remember the list's resourceVersion;
2. WATCH from there, applying ADDED/MODIFIED/DELETED events and following BOOKMARKs, and when
   the server ends the watch (its timeout), WATCH again from the last version seen;
3. when the server answers 410 Gone (the version was compacted away), LIST again and diff the
   new snapshot against the cache, so subscribers still see every change and deletion.

The cache does not keep whole objects: each object goes through a caller-supplied
`reduce(obj) -> T` on arrival and only `T` is stored (e.g. a Secret becomes its checksum, a
Deployment its template hash and replica counts), so memory stays flat as clusters grow and
Secret data never lingers in the daemon.

Subscribers are plain callables `on_change(key, old, new)`, called on the event loop when the
reduced view of an object changes (`old` None: appeared; `new` None: deleted). Changes that
leave the reduced view equal are not reported, so a status-only update of a Deployment does not
wake a canary that only cares about its template. Callbacks must be quick (set an event, put a
key on a queue); an exception in one is logged and does not affect the others.

Errors other than 410 (the API server restarting, a network failure) are retried with a bounded
exponential backoff, resuming from the last resourceVersion.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, Generic, NamedTuple, TypeVar

from flagger.kube import client as kube_client
from flagger.kube import errors

__all__ = ["ChangeCallback", "Informer", "InformerSet", "ObjectKey", "key_of", "projected"]

T = TypeVar("T")
U = TypeVar("U")
log = logging.getLogger(__name__)

BACKOFF_INITIAL_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 30.0


class ObjectKey(NamedTuple):
    """Identifies an object in a cache; `namespace` is "" for cluster-scoped kinds."""

    namespace: str
    name: str


ChangeCallback = Callable[[ObjectKey, T | None, T | None], None]


def projected(view: Callable[[Any], U], on_change: ChangeCallback[U]) -> ChangeCallback[Any]:
    """A subscriber that sees ``view(object)`` and is called only when that view changes, for
    sharing one informer among subscribers that care about different parts of an object."""

    def changed(key: ObjectKey, old: Any, new: Any) -> None:
        before = None if old is None else view(old)
        after = None if new is None else view(new)
        if old is None or new is None or before != after:
            on_change(key, before, after)

    return changed


def key_of(obj: dict[str, Any]) -> ObjectKey:
    """The cache key of a raw object."""
    meta = obj.get("metadata") or {}
    return ObjectKey(str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class Informer(Generic[T]):
    """A list+watch cache of one kind, holding `reduce(obj)` per object."""

    def __init__(
        self,
        kube: kube_client.Kube,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        reduce: Callable[[dict[str, Any]], T],
        label_selector: str | None = None,
        watch_timeout_seconds: int = 300,
        resource_version: str | None = None,
    ) -> None:
        """`resource_version` resumes a watch without listing first (the cache then starts
        empty); normally leave it None."""
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self._kube = kube
        self._reduce = reduce
        self._label_selector = label_selector
        self._watch_timeout = watch_timeout_seconds
        self._resource_version = resource_version
        self._cache: dict[ObjectKey, T] = {}
        self._subscribers: list[ChangeCallback[T]] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.relists = 0
        """How many times the cache was rebuilt by a LIST (the first one included)."""

    def __repr__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"<Informer {self.kind}.{self.api_version}{where}: {len(self._cache)} objects>"

    # --- reading --------------------------------------------------------------------------

    def get(self, name: str, namespace: str | None = None) -> T | None:
        """The reduced view of an object, or None when the cache does not hold it."""
        return self._cache.get(ObjectKey(namespace or "", name))

    def keys(self) -> list[ObjectKey]:
        """Keys of every cached object."""
        return list(self._cache)

    def items(self) -> Iterator[tuple[ObjectKey, T]]:
        """Every cached object with its reduced view (a snapshot)."""
        return iter(list(self._cache.items()))

    @property
    def label_selector(self) -> str | None:
        """The label selector the informer watches with (None: every object)."""
        return self._label_selector

    def __len__(self) -> int:
        return len(self._cache)

    def __contains__(self, key: object) -> bool:
        return key in self._cache

    def __iter__(self) -> Iterator[ObjectKey]:
        return iter(list(self._cache))

    @property
    def resource_version(self) -> str | None:
        """The last resourceVersion seen (a watch resumes from it)."""
        return self._resource_version

    @property
    def synced(self) -> bool:
        """True once the first LIST (or the resumed watch) has filled the cache."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until the cache is filled (raises TimeoutError after `timeout`)."""
        await asyncio.wait_for(self._synced.wait(), timeout)

    # --- subscribing ----------------------------------------------------------------------

    def subscribe(
        self, on_change: ChangeCallback[T], *, replay: bool = False
    ) -> Callable[[], None]:
        """Call `on_change(key, old, new)` on every change; returns the unsubscribe function.
        With `replay`, first call it with `(key, None, value)` for every cached object."""
        self._subscribers.append(on_change)
        if replay:
            for key, value in list(self._cache.items()):
                self._call(on_change, key, None, value)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(on_change)

        return unsubscribe

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start listing and watching in a background task."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=repr(self))

    async def stop(self) -> None:
        """Stop watching (the cache keeps its last contents)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Informer[T]:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = BACKOFF_INITIAL_SECONDS
        while True:
            try:
                if self._resource_version is None:
                    await self._relist()
                else:
                    self._synced.set()
                await self._watch()
                backoff = BACKOFF_INITIAL_SECONDS
            except errors.Gone:
                log.debug("%r: resourceVersion %s expired, relisting", self, self._resource_version)
                self._resource_version = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%r: watch failed, retrying in %.1fs: %s", self, backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    async def _relist(self) -> None:
        objects, version = await self._kube.list_snapshot(
            self.api_version, self.kind, self.namespace, label_selector=self._label_selector
        )
        fresh = {key_of(obj): self._reduce(obj) for obj in objects}
        self.relists += 1
        for key in [k for k in self._cache if k not in fresh]:
            self._emit(key, self._cache.pop(key), None)
        for key, value in fresh.items():
            self._store(key, value)
        self._resource_version = version
        self._synced.set()

    async def _watch(self) -> None:
        async for event in self._kube.watch(
            self.api_version,
            self.kind,
            self.namespace,
            resource_version=self._resource_version,
            label_selector=self._label_selector,
            timeout_seconds=self._watch_timeout,
        ):
            obj: dict[str, Any] = event["object"]
            kind = event.get("type")
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if kind in ("ADDED", "MODIFIED"):
                self._store(key_of(obj), self._reduce(obj))
            elif kind == "DELETED":
                key = key_of(obj)
                if key in self._cache:
                    self._emit(key, self._cache.pop(key), None)
            if version:
                self._resource_version = str(version)

    def _store(self, key: ObjectKey, value: T) -> None:
        existed = key in self._cache
        old = self._cache.get(key)
        self._cache[key] = value
        if not existed or old != value:
            self._emit(key, old, value)

    def _emit(self, key: ObjectKey, old: T | None, new: T | None) -> None:
        for callback in list(self._subscribers):
            self._call(callback, key, old, new)

    def _call(
        self, callback: ChangeCallback[T], key: ObjectKey, old: T | None, new: T | None
    ) -> None:
        try:
            callback(key, old, new)
        except Exception:
            log.exception("%r: subscriber %r failed on %s/%s", self, callback, *key)


class InformerSet:
    """Starts, waits for and stops a group of informers together."""

    def __init__(self) -> None:
        self._informers: list[Informer[Any]] = []

    def add(self, informer: Informer[T]) -> Informer[T]:
        """Register an informer (started with the others); returns it."""
        self._informers.append(informer)
        return informer

    def __iter__(self) -> Iterator[Informer[Any]]:
        return iter(list(self._informers))

    @property
    def synced(self) -> bool:
        """True when every informer has listed once."""
        return all(informer.synced for informer in self._informers)

    def start(self) -> None:
        for informer in self._informers:
            informer.start()

    async def wait_synced(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(asyncio.gather(*(i.wait_synced() for i in self._informers)), timeout)

    async def stop(self) -> None:
        await asyncio.gather(*(i.stop() for i in self._informers))
