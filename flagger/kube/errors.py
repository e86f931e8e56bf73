"""Errors raised by `flagger.kube.client.Kube`.

    ApiError            any non-2xx answer from the API server (or retries exhausted)
    ├── NotFound        404 (`Kube.get` returns None and `Kube.delete` ignores it instead)
    ├── UnknownKind     404 from discovery: the apiVersion/kind is not served (CRD missing?)
    ├── Forbidden       403 (RBAC)
    ├── Conflict        409 (stale resourceVersion or already exists): re-read and retry
    ├── Gone            410 (a watch resourceVersion too old): relist
    └── Invalid         422 (the object failed validation)

`UnknownKind` is deliberately not a `NotFound`: a missing CRD must not read as a missing object.
"""

from __future__ import annotations

from typing import Any

import aiohttp

__all__ = [
    "ApiError",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "NotFound",
    "UnknownKind",
    "from_status",
    "is_outage",
]


class ApiError(Exception):
    """A request the API server refused; `.status` is the HTTP code, `.reason` the Status reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message
        #: Seconds the server asked us to wait before retrying (``Retry-After``), if it said.
        self.retry_after: float | None = None


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` is an expected failure of talking to the API server (a refusal, an
    outage, a timeout) rather than a bug: logged in one line, its stack trace only at debug."""
    return isinstance(exc, ApiError | aiohttp.ClientError | TimeoutError | OSError)


class NotFound(ApiError):
    """404: the object does not exist."""


class UnknownKind(ApiError):
    """The API server does not serve this apiVersion/kind."""


class Forbidden(ApiError):
    """403: the credentials may not do this."""


class Conflict(ApiError):
    """409: the object changed since it was read, or it already exists."""


class Gone(ApiError):
    """410: the requested resourceVersion is no longer available."""


class Invalid(ApiError):
    """422: the API server rejected the object as invalid."""


_BY_STATUS: dict[int, type[ApiError]] = {
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
}


def from_status(status: int, body: Any) -> ApiError:
    """The error for an HTTP status and a (possibly non-JSON) `Status` body."""
    reason, message = "", ""
    if isinstance(body, dict):
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or "")
    elif body:
        message = str(body)[:500]
    return _BY_STATUS.get(status, ApiError)(status, reason or _default_reason(status), message)


def _default_reason(status: int) -> str:
    return {
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        410: "Expired",
        422: "Invalid",
        429: "TooManyRequests",
    }.get(status, "InternalError" if status >= 500 else "Unknown")
