"""A raw-JSON async Kubernetes client: dicts in, dicts out.

kubernetes-asyncio's generated model classes are slow to build and awkward for custom resources,
so `Kube` uses only its `ApiClient` for configuration, authentication and the HTTP session, and
speaks plain JSON over REST paths it builds itself:

- Kinds are resolved to resources (plural, namespaced or cluster-scoped) through API discovery,
  one request per group/version, cached; a miss refreshes once (a CRD may just have appeared).
- Every request has a timeout; transient failures (5xx, 429, connection errors, timeouts) are
  retried a bounded number of times with exponential backoff (tenacity), or after the
  server's ``Retry-After`` (at most 30 s) when a 429 or 5xx answer carries one.
- A client-side token bucket enforces `qps`/`burst`, like Flagger's `-kubeconfig-qps` and
  `-kubeconfig-burst`, so a thousand canaries cannot flood the API server.
- Requests go over one keep-alive aiohttp session without per-request environment lookups:
  kubernetes-asyncio opens its session with ``trust_env=True``, which makes aiohttp read
  ``~/.netrc`` and the proxy variables (in a thread) on every request; the proxy for the API
  server is resolved once instead. Bodies are encoded and answers decoded once, by us.
- Errors are `flagger.kube.errors.ApiError` subclasses; `get` returns None on 404 and `delete`
  ignores 404.

Every request is sent with Flagger's identity: ``User-Agent: flagger/<version>``, and writes
(POST, PUT, PATCH) carry ``fieldManager=flagger``, so managedFields, audit rules and Argo CD's
``managedFieldsManagers: [flagger]`` see the same owner as with Flagger. Response bodies are
never logged (kubernetes-asyncio logs them at debug level; Secrets pass through this client).

`watch` streams watch events for `flagger.kube.informers`; it is not retried (the informer
resumes from the last resourceVersion itself).
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import copy
import dataclasses
import datetime
import email.utils
import json
import logging
import math
import os
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from typing import Any, Literal, Self

import aiohttp
import tenacity
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

import flagger
from flagger.kube import errors, read_trace

__all__ = ["Kube", "Resource", "split_api_version"]

PatchType = Literal["merge", "strategic", "json"]

_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
REQUEST_TIMEOUT_SECONDS = 30.0
THROTTLE_LOG_SECONDS = 1.0
THROTTLE_LOG_EVERY = 10.0
RETRY_ATTEMPTS = 5
#: The longest a ``Retry-After`` answer makes a request wait before its retry.
RETRY_AFTER_MAX_SECONDS = 30.0
LIST_PAGE_SIZE = 500
#: The field manager of every write, as Flagger's (client-go names it after the binary).
FIELD_MANAGER = "flagger"
#: The User-Agent of every request.
USER_AGENT = f"flagger/{flagger.__version__}"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _NoResponseBodies(logging.Filter):
    """Drops kubernetes-asyncio's debug line holding a whole response body."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("response body")


logging.getLogger("kubernetes_asyncio.client.rest").addFilter(_NoResponseBodies())
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Resource:
    """Where a kind lives in the REST API."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The REST path of the collection, or of one object (and its subresource)."""
        group, version = split_api_version(self.api_version)
        parts = ["/api/v1" if not group else f"/apis/{group}/{version}"]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> (`apps`, `v1`); `v1` -> (``, `v1`)."""
    group, _, version = api_version.rpartition("/")
    return group, version


class _TokenBucket:
    """Allows `burst` requests at once and `qps` per second on average."""

    def __init__(self, qps: float, burst: int) -> None:
        self._rate = max(qps, 0.001)
        self._capacity = float(max(burst, 1))
        self._tokens = self._capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Take a token, waiting for one when the bucket is empty; the seconds waited."""
        began = time.monotonic()
        async with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens < 1.0:
                await asyncio.sleep((1.0 - self._tokens) / self._rate)
                self._stamp = time.monotonic()
                self._tokens = 1.0
            self._tokens -= 1.0
        return time.monotonic() - began


_BACKOFF = tenacity.wait_exponential(multiplier=0.1, max=2.0)


def _retry_wait(state: tenacity.RetryCallState) -> float:
    """The server's ``Retry-After`` (at most `RETRY_AFTER_MAX_SECONDS`) when it gave one, as
    client-go honours it on 429 and 5xx; exponential backoff otherwise."""
    exc = state.outcome.exception() if state.outcome else None
    after = getattr(exc, "retry_after", None)
    if after is not None:
        return float(min(after, RETRY_AFTER_MAX_SECONDS))
    return float(_BACKOFF(state))


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (delta-seconds or an HTTP date) in seconds, never negative;
    None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, errors.ApiError):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, aiohttp.ClientError | TimeoutError)


#: Creates in flight at once per client. A Service create allocates a ClusterIP (an IPAddress
#: object) and is the API server's most expensive write here: ~1,000 at once (Flagger (Go)
#: bootstrapping 1,000 canaries, or two shards of 64 ticks each on a loaded machine) made this
#: machine's kube-apiserver time them out at 60 s. Reads, updates and patches are not bounded.
MAX_CONCURRENT_CREATES = 16


class Kube:
    """Raw-JSON async client over kubernetes-asyncio's ApiClient (dicts in, dicts out)."""

    def __init__(
        self,
        api: Any,
        *,
        qps: float = 100.0,
        burst: int = 250,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        field_manager: str = FIELD_MANAGER,
    ) -> None:
        """``field_manager`` names the owner of what this client writes (``flagger`` for the
        daemon; ``flagger-cli`` for the commands a person runs)."""
        self._api = api
        self.field_manager = field_manager
        if hasattr(api, "user_agent"):
            api.user_agent = USER_AGENT
        self._bucket = _TokenBucket(qps, burst)
        self._timeout = timeout
        self._discovery: dict[str, dict[str, Resource]] = {}
        self._discovery_locks: dict[str, asyncio.Lock] = {}
        self._session: aiohttp.ClientSession | None = None
        self.requests: collections.Counter[str] = collections.Counter()
        """API requests sent, by HTTP verb (``WATCH`` for watches), retries included."""
        self.throttled_seconds = 0.0
        """Seconds requests waited for the client-side rate limit (``-kubeconfig-qps``)."""
        self._throttle_logged = -math.inf
        self._creating = asyncio.Semaphore(MAX_CONCURRENT_CREATES)

    @property
    def api_client(self) -> Any:
        """The underlying kubernetes-asyncio ``ApiClient`` (for the typed APIs, e.g. Events)."""
        return self._api

    @classmethod
    async def connect(
        cls,
        kubeconfig: str | None = None,
        *,
        qps: float = 100.0,
        burst: int = 250,
        master: str | None = None,
    ) -> Self:
        """Log in with a kubeconfig file; with None, in-cluster config when
        KUBERNETES_SERVICE_HOST is set, else ~/.kube/config. ``master`` (Flagger's ``-master``)
        overrides the API server address the configuration gives."""
        configuration = k8s_client.Configuration()
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        else:
            await k8s_config.load_kube_config(
                config_file=kubeconfig, client_configuration=configuration
            )
        if master:
            configuration.host = master.rstrip("/")
        return cls(k8s_client.ApiClient(configuration), qps=qps, burst=burst)

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._api.close()

    def with_overrides(
        self,
        *,
        host: str = "",
        token: str | None = None,
        insecure_skip_verify: bool = False,
        timeout: float | None = None,
    ) -> Kube:
        """A new client on a copy of this one's configuration with another API server address,
        bearer token or TLS verification (``flagger.plugins.ApiClient``); the caller closes it."""
        configuration = copy.deepcopy(self._api.configuration)
        if host:
            configuration.host = host
        if insecure_skip_verify:
            configuration.verify_ssl = False
        if token is not None:
            configuration.api_key = {"BearerToken": f"Bearer {token}"}
            configuration.api_key_prefix = {}
            configuration.refresh_api_key_hook = None
        return Kube(
            k8s_client.ApiClient(configuration),
            timeout=self._timeout if timeout is None else timeout,
            field_manager=self.field_manager,
        )

    # --- discovery ------------------------------------------------------------------------

    async def resource(self, api_version: str, kind: str) -> Resource:
        """Resolve a kind through discovery (cached); `UnknownKind` when it is not served."""
        known = self._discovery.get(api_version)
        if known is not None and kind in known:
            return known[kind]
        lock = self._discovery_locks.setdefault(api_version, asyncio.Lock())
        async with lock:
            if known is self._discovery.get(api_version):  # nobody refreshed while we waited
                await self._discover(api_version)
        found = self._discovery.get(api_version, {}).get(kind)
        if found is None:
            raise errors.UnknownKind(
                404, "NotFound", f"the server does not serve {kind} in {api_version}"
            )
        return found

    async def _discover(self, api_version: str) -> None:
        group, version = split_api_version(api_version)
        path = "/api/v1" if not group else f"/apis/{group}/{version}"
        try:
            body = await self.request("GET", path)
        except errors.NotFound:
            self._discovery[api_version] = {}
            return
        found: dict[str, Resource] = {}
        for item in body.get("resources", []):
            if "/" in item["name"]:
                continue  # subresource
            found[item["kind"]] = Resource(
                api_version, item["kind"], item["name"], bool(item["namespaced"])
            )
        self._discovery[api_version] = found

    # --- CRUD -----------------------------------------------------------------------------

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        res = await self.resource(api_version, kind)
        try:
            obj: dict[str, Any] = await self.request("GET", res.path(namespace, name))
        except errors.NotFound:
            return None
        return obj

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """All objects of a kind (in a namespace, or everywhere when None)."""
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
        """All objects (with apiVersion and kind filled in) and the list's resourceVersion,
        fetched page by page; a watch can resume from that version."""
        res = await self.resource(api_version, kind)
        query: dict[str, str] = {"limit": str(LIST_PAGE_SIZE)}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        items: builtins.list[dict[str, Any]] = []
        while True:
            body = await self.request("GET", res.path(namespace), query=query)
            for item in body.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            meta = body.get("metadata") or {}
            if not meta.get("continue"):
                return items, str(meta.get("resourceVersion", ""))
            query["continue"] = meta["continue"]

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """POST the object; `Conflict` when it already exists."""
        res, namespace, _ = await self._locate(obj)
        async with self._creating:
            created: dict[str, Any] = await self.request("POST", res.path(namespace), body=obj)
        return created

    async def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT the object; with metadata.resourceVersion set, a stale version is a `Conflict`."""
        res, namespace, name = await self._locate(obj)
        replaced: dict[str, Any] = await self.request("PUT", res.path(namespace, name), body=obj)
        return replaced

    async def replace_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT the object's status subresource."""
        res, namespace, name = await self._locate(obj)
        replaced: dict[str, Any] = await self.request(
            "PUT", res.path(namespace, name, "status"), body=obj
        )
        return replaced

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: dict[str, Any] | builtins.list[Any],
        *,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """PATCH an object (merge, strategic merge or JSON patch), optionally a subresource."""
        res = await self.resource(api_version, kind)
        patched: dict[str, Any] = await self.request(
            "PATCH",
            res.path(namespace, name, subresource),
            body=patch,
            content_type=_PATCH_CONTENT_TYPES[patch_type],
        )
        return patched

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> None:
        """DELETE with background propagation; an object already gone is fine."""
        res = await self.resource(api_version, kind)
        with contextlib.suppress(errors.NotFound):
            await self.request(
                "DELETE", res.path(namespace, name), body={"propagationPolicy": "Background"}
            )

    async def _locate(self, obj: dict[str, Any]) -> tuple[Resource, str | None, str]:
        res = await self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        return res, meta.get("namespace"), str(meta.get("name", ""))

    # --- watch ----------------------------------------------------------------------------

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
        """Stream watch events `{"type", "object"}` until the server ends the watch.

        An ERROR event with code 410 raises `errors.Gone` (relist); other ERROR events raise
        the matching `ApiError`. Not retried: the caller resumes from the last version it saw.
        """
        res = await self.resource(api_version, kind)
        query: dict[str, str] = {"watch": "true", "timeoutSeconds": str(timeout_seconds)}
        if resource_version:
            query["resourceVersion"] = resource_version
        if label_selector:
            query["labelSelector"] = label_selector
        if bookmarks:
            query["allowWatchBookmarks"] = "true"
        await self._throttle("WATCH", res.path(namespace))
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self._timeout,
            sock_connect=self._timeout,
            sock_read=timeout_seconds + self._timeout,
        )
        resp = await self._send("GET", res.path(namespace), query, None, None, timeout)
        try:
            if resp.status >= 300:
                raise errors.from_status(resp.status, _decode(await resp.read()))
            while True:
                line = await resp.content.readline()
                if not line:
                    return
                if not line.strip():
                    continue
                event: dict[str, Any] = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise errors.from_status(int(status.get("code") or 500), status)
                obj = event.get("object")
                if isinstance(obj, dict):
                    obj.setdefault("apiVersion", api_version)
                    obj.setdefault("kind", kind)
                yield event
        finally:
            resp.release()

    # --- transport ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """One API call with rate limiting, a timeout and bounded retries; the JSON answer."""
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(RETRY_ATTEMPTS),
            wait=_retry_wait,
            retry=tenacity.retry_if_exception(_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._request_once(method, path, query, body, content_type)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise errors.ApiError(
                503, "ServiceUnavailable", f"{method} {path}: {type(exc).__name__} {exc}"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request_once(
        self, method: str, path: str, query: dict[str, str] | None, body: Any, content_type: str
    ) -> Any:
        await self._throttle(method, path)
        params = dict(query or {})
        if method in _WRITE_METHODS:
            params["fieldManager"] = self.field_manager
        resp = await self._send(
            method, path, params, body, content_type, aiohttp.ClientTimeout(total=self._timeout)
        )
        try:
            data = await resp.read()
        finally:
            resp.release()
        decoded = _decode(data)
        if resp.status >= 300:
            error = errors.from_status(resp.status, decoded)
            if resp.status == 429 or resp.status >= 500:
                error.retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
            raise error
        return decoded

    async def _throttle(self, verb: str, path: str) -> None:
        """Wait for the rate limit; count the request; say so (at most every 10 s) when a
        request waited over a second, in client-go's words."""
        read_trace.opaque(f"{verb} {path}")
        waited = await self._bucket.acquire()
        self.requests[verb] += 1
        self.throttled_seconds += waited
        now = time.monotonic()
        if waited > THROTTLE_LOG_SECONDS and now - self._throttle_logged > THROTTLE_LOG_EVERY:
            self._throttle_logged = now
            log.info(
                "Waited for %.3fs due to client-side throttling, not priority and fairness, "
                "request: %s:%s",
                waited,
                verb,
                self._api.configuration.host + path,
            )

    async def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None,
        body: Any,
        content_type: str | None,
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        """Send one request with the client's credentials and default headers (User-Agent)."""
        headers: dict[str, str] = {**self._api.default_headers, "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        await self._api.update_params_for_auth(headers, [], ["BearerToken"])
        url = self._api.configuration.host + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        rest = self._api.rest_client
        extra: dict[str, Any] = {}
        if rest.server_hostname:
            extra["server_hostname"] = rest.server_hostname
        if rest.proxy_headers:
            extra["proxy_headers"] = rest.proxy_headers
        return await self._transport().request(
            method,
            url,
            headers=headers,
            data=None if body is None else json.dumps(body),
            timeout=timeout,
            proxy=rest.proxy,
            **extra,
        )

    def _transport(self) -> aiohttp.ClientSession:
        """The API client's keep-alive session, reopened once without ``trust_env`` (so no
        netrc or proxy lookup per request), with the API server's proxy resolved here."""
        if self._session is None or self._session.closed:
            rest = self._api.rest_client
            inherited: aiohttp.ClientSession = rest.pool_manager
            if rest.proxy is None:
                rest.proxy = env_proxy(self._api.configuration.host)
            self._session = aiohttp.ClientSession(
                connector=inherited.connector, trust_env=False, read_bufsize=2**21
            )
            inherited.detach()
            rest.pool_manager = self._session
        return self._session


def env_proxy(server: str) -> str | None:
    """The proxy ``HTTPS_PROXY``/``HTTP_PROXY`` name for ``server``, unless ``NO_PROXY``
    exempts it (what ``trust_env`` looked up on every request)."""
    parts = urllib.parse.urlsplit(server)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _decode(data: bytes) -> Any:
    if not data:
        return {}
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")
