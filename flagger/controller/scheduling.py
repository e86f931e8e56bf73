"""One asyncio task per canary, ticking on its interval and woken early by what it depends on.

Each Canary gets a task that runs a tick at once, then one every ``analysis.interval``, as
Flagger's scheduler does: at a fixed rate (a tick is due one interval after the previous one was
due, however long it took), with at most ``MAX_CONCURRENT_TICKS`` ticks of different canaries
running at once, so a slow webhook or provider call of one canary holds one slot and delays no
other. How late each tick starts against when it was due is the
``flagger_tick_lateness_seconds`` histogram; due ticks waiting for a slot are the queue depth.
Watch-fed caches wake a canary's task before its interval is up:

- the Canary's spec changed (its ``generation``; status writes do not wake anything), or a
  person asked for an action (the ``flagger.app/action`` annotation changed);
- its target's pod template changed (replica or status changes do not);
- a ConfigMap or Secret in its ``status.trackedConfigs`` changed (by content checksum).

A wake-up never runs two ticks of one canary at once, and a tick that raises is logged, reported
and retried on the next interval: one broken canary never stops or slows the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

from flagger.api import actions
from flagger.controller import ticking
from flagger.kube import errors as kube_errors
from flagger.kube import informers
from flagger.observability import logs
from flagger.workloads import configs, revision

log = logs.get_logger("flagger.scheduler")
RETRY_SECONDS = 10.0
#: A tick mostly waits (API writes, webhooks): in a burst a tick took ~5 s of wall time for a few
#: ms of CPU, so 1,000 canaries woken at once need hundreds of slots to be detected in seconds.
#: Creates, the API server's expensive writes, have their own bound (``kube.client``).
MAX_CONCURRENT_TICKS = 256


@dataclasses.dataclass(frozen=True)
class CanaryView:
    """What the Canary cache keeps: enough to know a tick is due (not the whole object)."""

    generation: int
    deleting: bool
    action: str = ""


def reduce_canary(obj: dict[str, Any]) -> CanaryView:
    """A Canary, reduced to its generation, whether it is being deleted, and the request made
    by hand (``flagger.app/action``: metadata, so it does not move the generation)."""
    meta = obj.get("metadata") or {}
    return CanaryView(
        int(meta.get("generation") or 0),
        bool(meta.get("deletionTimestamp")),
        str((meta.get("annotations") or {}).get(actions.ANNOTATION) or ""),
    )


def reduce_workload(obj: dict[str, Any]) -> str:
    """A Deployment or DaemonSet, reduced to the hash of its pod template."""
    return revision.template_hash((obj.get("spec") or {}).get("template"))


def reduce_config(obj: dict[str, Any]) -> str:
    """A ConfigMap or Secret, reduced to the checksum of its data (Secrets keep no data)."""
    return configs.config_checksum(obj) or ""


class Scheduler:
    """Starts, wakes and stops the canary tasks of one daemon."""

    def __init__(self, shell: ticking.Shell) -> None:
        self.shell = shell
        self.tasks: dict[informers.ObjectKey, asyncio.Task[None]] = {}
        self.wakes: dict[informers.ObjectKey, asyncio.Event] = {}
        self._targets: dict[informers.ObjectKey, informers.ObjectKey] = {}
        self._tracked: dict[informers.ObjectKey, frozenset[str]] = {}
        # reverse indexes, so a watch event wakes its canaries without a scan of all of them
        self._by_target: dict[informers.ObjectKey, set[informers.ObjectKey]] = {}
        self._by_config: dict[tuple[str, str], set[informers.ObjectKey]] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_TICKS)
        self.queued = 0
        """Ticks that are due and wait for a slot."""
        self.running = 0
        """Ticks running now."""

    # --- informer callbacks -----------------------------------------------------------------

    def canary_changed(
        self, key: informers.ObjectKey, old: CanaryView | None, new: CanaryView | None
    ) -> None:
        """A Canary appeared, changed its spec, or went away."""
        if new is None:
            self.stop(key)
            self._count(key.namespace)
            return
        if key not in self.tasks or self.tasks[key].done():
            self.wakes[key] = asyncio.Event()
            self.tasks[key] = asyncio.create_task(
                self._run(key), name=f"canary {key.name}.{key.namespace}"
            )
            self._count(key.namespace)
        else:
            self.wake(key)

    def workload_changed(self, key: informers.ObjectKey, old: str | None, new: str | None) -> None:
        """A Deployment or DaemonSet changed its pod template."""
        for canary in list(self._by_target.get(key, ())):
            self.wake(canary)

    def config_changed(self, kind: str) -> informers.ChangeCallback[str]:
        """A callback for ConfigMaps (``kind`` "configmap") or Secrets ("secret")."""

        def changed(key: informers.ObjectKey, old: str | None, new: str | None) -> None:
            for canary in list(self._by_config.get((key.namespace, f"{kind}/{key.name}"), ())):
                self.wake(canary)

        return changed

    def _count(self, namespace: str) -> None:
        """``flagger_canary_total{namespace}``."""
        count = sum(1 for key in self.tasks if key.namespace == namespace)
        self.shell.metrics.set_total(namespace, count)

    # --- tasks ------------------------------------------------------------------------------

    def wake(self, key: informers.ObjectKey) -> None:
        """Run the canary's next tick now."""
        event = self.wakes.get(key)
        if event is not None:
            event.set()

    def stop(self, key: informers.ObjectKey) -> None:
        """Stop the canary's task (it was deleted)."""
        task = self.tasks.pop(key, None)
        if task is not None:
            task.cancel()
        self.wakes.pop(key, None)
        self._follow(key, None, frozenset())
        self.shell.resting.pop((key.namespace, key.name), None)

    def _follow(
        self, key: informers.ObjectKey, target: informers.ObjectKey | None, tracked: frozenset[str]
    ) -> None:
        """Record what wakes canary ``key``: its target workload and its tracked configs."""
        old_target = self._targets.pop(key, None)
        if old_target is not None and old_target != target:
            _unindex(self._by_target, old_target, key)
        if target is not None:
            self._targets[key] = target
            self._by_target.setdefault(target, set()).add(key)
        old_tracked = self._tracked.pop(key, frozenset())
        for name in old_tracked - tracked:
            _unindex(self._by_config, (key.namespace, name), key)
        if tracked:
            self._tracked[key] = tracked
        for name in tracked - old_tracked:
            self._by_config.setdefault((key.namespace, name), set()).add(key)

    async def close(self) -> None:
        """Cancel every task and wait for them."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()

    async def _run(self, key: informers.ObjectKey) -> None:
        loop = asyncio.get_running_loop()
        wake = self.wakes[key]
        due = loop.time()
        while True:
            wake.clear()
            interval = RETRY_SECONDS
            try:
                outcome = await self._tick(key, due)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or an outage: report, and try again later
                log.failure(
                    f"Canary {key.name}.{key.namespace} tick failed",
                    exc,
                    expected=kube_errors.is_outage(exc),
                )
            else:
                if not outcome.exists:
                    self.tasks.pop(key, None)
                    self.stop(key)
                    return
                interval = outcome.interval
                target = self._targets.get(key)
                if outcome.target:
                    target = informers.ObjectKey(key.namespace, outcome.target)
                self._follow(key, target, outcome.tracked)
            # Fixed rate: due one interval after the last due time; when more than an interval
            # behind, one catch-up tick rather than a burst.
            due = max(due + interval, loop.time() - interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.0, due - loop.time()))
            if wake.is_set():
                due = loop.time()

    async def _tick(self, key: informers.ObjectKey, due: float) -> ticking.Outcome:
        """One tick in a concurrency slot; its lateness against ``due`` is recorded."""
        self.queued += 1
        try:
            await self._slots.acquire()
        finally:
            self.queued -= 1
        self.running += 1
        try:
            late = asyncio.get_running_loop().time() - due
            self.shell.metrics.observe_lateness(max(0.0, late))
            return await ticking.tick(self.shell, key.name, key.namespace)
        finally:
            self.running -= 1
            self._slots.release()


def _unindex(index: dict[Any, set[informers.ObjectKey]], at: Any, key: informers.ObjectKey) -> None:
    keys = index.get(at)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[at]
