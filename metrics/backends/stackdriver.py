"""The Stackdriver (Google Cloud Monitoring) metric backend: an MQL query in, one number out.

A MetricTemplate's ``spec.query`` for Stackdriver is a Monitoring Query Language query, as in
Flagger's documentation::

    query: |
      fetch k8s_container
      | metric 'istio.io/service/server/response_latencies'
      | filter (metric.destination_service_name == '{{ service }}-canary'
                && metric.destination_service_namespace == '{{ namespace }}')
      | align delta(1m) | every 1m
      | group_by [], [value: percentile(value.response_latencies, 99)]

Flagger calls ``QueryTimeSeries`` with the Go client; this backend calls the same method of the
Cloud Monitoring v3 API over REST with aiohttp::

    POST https://monitoring.googleapis.com/v3/projects/<project>/timeSeries:query
    Authorization: Bearer <OAuth access token, scope monitoring.read>
    {"query": "<mql>"}

The access token comes from google-auth (never hand-made): from the Secret's
``serviceAccountKey`` (a service-account JSON key; google-auth signs the JWT and exchanges it
at the key's ``token_uri``), or else from Application Default Credentials (GKE Workload
Identity, ``GOOGLE_APPLICATION_CREDENTIALS``, the metadata server). Token refreshes block, so
they run in a worker thread (:func:`asyncio.to_thread`); a token is reused until it expires.

The answer:

- the value is the first point (MQL answers newest first) of the one series, ``doubleValue``
  or ``int64Value``;
- no series, no point or no value (or ``NaN``) raises :class:`flagger.plugins.NoValuesFound`;
- several series raise :class:`QueryError` (reference §2; Flagger took the first): end the
  query with a ``group_by []`` that merges them;
- an API error raises :class:`QueryError`: ``error requesting stackdriver: INVALID_ARGUMENT:
  ...`` with Google's message.

``spec.provider``: ``secretRef`` whose Secret holds ``project`` (the project id, required with a
``secretRef``) and optionally ``serviceAccountKey``; without a ``secretRef`` the project comes
from Application Default Credentials. ``address``, when set, replaces the API endpoint
(``https://monitoring.googleapis.com``; e.g. a private endpoint or a test server). Queries time
out after 15 s. Availability (:meth:`StackdriverBackend.is_online`) is Flagger's: an empty query
must be rejected as ``INVALID_ARGUMENT`` (reached and authorised); another error, such as
``PERMISSION_DENIED`` without the monitoring.read scope, means not online.

google-auth is an optional extra: ``pip install 'flagger[stackdriver]'``; without it building a
backend raises :class:`MissingExtra`, which says so.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

import aiohttp

from flagger import outgoing, plugins
from flagger.metrics.backends import prometheus

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_TIMEOUT_SECONDS",
    "EXTRA",
    "PROVIDER_TYPE",
    "SCOPE",
    "MissingExtra",
    "QueryError",
    "StackdriverBackend",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "load_sdk",
    "parse_response",
]

PROVIDER_TYPE = "stackdriver"
EXTRA = "stackdriver"
DEFAULT_ENDPOINT = "https://monitoring.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/monitoring.read"
DEFAULT_TIMEOUT_SECONDS = 15.0
#: Bound on a token refresh (google-auth's own default timeout is two minutes).
TOKEN_TIMEOUT_SECONDS = 30.0
NO_VALUES_FOUND = "no values found"


class MissingExtra(prometheus.ConfigError):
    """The optional Google auth library is not installed."""


class QueryError(prometheus.QueryError):
    """A Cloud Monitoring query failed; the message says why."""


class _Sdk:
    """The google-auth modules this backend uses (imported on demand: an optional extra)."""

    def __init__(self) -> None:
        try:
            self.auth = importlib.import_module("google.auth")
            self.exceptions = importlib.import_module("google.auth.exceptions")
            self.service_account = importlib.import_module("google.oauth2.service_account")
            self.requests = importlib.import_module("google.auth.transport.requests")
        except ImportError as err:
            raise MissingExtra(
                f"the {PROVIDER_TYPE} metric provider needs google-auth with requests, which is "
                f"not installed: pip install 'flagger[{EXTRA}]' ({err})"
            ) from err


def load_sdk() -> Any:
    """The google-auth modules, or :class:`MissingExtra` naming the extra to install."""
    return _Sdk()


def parse_response(status: int, body: bytes) -> float:
    """The value of a ``timeSeries:query`` answer, with the rules of the module docstring."""
    text = body.decode(errors="replace")
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if status >= 400 or not isinstance(answer, dict):
        raise QueryError(f"error requesting stackdriver: {_error_text(status, answer, text)}")
    series = answer.get("timeSeriesData") or []
    if not series:
        raise plugins.NoValuesFound(f"invalid response: no time series: {NO_VALUES_FOUND}")
    if len(series) > 1:
        labels = "; ".join(_labels(s) for s in series[:5])
        raise QueryError(
            f"query returned {len(series)} time series, expected one (merge them, e.g. with "
            f"group_by []): {labels}"
        )
    points = series[0].get("pointData") or []
    values = (points[0].get("values") or []) if points else []
    if not values:
        raise plugins.NoValuesFound(f"invalid response: no point values: {NO_VALUES_FOUND}")
    return _typed_value(values[0])


def _typed_value(typed: Any) -> float:
    if not isinstance(typed, dict):
        raise QueryError(f"invalid response: unexpected value {typed!r}")
    for key in ("doubleValue", "int64Value"):
        if key in typed:
            try:
                value = float(typed[key])
            except (TypeError, ValueError) as err:
                raise QueryError(f"invalid response: {key} {typed[key]!r}") from err
            if math.isnan(value):
                raise plugins.NoValuesFound(NO_VALUES_FOUND)
            return value
    kinds = ", ".join(typed) or "none"
    raise QueryError(f"invalid response: value of kind {kinds}, expected a double or an int64")


def _labels(series: Any) -> str:
    values = series.get("labelValues") if isinstance(series, dict) else None
    return (
        ",".join(str(next(iter(v.values()), "")) for v in values or [] if isinstance(v, dict))
        or "{}"
    )


def _error_text(status: int, answer: Any, text: str) -> str:
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return f"{error.get('status') or error.get('code')}: {error['message']}"
    return f"HTTP {status}: {text.strip()[:500]}"


def _error_status(body: bytes) -> str:
    try:
        error = json.loads(body).get("error") or {}
        return str(error.get("status") or "")
    except (ValueError, AttributeError):
        return ""


class StackdriverBackend(plugins.OnlineCheck):
    """Runs MQL queries in one project (a :class:`flagger.plugins.MetricBackend`).

    ``service_account_info``: the parsed service-account key, or ``None`` for Application
    Default Credentials; ``project``: the project id (``None``: the credentials' project).
    ``session``: an ``aiohttp.ClientSession`` to reuse (its owner closes it).
    """

    def __init__(
        self,
        project: str | None,
        *,
        service_account_info: Mapping[str, Any] | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        insecure_skip_verify: bool = False,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise prometheus.ConfigError(f"{PROVIDER_TYPE} address {endpoint} is not a valid URL")
        self._sdk = load_sdk()
        self.project = project
        self.endpoint = endpoint.rstrip("/")
        self.insecure_skip_verify = insecure_skip_verify
        self.timeout = timeout
        self._session = session
        self._credentials: Any = None
        if service_account_info is not None:
            try:
                self._credentials = self._sdk.service_account.Credentials.from_service_account_info(
                    dict(service_account_info), scopes=[SCOPE]
                )
            except (ValueError, KeyError) as err:
                raise prometheus.ConfigError(
                    f"{PROVIDER_TYPE} serviceAccountKey is not a usable service account key: {err}"
                ) from err
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"StackdriverBackend(project={self.project!r}, endpoint={self.endpoint!r})"

    def _authorize(self) -> dict[str, str]:
        """Headers with a valid access token (refreshed when needed); blocking."""
        with self._lock:
            try:
                if self._credentials is None:
                    credentials, project = self._sdk.auth.default(scopes=[SCOPE])
                    self._credentials = credentials
                    self.project = self.project or project
                if not self._credentials.valid:
                    self._credentials.refresh(self._sdk.requests.Request())
            except self._sdk.exceptions.GoogleAuthError as err:
                raise QueryError(f"error requesting stackdriver: credentials: {err}") from err
            headers: dict[str, str] = {}
            self._credentials.apply(headers)
            return headers

    async def _post(self, query: str) -> tuple[int, bytes]:
        try:
            headers = await asyncio.wait_for(
                asyncio.to_thread(self._authorize), TOKEN_TIMEOUT_SECONDS
            )
        except TimeoutError as err:
            raise QueryError(
                f"error requesting stackdriver: no access token after {TOKEN_TIMEOUT_SECONDS:g}s"
            ) from err
        if not self.project:
            raise QueryError(
                "error requesting stackdriver: no project: set the key project in the "
                "secretRef Secret"
            )
        url = f"{self.endpoint}/v3/projects/{urllib.parse.quote(self.project)}/timeSeries:query"
        if self._session is not None:
            return await self._send(self._session, url, headers, query)
        async with outgoing.client_session() as session:
            return await self._send(session, url, headers, query)

    async def _send(
        self, session: aiohttp.ClientSession, url: str, headers: dict[str, str], query: str
    ) -> tuple[int, bytes]:
        try:
            async with session.post(
                url,
                json={"query": query},
                headers=headers,
                ssl=not self.insecure_skip_verify,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise QueryError(
                f"error requesting stackdriver: timeout after {self.timeout:g}s"
            ) from err
        except aiohttp.ClientError as err:
            raise QueryError(f"error requesting stackdriver: {err}") from err

    async def run_query(self, query: str) -> float:
        """The newest value of the query; :class:`flagger.plugins.NoValuesFound` when none."""
        status, body = await self._post(query)
        return parse_response(status, body)

    async def check_online(self) -> None:
        """Raise :class:`QueryError` (with the reason) unless the API answers as online."""
        status, body = await self._post("")
        if status < 400:
            return
        code = _error_status(body)
        if code != "INVALID_ARGUMENT":
            raise QueryError(
                f"unexpected status code: {code or status}: "
                f"{body.decode(errors='replace').strip()[:300]}"
            )


def from_provider_spec(
    spec: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
) -> StackdriverBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping (wire form) with the decoded
    Secret data under :data:`flagger.metrics.backends.prometheus.CREDENTIALS_KEY`."""
    project: str | None = None
    info: dict[str, Any] | None = None
    if spec.get("secretRef") is not None or spec.get(prometheus.CREDENTIALS_KEY) is not None:
        data = dict(spec.get(prometheus.CREDENTIALS_KEY) or {})
        if "project" not in data:
            raise prometheus.ConfigError(
                f"{PROVIDER_TYPE} credentials does not contain a project id (secret key 'project')"
            )
        project = _text(data["project"])
        if "serviceAccountKey" in data:
            try:
                info = json.loads(_text(data["serviceAccountKey"]))
            except ValueError as err:
                raise prometheus.ConfigError(
                    f"{PROVIDER_TYPE} secret key 'serviceAccountKey' is not JSON: {err}"
                ) from err
            if not isinstance(info, dict):
                raise prometheus.ConfigError(
                    f"{PROVIDER_TYPE} secret key 'serviceAccountKey' is not a JSON object"
                )
    return StackdriverBackend(
        project,
        service_account_info=info,
        endpoint=str(spec.get("address") or DEFAULT_ENDPOINT),
        insecure_skip_verify=bool(spec.get("insecureSkipVerify")),
        session=session,
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- plugin hooks ---------------------------------------------------------------------------


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``stackdriver`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """A Stackdriver backend for ``spec`` (raises ``ConfigError`` when it is unusable)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec)
