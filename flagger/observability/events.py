"""Kubernetes Events on a Canary, as Flagger records them.

Flagger reports each step three ways at once (``pkg/controller/events.go``), and so does
:class:`EventRecorder`:

1. a log line with the canary's ``name.namespace`` in the ``canary`` field;
2. a core/v1 Event on the Canary with reason ``Synced``, source component ``flagger`` and the
   Canary's uid and resourceVersion in ``involvedObject``, so ``kubectl describe canary`` lists it;
3. the event webhooks (an optional callback; :mod:`flagger.hooks.event_hooks` implements
   Flagger's rule that a Canary's ``event`` hooks replace the global ``-event-webhook``).

The three entry points keep Flagger's pairing of event type and log level::

    record_info     Normal event    info log     (recordEventInfof)
    record_warning  Warning event   info log     (recordEventWarningf)
    record_error    Warning event   error log    (recordEventErrorf)

Like client-go's event recorder, an Event identical to one already written (same canary uid,
type, reason and message) is not written again: the existing Event's ``count`` goes up and its
``lastTimestamp`` moves (a strategic merge patch). The memory of written Events is an LRU of
4096 entries, and an Event that has expired from the API server is created again.

Recording never blocks or fails the caller: the log line is written at once, the API write and
the webhook call run in the background, at most ``max_in_flight`` of each at a time and at most
``max_pending`` queued (beyond that a new event is dropped — a repeat of one already waiting is
not, it merges into that write — an error line names the first drop and
then at most one line per ``DROP_LOG_SECONDS`` counts the drops since, and
``flagger_events_dropped_total`` counts them all, beside ``flagger_events_pending``). client-go
drops beyond 1,000 queued; the default here is 5,000, a burst rollout of 1,000 canaries needs
that much while the client-side rate limit (``-kubeconfig-qps``) holds writes back. Failures
are logged and forgotten. :meth:`EventRecorder.flush` waits for what is queued (tests,
graceful stop).
Inside :meth:`EventRecorder.held` (a tick's decision and its status write) Events and webhook
calls wait for the block to end and are dropped when it raises: a tick whose status could not be
written runs again and records them again, so a step's Event is counted once.
Unlike client-go, there is no spam filter dropping a canary's events after a burst of 25.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import dataclasses
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.kube import errors as kube_errors
from flagger.kube import read_trace
from flagger.observability import logs, redaction

__all__ = ["NORMAL", "REASON", "WARNING", "EventCallback", "EventRecorder"]

NORMAL = "Normal"
WARNING = "Warning"
#: The reason of every event Flagger records.
REASON = "Synced"
#: ``source.component`` and ``reportingComponent`` of the events.
COMPONENT = "flagger"
_CACHE_SIZE = 4096
#: After the first dropped event, at most one error line per this many seconds.
DROP_LOG_SECONDS = 10.0
_API_TIMEOUT_SECONDS = 10

#: Called with (canary, message, event type) for every recorded event.
EventCallback = Callable[[canary_api.Canary, str, str], Awaitable[object]]

log = logs.get_logger(__name__)

_Key = tuple[str, str, str, str, str, str]
#: (canary, event type, message, time) of the events recorded inside ``EventRecorder.held``.
_Held = list[tuple[canary_api.Canary, str, str, float]]
_HELD: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("held_events", default=None)


@dataclasses.dataclass
class _Written:
    """An Event this recorder wrote: its name and how many times it has been seen."""

    name: str
    count: int
    first_timestamp: str


@dataclasses.dataclass
class _KeyLock:
    """Serialises writes of identical events; dropped when nobody uses it. Repeats that queue
    behind a write are written by the next one as one count increase (``queued``), so a backlog
    of a canary's "not ready" repeats costs one PATCH, not one each."""

    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    users: int = 0
    queued: int = 0
    """Repeats recorded and not yet written."""
    latest: float = 0.0
    """When the newest of them was recorded."""


def _rfc3339(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(int(seconds), tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Records Flagger's events on Canaries (see the module docstring).

    ``api_client`` is the daemon's `flagger.kube.client.Kube` (Events written as raw JSON) or a
    kubernetes-asyncio ``ApiClient``; ``None`` records to the log (and the callback) only, as
    ``flagger simulate`` needs. ``on_event`` is awaited for every event.
    """

    def __init__(
        self,
        api_client: Any | None,
        *,
        on_event: EventCallback | None = None,
        component: str = COMPONENT,
        max_in_flight: int = 32,
        max_pending: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._core: Any = None
        if isinstance(api_client, kube_client.Kube):
            self._core = _RawEvents(api_client)
        elif api_client is not None:
            from kubernetes_asyncio import client

            self._core = client.CoreV1Api(api_client)
        self.on_event = on_event
        self.component = component
        self.max_pending = max_pending
        self._clock = clock
        self._api_slots = asyncio.Semaphore(max_in_flight)
        self._hook_slots = asyncio.Semaphore(max_in_flight)
        self._written: collections.OrderedDict[_Key, _Written] = collections.OrderedDict()
        self._locks: dict[_Key, _KeyLock] = {}
        self._pending: set[asyncio.Task[None]] = set()
        # the last delivery per canary (namespace, name): its webhook call goes first
        self._last_forward: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.dropped = 0
        """Events dropped because ``max_pending`` were queued (``flagger_events_dropped_total``)."""
        self._drop_logged_at: float | None = None
        self._dropped_unlogged = 0

    # --- the three entry points, as in Flagger ----------------------------------------------

    def record_info(self, canary: canary_api.Canary, message: str) -> None:
        """A Normal event, logged at info level."""
        self.record(canary, NORMAL, message, logging.INFO)

    def record_warning(self, canary: canary_api.Canary, message: str) -> None:
        """A Warning event, logged at info level (Flagger's ``recordEventWarningf``)."""
        self.record(canary, WARNING, message, logging.INFO)

    def record_error(self, canary: canary_api.Canary, message: str) -> None:
        """A Warning event, logged at error level (Flagger's ``recordEventErrorf``)."""
        self.record(canary, WARNING, message, logging.ERROR)

    def record(self, canary: canary_api.Canary, event_type: str, message: str, level: int) -> None:
        """Log ``message`` now; write the Event and call the webhooks in the background.

        Credentials in URLs are redacted first: no Event, log line or event webhook sees them.
        """
        message = redaction.redact(message)
        read_trace.opaque("event")  # a tick that records an Event is not at rest
        log.log(level, message, canary=canary)
        if self._core is None and self.on_event is None:
            return
        held = _HELD.get()
        if held is not None:
            held.append((canary, event_type, message, self._clock()))
            return
        self._deliver_later(canary, event_type, message, self._clock())

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Log events recorded in the block at once, but write and send them only when the block
        ends without an exception; drop them when it raises (the caller will do that work again
        and record them again). Per asyncio task: other canaries' events are not held."""
        held: _Held = []
        token = _HELD.set(held)
        try:
            yield
        except BaseException:
            if held:
                log.debug(
                    "%d events not recorded: the tick that recorded them failed",
                    len(held),
                    canary=held[0][0],
                )
            raise
        finally:
            _HELD.reset(token)
        for canary, event_type, message, now in held:
            self._deliver_later(canary, event_type, message, now)

    def _deliver_later(
        self, canary: canary_api.Canary, event_type: str, message: str, now: float
    ) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.error("event not recorded (no event loop running): %s", message, canary=canary)
            return
        if len(self._pending) >= self.max_pending and (
            self._core is None or _key_of(canary, event_type, message) not in self._locks
        ):  # a repeat of an Event already waiting merges into its write: never dropped
            self._drop(canary, message)
            return
        order = (canary.namespace, canary.name)
        previous = self._last_forward.get(order)
        task = loop.create_task(self._deliver(canary, event_type, message, now, previous))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        self._last_forward[order] = task
        task.add_done_callback(lambda done: self._forget_forward(order, done))

    def _drop(self, canary: canary_api.Canary, message: str) -> None:
        """Count a dropped event; log the first, then a count at most every DROP_LOG_SECONDS."""
        self.dropped += 1
        self._dropped_unlogged += 1
        now = time.monotonic()
        if self._drop_logged_at is not None and now - self._drop_logged_at < DROP_LOG_SECONDS:
            return
        more = self._dropped_unlogged - 1
        log.error(
            "event dropped, %d events already pending: %s%s",
            len(self._pending),
            message,
            f" ({more} more dropped since the last report)" if more else "",
            canary=canary,
        )
        self._drop_logged_at = now
        self._dropped_unlogged = 0

    def _forget_forward(self, order: tuple[str, str], done: asyncio.Task[None]) -> None:
        if self._last_forward.get(order) is done:
            del self._last_forward[order]

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written and sent."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    @property
    def pending(self) -> int:
        """Events recorded but not yet delivered."""
        return len(self._pending)

    # --- delivery ---------------------------------------------------------------------------

    async def _deliver(
        self,
        canary: canary_api.Canary,
        event_type: str,
        message: str,
        now: float,
        previous: asyncio.Task[None] | None = None,
    ) -> None:
        jobs: list[Awaitable[None]] = []
        if self._core is not None:
            jobs.append(self._write(canary, event_type, message, now))
        if self.on_event is not None:
            jobs.append(self._forward_after(previous, canary, event_type, message))
        await asyncio.gather(*jobs)

    async def _forward_after(
        self,
        previous: asyncio.Task[None] | None,
        canary: canary_api.Canary,
        event_type: str,
        message: str,
    ) -> None:
        """Send after the canary's previous event was sent: a receiver sees a canary's events
        in the order Flagger sends them (it calls the webhook inline)."""
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        await self._forward(canary, event_type, message)

    async def _forward(self, canary: canary_api.Canary, event_type: str, message: str) -> None:
        assert self.on_event is not None
        async with self._hook_slots:
            try:
                await self.on_event(canary, message, event_type)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("error sending event to webhook: %s", exc, canary=canary)

    async def _write(
        self, canary: canary_api.Canary, event_type: str, message: str, now: float
    ) -> None:
        key = _key_of(canary, event_type, message)
        # Identical events are written one after the other, so that counts go up in order.
        entry = self._locks.setdefault(key, _KeyLock())
        entry.users += 1
        entry.queued += 1
        entry.latest = max(entry.latest, now)
        try:
            for attempt in range(_WRITE_ATTEMPTS):
                try:
                    async with entry.lock, self._api_slots:
                        repeats = entry.queued
                        if repeats == 0:
                            return  # written by an earlier writer, with its own repeats
                        await self._write_locked(
                            key, canary, event_type, message, entry.latest, repeats
                        )
                        entry.queued -= repeats
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    delay = _retry_delay(exc, attempt)
                    if delay is None or attempt == _WRITE_ATTEMPTS - 1:
                        log.error(
                            "event %r could not be recorded: %s",
                            message,
                            _api_error(exc),
                            canary=canary,
                        )
                        return
                    await asyncio.sleep(delay)
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[key]

    async def _write_locked(
        self,
        key: _Key,
        canary: canary_api.Canary,
        event_type: str,
        message: str,
        now: float,
        repeats: int = 1,
    ) -> None:
        stamp = _rfc3339(now)
        seen = self._written.get(key)
        if seen is not None:
            # Counted only once written, so a retried write does not count twice.
            patch = {"count": seen.count + repeats, "lastTimestamp": stamp, "message": message}
            try:
                await self._core.patch_namespaced_event(
                    seen.name,
                    canary.namespace,
                    patch,
                    _content_type="application/strategic-merge-patch+json",
                    field_manager=kube_client.FIELD_MANAGER,
                    _request_timeout=_API_TIMEOUT_SECONDS,
                )
                seen.count += repeats
                self._written.move_to_end(key)
                return
            except Exception as exc:
                if getattr(exc, "status", None) != 404:
                    raise
                # The Event expired (the API server keeps them an hour): write it afresh.
        name = f"{canary.name}.{time.time_ns():x}"
        count = seen.count + repeats if seen is not None else repeats
        first = seen.first_timestamp if seen is not None else stamp
        body = self._event(canary, name, event_type, message, count, first, stamp)
        await self._core.create_namespaced_event(
            canary.namespace,
            body,
            field_manager=kube_client.FIELD_MANAGER,
            _request_timeout=_API_TIMEOUT_SECONDS,
        )
        self._written[key] = _Written(name, count, first)
        self._written.move_to_end(key)
        while len(self._written) > _CACHE_SIZE:
            self._written.popitem(last=False)

    def _event(
        self,
        canary: canary_api.Canary,
        name: str,
        event_type: str,
        message: str,
        count: int,
        first: str,
        last: str,
    ) -> dict[str, Any]:
        """The core/v1 Event client-go's recorder would write for Flagger."""
        metadata = canary.metadata
        involved: dict[str, Any] = {
            "kind": canary_api.KIND,
            "namespace": canary.namespace,
            "name": canary.name,
            "apiVersion": canary.api_version,
        }
        if metadata.get("uid"):
            involved["uid"] = metadata["uid"]
        if metadata.get("resourceVersion"):
            involved["resourceVersion"] = metadata["resourceVersion"]
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": canary.namespace},
            "involvedObject": involved,
            "reason": REASON,
            "message": message,
            "type": event_type,
            "source": {"component": self.component},
            "firstTimestamp": first,
            "lastTimestamp": last,
            "count": count,
            "reportingComponent": self.component,
            "reportingInstance": "",
        }


#: Attempts to write one Event: a 429, a 5xx or a dropped connection is retried, as the daemon's
#: other API requests are (honouring Retry-After, at most ``RETRY_AFTER_MAX_SECONDS``).
_WRITE_ATTEMPTS = 5


def _key_of(canary: canary_api.Canary, event_type: str, message: str) -> _Key:
    """What makes two Events the same Event (client-go's aggregation key, less the source)."""
    uid = str(canary.metadata.get("uid") or "")
    return (canary.namespace, canary.name, uid, event_type, REASON, message)


class _RawEvents:
    """The two Event endpoints of ``CoreV1Api`` over the daemon's raw-JSON `Kube`: no model
    objects built. (``CoreV1Api`` turned every answer into a ``V1Event``, dates parsed by
    dateutil: 15-20% of the daemon's CPU in a burst of 2,000 rollouts, by py-spy.)"""

    def __init__(self, kube: kube_client.Kube) -> None:
        self.kube = kube

    async def create_namespaced_event(
        self, namespace: str, body: dict[str, Any], **_: object
    ) -> None:
        await self.kube.create(body)

    async def patch_namespaced_event(
        self, name: str, namespace: str, body: dict[str, Any], **_: object
    ) -> None:
        await self.kube.patch("v1", "Event", name, namespace, body, patch_type="strategic")


def _retry_delay(exc: Exception, attempt: int) -> float | None:
    """Seconds to wait before writing again, or None when the failure is not transient."""
    if isinstance(exc, kube_errors.ApiError):
        return None  # `Kube` has retried it already (429/5xx with Retry-After, resets)
    backoff: float = 0.2 * 2.0**attempt
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        return backoff
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or (status != 429 and status < 500):
        return None
    headers = getattr(exc, "headers", None) or {}
    wanted = kube_client.retry_after_seconds(headers.get("Retry-After"))
    return backoff if wanted is None else min(wanted, kube_client.RETRY_AFTER_MAX_SECONDS)


def _api_error(exc: Exception) -> str:
    """A one-line description of an API failure."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    if status is not None:
        return f"API server answered {status} {reason or ''}".rstrip()
    return str(exc) or type(exc).__name__
