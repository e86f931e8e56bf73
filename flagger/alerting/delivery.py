"""What every notifier shares: the alert handed to ``Notifier.post``, the HTTP post, and the
delivery queue that keeps notifications from ever holding up an analysis.

**The alert** (:class:`Alert`, ``flagger.plugins.Alert``) is a frozen value that reads as a
mapping, as the plugin contract says: the canary's
``name`` and ``namespace``, the ``message`` (already rendered from the provider's template, see
:mod:`flagger.alerting.templates`), the ``severity`` (info, warn, error) and Flagger's
``fields`` (``[{"name": "Cluster", "value": "prod"}, ...]``), plus ``phase``, ``cluster`` and
``target`` for plugins that want them.

**The post** (:func:`post_json`) is Flagger's ``postMessage``: a JSON ``POST`` with
``Content-Type: application/json``, an optional ``Authorization: Bearer <token>``, an optional
HTTP proxy (else the ``HTTPS_PROXY``/``HTTP_PROXY`` environment, as Go's default client), and a
5 s timeout. Flagger accepts only a 200; any 2xx is accepted here (Discord's
native webhooks answer 204). The answer's body (read up to 64 KiB) becomes the error text, as in
Flagger's ``sending notification failed: <body>``.

**The queue** (:class:`DeliveryQueue`) takes alerts without waiting (``submit`` is not even a
coroutine) and a pool of workers delivers them:

- the queue is bounded: when it is full the alert is dropped, logged and counted;
- alerts of one canary are delivered in the order they were raised (a worker that finds another
  worker busy with the same canary hands the alert over), different canaries in parallel;
- each attempt has a timeout (5 s); timeouts, connection errors, 429 and 5xx are retried with
  exponential backoff (tenacity), other failures are not;
- every alert that is finally not delivered counts once in
  ``flagger_alert_delivery_failures_total{provider_type, reason}``.

Failure reasons (the ``reason`` label)::

    DeliveryError
     ├── timeout            no answer within the timeout            (retried)
     ├── connection_error   refused, reset, DNS, proxy unreachable   (retried)
     ├── http_error         a non-2xx answer                         (retried on 429 and 5xx)
     ├── rejected           a 2xx that says no (Slack API ``ok: false``)
     ├── provider_error     the AlertProvider, its Secret or its URL is unusable
     └── error              anything else a plugin raised
    queue_full              dropped before delivery (not an exception)
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import Any, ClassVar, Final, Self

import aiohttp
import prometheus_client
import tenacity
import yarl
from prometheus_client import metrics_core
from prometheus_client import registry as registry_module

from flagger import outgoing, plugins
from flagger.observability import logs

__all__ = [
    "DEFAULT_POLICY",
    "Alert",
    "DeliveryError",
    "DeliveryPolicy",
    "DeliveryQueue",
    "FailureCounter",
    "Field",
    "WebhookNotifier",
    "check_url",
    "classify",
    "post_json",
]

log = logs.get_logger("flagger.notifier")

DEFAULT_TIMEOUT: Final = 5.0
MAX_BODY_BYTES: Final = 64 * 1024
FAILURES_METRIC: Final = "flagger_alert_delivery_failures"

TIMEOUT: Final = "timeout"
CONNECTION_ERROR: Final = "connection_error"
HTTP_ERROR: Final = "http_error"
REJECTED: Final = "rejected"
PROVIDER_ERROR: Final = "provider_error"
ERROR: Final = "error"
QUEUE_FULL: Final = "queue_full"


#: The alert notifiers receive (frozen) and its fields: defined with the plugin contracts.
Alert = plugins.Alert
Field = plugins.Field


class DeliveryError(Exception):
    """An alert could not be delivered; ``reason`` is the metric label, ``retriable`` says
    whether another attempt may succeed."""

    def __init__(self, reason: str, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.retriable = retriable


def check_url(url: str, service: str) -> str:
    """``url`` when it is an absolute http(s) URL, else Flagger's ``invalid <service> ... URL``
    error (as a ``provider_error``)."""
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise DeliveryError(PROVIDER_ERROR, f"invalid {service} URL {url}")
    return url


async def post_json(
    url: str,
    payload: Any,
    *,
    proxy: str | None = None,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    session: aiohttp.ClientSession | None = None,
) -> bytes:
    """POST ``payload`` as JSON; the answer's body, or :class:`DeliveryError`.

    Without a ``session`` a short-lived one is used (alerts are rare: a handful per rollout);
    it honours ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` when no ``proxy`` is given, as Go's
    default client does for Flagger.
    """
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(payload, ensure_ascii=False).encode()
    if proxy:
        try:
            yarl.URL(proxy)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(
                PROVIDER_ERROR, f"unable to parse proxy URL '{proxy}', error: {exc}"
            ) from None
    owned = session is None
    client = session if session is not None else outgoing.client_session()
    try:
        async with client.post(
            url,
            data=data,
            headers=headers,
            proxy=proxy or None,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            body = await response.content.read(MAX_BODY_BYTES)
            status = response.status
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise DeliveryError(
            TIMEOUT,
            f"sending notification failed: no answer within {timeout:g}s",
            retriable=True,
        ) from None
    except aiohttp.ClientConnectionError as exc:
        raise DeliveryError(
            CONNECTION_ERROR, f"sending notification failed: {exc}", retriable=True
        ) from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise DeliveryError(PROVIDER_ERROR, f"sending notification failed: {exc}") from None
    finally:
        if owned:
            await client.close()
    if not 200 <= status < 300:
        raise DeliveryError(
            HTTP_ERROR,
            f"sending notification failed: {body.decode(errors='replace')}".rstrip()
            + ("" if body.strip() else f" (HTTP {status})"),
            retriable=status == 429 or status >= 500,
        )
    return body


class WebhookNotifier:
    """Posts each alert as one JSON document to one webhook URL, the shape of Flagger's
    notifiers (implements :class:`flagger.plugins.Notifier`). A subclass names its
    :attr:`service` (in URL errors) and builds the :meth:`payload`; it may add options read
    from the AlertProvider spec through :meth:`spec_options`."""

    #: The service as Flagger's ``invalid <service> URL`` error names it.
    service: ClassVar[str] = "webhook"

    def __init__(
        self,
        url: str,
        *,
        proxy: str = "",
        token: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = self.check_url(url)
        self.proxy, self.token = proxy, token
        self.timeout, self.session = timeout, session

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Self:
        """The notifier for an AlertProvider spec (``address``, ``proxy``, ``token``)."""
        return cls(
            str(spec.get("address") or ""),
            proxy=str(spec.get("proxy") or ""),
            token=str(spec.get("token") or ""),
            **cls.spec_options(spec),
        )

    @classmethod
    def spec_options(cls, spec: Mapping[str, Any]) -> dict[str, Any]:
        """More constructor keywords read from the AlertProvider spec (none here)."""
        return {}

    def check_url(self, url: str) -> str:
        """The URL to post to (:func:`check_url`)."""
        return check_url(url, self.service)

    def payload(self, alert: Mapping[str, Any]) -> Any:
        """The JSON document posted for ``alert``."""
        raise NotImplementedError

    async def post(self, alert: Mapping[str, Any]) -> None:
        """Deliver one alert."""
        await self.send(alert)

    async def send(self, alert: Mapping[str, Any]) -> bytes:
        """Post the alert's payload; the answer's body (:func:`post_json`)."""
        return await post_json(
            self.url,
            self.payload(alert),
            proxy=self.proxy,
            token=self.token,
            timeout=self.timeout,
            session=self.session,
        )


def classify(exc: BaseException) -> DeliveryError:
    """Any exception a notifier raised, as a :class:`DeliveryError`."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, TimeoutError):
        return DeliveryError(TIMEOUT, "sending notification failed: timed out", retriable=True)
    if isinstance(exc, aiohttp.ClientConnectionError):
        return DeliveryError(
            CONNECTION_ERROR, f"sending notification failed: {exc}", retriable=True
        )
    return DeliveryError(ERROR, f"{type(exc).__name__}: {exc}")


# --- the failure counter ------------------------------------------------------------------------


class FailureCounter:
    """``flagger_alert_delivery_failures_total{provider_type, reason}`` on a given registry
    (without the Python client's extra ``*_created`` series, like the daemon's other metrics)."""

    def __init__(self, registry: prometheus_client.CollectorRegistry | None = None) -> None:
        inner = prometheus_client.CollectorRegistry(auto_describe=True)
        self.counter = prometheus_client.Counter(
            FAILURES_METRIC,
            "Alerts that could not be delivered to their provider",
            ["provider_type", "reason"],
            registry=inner,
        )
        self.registry = registry if registry is not None else prometheus_client.CollectorRegistry()
        self.registry.register(_WithoutCreated(inner))

    def count(self, provider_type: str, reason: str) -> None:
        self.counter.labels(provider_type or "unknown", reason).inc()

    def value(self, provider_type: str, reason: str) -> float:
        """The current count (for tests and diagnostics)."""
        found = self.registry.get_sample_value(
            f"{FAILURES_METRIC}_total", {"provider_type": provider_type, "reason": reason}
        )
        return found or 0.0


class _WithoutCreated(registry_module.Collector):
    def __init__(self, inner: prometheus_client.CollectorRegistry) -> None:
        self.inner = inner

    def collect(self) -> Iterable[metrics_core.Metric]:
        for family in self.inner.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


# --- the queue ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeliveryPolicy:
    """Bounds of alert delivery (the defaults suit the daemon)."""

    #: Alerts accepted and not yet being delivered; more are dropped.
    queue_size: int = 1000
    #: Workers delivering in parallel (alerts of one canary stay in order).
    workers: int = 4
    #: Timeout of one attempt, in seconds (Flagger's 5 s).
    timeout: float = DEFAULT_TIMEOUT
    #: Attempts per alert and destination, the first included.
    attempts: int = 4
    #: First wait before a retry, in seconds; doubles each time up to ``wait_max``.
    wait_min: float = 1.0
    wait_max: float = 16.0


DEFAULT_POLICY = DeliveryPolicy()

#: One unit of work: its ordering key and the coroutine function that delivers it.
Job = tuple[Hashable, Callable[[], Awaitable[None]]]


class DeliveryQueue:
    """A bounded queue of delivery jobs and the workers that run them.

    ``submit(key, job)`` never waits: it returns False (and counts ``queue_full`` under
    ``provider_type``) when the queue is full. Jobs with the same ``key`` run one after the
    other in submission order.
    """

    def __init__(
        self, policy: DeliveryPolicy = DEFAULT_POLICY, failures: FailureCounter | None = None
    ) -> None:
        self.policy = policy
        self.failures = failures if failures is not None else FailureCounter()
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._pending = 0  # accepted, not yet started (in the queue or handed over)
        self._busy: dict[Hashable, collections.deque[Callable[[], Awaitable[None]]]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._unfinished = 0
        self._closed = False

    def start(self) -> None:
        """Start the workers (idempotent)."""
        if self._workers:
            return
        self._workers = [
            asyncio.create_task(self._work(), name=f"alert-delivery-{n}")
            for n in range(max(1, self.policy.workers))
        ]

    def submit(
        self, key: Hashable, job: Callable[[], Awaitable[None]], provider_type: str = ""
    ) -> bool:
        """Queue a job; False when it was dropped (queue full or closed)."""
        if self._closed or self._pending >= self.policy.queue_size:
            self.failures.count(provider_type, QUEUE_FULL)
            log.error(
                f"alert dropped: the delivery queue is full ({self.policy.queue_size} "
                "alerts waiting); is a notification service down?",
                provider_type=provider_type or "unknown",
            )
            return False
        self._pending += 1
        self._unfinished += 1
        self._idle.clear()
        self._queue.put_nowait((key, job))
        return True

    async def join(self) -> None:
        """Wait until every accepted job has run."""
        await self._idle.wait()

    async def close(self, timeout: float = 10.0) -> None:
        """Stop accepting jobs, let the queued ones run for up to ``timeout`` s, then stop."""
        self._closed = True
        try:
            await asyncio.wait_for(self.join(), timeout)
        except TimeoutError:
            log.error(f"{self._unfinished} alert(s) not delivered at shutdown")
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def _work(self) -> None:
        while True:
            key, job = await self._queue.get()
            waiting = self._busy.get(key)
            if waiting is not None:
                waiting.append(job)  # the worker delivering this key's alerts runs it next
                continue
            waiting = self._busy[key] = collections.deque([job])
            try:
                while waiting:
                    current = waiting.popleft()
                    self._pending -= 1
                    try:
                        await current()
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # a job reports its own failures; never kill a worker
                        log.exception("alert delivery job failed")
                    finally:
                        self._finished()
            finally:
                del self._busy[key]

    def _finished(self) -> None:
        self._unfinished -= 1
        if self._unfinished == 0:
            self._idle.set()

    async def deliver(self, post: Callable[[], Awaitable[Any]]) -> None:
        """Run one delivery attempt after another under the policy's timeout and backoff;
        the last :class:`DeliveryError` when it never succeeds."""
        policy = self.policy

        async def attempt() -> None:
            try:
                async with asyncio.timeout(policy.timeout):
                    await post()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise classify(exc) from exc

        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(max(1, policy.attempts)),
            wait=tenacity.wait_exponential(multiplier=policy.wait_min, max=policy.wait_max),
            retry=tenacity.retry_if_exception(
                lambda exc: isinstance(exc, DeliveryError) and exc.retriable
            ),
            reraise=True,
        )
        await retrying(attempt)


def describe(mapping: Mapping[str, Any]) -> str:
    """``name.namespace`` of an alert mapping, for log lines."""
    return f"{mapping.get('name', '')}.{mapping.get('namespace', '')}"
