"""What a tick read from the watch caches, so a tick whose inputs did not move can be skipped.

Inside :func:`tracing`, every read a `~flagger.kube.cache.CachedKube` answers from its cache
records the object's resourceVersion (or its absence) in the current `Trace`; anything else
makes the trace *opaque*: a request to the API server (any `~flagger.kube.client.Kube`, reads
and writes alike), a list, an Event recorded, or the caller saying so (a hook called, a time
that matters). An opaque trace proves nothing and is never reused.

A trace that is not opaque says: this tick read exactly these objects and changed nothing.
While every one of them is still at the same resourceVersion in the cache (and none has a
write of ours in flight), the same tick would read the same things and decide the same — as
long as its decision does not depend on the clock, which the caller checks (the controller
reuses a trace only for canaries at rest: Initialized, Succeeded, Failed).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

__all__ = ["Trace", "opaque", "read", "tracing"]

Key = tuple[str, str, str, str]
"""(apiVersion, kind, namespace, name)"""


class Versions(Protocol):
    """Where a trace checks the versions it recorded (a `CachedKube`)."""

    def cached_version(self, key: Key) -> str | bool | None:
        """The cached object's resourceVersion, None when absent, False when it cannot tell
        (not cached, not synced, or a write of ours is in flight)."""


@dataclasses.dataclass
class Trace:
    """The objects one tick read, with their resourceVersions (None: absent)."""

    reads: dict[Key, str | None] = dataclasses.field(default_factory=dict)
    opaque: str = ""
    """Why the trace cannot be reused ("" when it can)."""

    def unchanged(self, versions: Versions) -> bool:
        """Whether every object read is still at the version read (and the trace reusable)."""
        if self.opaque or not self.reads:
            return False
        for key, version in self.reads.items():
            now = versions.cached_version(key)
            if now is False or now != version:
                return False
        return True


_CURRENT: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "flagger_read_trace", default=None
)


@contextlib.contextmanager
def tracing() -> Iterator[Trace]:
    """Record the reads of the block (this asyncio task only) in a new `Trace`."""
    trace = Trace()
    token = _CURRENT.set(trace)
    try:
        yield trace
    finally:
        _CURRENT.reset(token)


def read(key: Key, obj: Mapping[str, Any] | None) -> None:
    """A cached object (or its absence) was read."""
    trace = _CURRENT.get()
    if trace is not None and not trace.opaque:
        meta = (obj or {}).get("metadata") or {}
        trace.reads[key] = str(meta.get("resourceVersion") or "") if obj is not None else None


def opaque(why: str) -> None:
    """Something the trace cannot follow happened (a request, an Event, a hook, the clock)."""
    trace = _CURRENT.get()
    if trace is not None and not trace.opaque:
        trace.opaque = why
