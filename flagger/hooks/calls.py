"""Calling a Canary's webhooks the way Flagger does.

A call is one HTTP ``POST`` of the JSON document of :mod:`flagger.hooks.payloads` with
``Content-Type: application/json``. Flagger's rules, kept here:

- **Success is a status code <= 202.** 203 and above fail; the failure's text (the ``%v`` in
  ``Halt podinfo.test advancement pre-rollout check acceptance-test failed %v``) is the response
  body, verbatim and possibly empty.
- **Timeout** per attempt: the hook's ``timeout`` (default ``10s``; a value shorter than two
  characters, such as ``5``, also means ``10s`` as in Flagger). An unparsable timeout fails the
  call with Go's wording (``time: invalid duration "x"``). A zero or negative timeout, which in
  Go disables the timeout, means ``10s`` here: every network call has a bound.
- **Retries** follow hashicorp/go-retryablehttp's default policy, which Flagger uses with
  ``RetryMax = retries``: up to ``retries`` more attempts after connection errors and timeouts,
  HTTP 429, and 5xx except 501. A bad URL scheme, a TLS certificate that does not verify and
  too many redirects are not retried. Waits grow exponentially (``wait_min * 2**n``) up to
  ``wait_max``; a ``Retry-After`` on 429/503 is honoured up to ``wait_max``.
  When retries run out, go-retryablehttp's message replaces the body:
  ``POST <url> giving up after N attempt(s)`` (and ``: <error>`` after a transport error).
  Even ``retries: 0`` gives that message for a 5xx, exactly as Flagger prints it; the status
  and body stay available on :class:`HookResult`.
- **Credentials never printed**: the URL in a failure message has its userinfo and credential
  parameters (``?token=``...) replaced by ``xxxxx`` (:mod:`flagger.observability.redaction`),
  and so has any URL a receiver echoes in its answer.
- **disableTLS** skips verification of the server's certificate (Go's ``InsecureSkipVerify``);
  the connection is still TLS.

Response bodies are read up to :attr:`CallPolicy.max_body_bytes` (64 KiB by default) so that a
misbehaving receiver cannot fill the daemon's memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import errno
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import tenacity

from flagger import outgoing
from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.api import durations
from flagger.observability import redaction

from . import idempotency, payloads

__all__ = [
    "DEFAULT_POLICY",
    "CallPolicy",
    "HookResult",
    "call",
    "call_event",
    "post",
]

DEFAULT_TIMEOUT = "10s"
_DEFAULT_TIMEOUT_SECONDS = 10.0
_RETRY_AFTER_STATUSES = (429, 503)
_GO_TIMEOUT_TEXT = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"


@dataclasses.dataclass(frozen=True)
class CallPolicy:
    """Backoff bounds and limits of webhook calls (the defaults suit the daemon)."""

    #: First wait before a retry, in seconds (go-retryablehttp's ``RetryWaitMin``).
    wait_min: float = 1.0
    #: Longest wait between two attempts, in seconds.
    wait_max: float = 8.0
    #: The most of a response body that is read and kept.
    max_body_bytes: int = 64 * 1024


DEFAULT_POLICY = CallPolicy()


@dataclasses.dataclass(frozen=True)
class HookResult:
    """What a webhook call came to.

    ``ok`` is Flagger's success (a final status <= 202). ``message`` is the text Flagger puts
    into its ``%v`` on failure (empty on success); ``str(result)`` returns it. ``status`` is the
    last HTTP status (``None`` when no response came back) and ``body`` the last response body.
    """

    name: str
    url: str
    ok: bool
    status: int | None
    body: str
    message: str
    attempts: int
    seconds: float

    def __str__(self) -> str:
        return self.message


@dataclasses.dataclass(frozen=True)
class _Attempt:
    """One HTTP exchange: a status and body, or the transport error that replaced them."""

    status: int | None
    body: str
    error: str | None
    retryable: bool
    retry_after: float | None = None


async def call(
    hook: analysis_api.CanaryWebhook,
    canary: canary_api.Canary,
    phase: str,
    *,
    session: aiohttp.ClientSession | None = None,
    policy: CallPolicy = DEFAULT_POLICY,
) -> HookResult:
    """POST Flagger's payload for ``canary`` in ``phase`` to ``hook`` and report the outcome.

    The call carries the step's idempotency key (:mod:`flagger.hooks.idempotency`) as the
    ``Idempotency-Key`` header and the ``idempotencyKey`` metadata key.
    """
    key = idempotency.hook_key(canary, hook, phase)
    metadata = {**(hook.metadata or {}), idempotency.METADATA_KEY: key}
    document = payloads.payload(canary, phase, metadata)
    timeout = hook.timeout if hook.timeout and len(hook.timeout) >= 2 else DEFAULT_TIMEOUT
    return await post(
        hook.url,
        document,
        name=hook.name,
        timeout=timeout,
        retries=hook.effective_retries,
        disable_tls=bool(hook.disable_tls),
        session=session,
        policy=policy,
        idempotency_key=key,
    )


async def call_event(
    hook: analysis_api.CanaryWebhook,
    canary: canary_api.Canary,
    message: str,
    event_type: str,
    *,
    now: float | None = None,
    session: aiohttp.ClientSession | None = None,
    policy: CallPolicy = DEFAULT_POLICY,
) -> HookResult:
    """POST an event (``message``, ``event_type`` Normal/Warning) to an ``event`` hook."""
    key = idempotency.event_key(canary, message, event_type)
    metadata = {**(hook.metadata or {}), idempotency.METADATA_KEY: key}
    document = payloads.event_payload(canary, message, event_type, metadata, now=now)
    return await post(
        hook.url,
        document,
        name=hook.name,
        timeout=hook.timeout or DEFAULT_TIMEOUT,
        retries=hook.effective_retries,
        disable_tls=bool(hook.disable_tls),
        session=session,
        policy=policy,
        idempotency_key=key,
    )


async def post(
    url: str,
    document: Mapping[str, Any],
    *,
    name: str = "",
    timeout: str = DEFAULT_TIMEOUT,
    retries: int = 0,
    disable_tls: bool = False,
    session: aiohttp.ClientSession | None = None,
    policy: CallPolicy = DEFAULT_POLICY,
    idempotency_key: str = "",
) -> HookResult:
    """POST ``document`` as Go-encoded JSON to ``url`` with Flagger's timeout and retry rules.

    Every attempt carries ``idempotency_key`` (when given) as the ``Idempotency-Key`` header.
    Never raises for a failed call (only on cancellation): the outcome is in the result.
    """
    began = time.monotonic()
    shown = redaction.redact_url(url)

    def result(ok: bool, message: str, attempts: int, last: _Attempt | None = None) -> HookResult:
        return HookResult(
            name=name,
            url=url,
            ok=ok,
            status=last.status if last else None,
            body=last.body if last else "",
            message=redaction.redact(message),
            attempts=attempts,
            seconds=time.monotonic() - began,
        )

    try:
        seconds = durations.parse_duration(timeout or DEFAULT_TIMEOUT)
    except ValueError:
        return result(False, f'time: invalid duration "{timeout}"', 0)
    if seconds <= 0:
        seconds = _DEFAULT_TIMEOUT_SECONDS

    body = payloads.encode(document)
    headers = {"Content-Type": "application/json"}
    if idempotency_key:
        headers[idempotency.HEADER] = idempotency_key
    attempts = 0

    async def attempt(http: aiohttp.ClientSession) -> _Attempt:
        nonlocal attempts
        attempts += 1
        return await _exchange(
            http, url, body, headers, seconds, disable_tls, policy.max_body_bytes
        )

    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(max(0, retries) + 1),
        wait=_Backoff(policy),
        retry=tenacity.retry_if_result(lambda outcome: bool(outcome.retryable)),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        reraise=True,
    )
    if session is None:
        async with outgoing.client_session() as own:
            last: _Attempt = await retrying(attempt, own)
    else:
        last = await retrying(attempt, session)

    if last.error is None and not last.retryable:
        status = last.status or 0
        return result(status <= 202, "" if status <= 202 else last.body, attempts, last)
    given_up = f"POST {shown} giving up after {attempts} attempt(s)"
    if last.error is not None:
        given_up += f': Post "{shown}": {last.error}'
    return result(False, given_up, attempts, last)


class _Backoff:
    """go-retryablehttp's ``DefaultBackoff``: ``min * 2**n`` capped, or ``Retry-After``."""

    def __init__(self, policy: CallPolicy) -> None:
        self.policy = policy

    def __call__(self, state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        last = outcome.result() if outcome is not None and not outcome.failed else None
        if isinstance(last, _Attempt) and last.retry_after is not None:
            return min(max(last.retry_after, 0.0), self.policy.wait_max)
        exponent = max(0, state.attempt_number - 1)
        return float(min(self.policy.wait_min * (2**exponent), self.policy.wait_max))


async def _exchange(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    disable_tls: bool,
    limit: int,
) -> _Attempt:
    """One POST; transport errors become an :class:`_Attempt` with Go-like error text."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("http", "https"):
        return _Attempt(None, "", f'unsupported protocol scheme "{scheme}"', retryable=False)
    try:
        async with http.post(
            url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            ssl=not disable_tls,
            max_redirects=10,
        ) as response:
            raw = await response.content.read(limit)
            text = raw.decode("utf-8", errors="replace")
            status = response.status
            retry_after = (
                _retry_after(response.headers.get("Retry-After"))
                if status in _RETRY_AFTER_STATUSES
                else None
            )
            retryable = status == 429 or status == 0 or (status >= 500 and status != 501)
            return _Attempt(status, text, None, retryable, retry_after)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        return _Attempt(None, "", _GO_TIMEOUT_TEXT, retryable=True)
    except aiohttp.TooManyRedirects:
        return _Attempt(None, "", "stopped after 10 redirects", retryable=False)
    except aiohttp.ClientConnectorCertificateError as exc:
        text = f"tls: failed to verify certificate: {exc.certificate_error}"
        return _Attempt(None, "", text, retryable=False)
    except aiohttp.InvalidURL as exc:
        return _Attempt(None, "", f"invalid URL {exc}", retryable=False)
    except aiohttp.ClientConnectorError as exc:
        return _Attempt(None, "", _dial_error(exc), retryable=True)
    except (aiohttp.ClientError, OSError) as exc:
        return _Attempt(None, "", str(exc) or type(exc).__name__, retryable=True)


def _dial_error(exc: aiohttp.ClientConnectorError) -> str:
    """Go's wording for the common dial failures, else aiohttp's own text."""
    address = f"{exc.host}:{exc.port}"
    if exc.os_error.errno == errno.ECONNREFUSED:
        return f"dial tcp {address}: connect: connection refused"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"dial tcp: lookup {exc.host}: no such host"
    return f"dial tcp {address}: {exc.os_error.strerror or exc.os_error}"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
