"""What the HTTP metric backends share: reading the provider spec, credentials, the metric
interval, one HTTP request with a timeout, and the "exactly one number" rules.

**The provider spec.** Every backend is built from a MetricTemplate's ``spec.provider`` mapping
in wire form (``address``, ``secretRef``, ``insecureSkipVerify``, ...) plus two keys the caller
adds:

- :data:`CREDENTIALS_KEY` (the same key as
  :data:`flagger.metrics.backends.prometheus.CREDENTIALS_KEY`): the decoded data of the Secret
  named by ``secretRef``;
- :data:`INTERVAL_KEY`: the canary metric's ``interval`` (a Go duration, default ``1m``), from
  which Datadog, New Relic, Dynatrace and SignalFx compute their query window, as Flagger does.

**Values.** A query answers one number. No series, no point, ``null`` or NaN raise
:class:`flagger.plugins.NoValuesFound`; several series raise :class:`QueryError` (the query must
aggregate); HTTP and service errors raise :class:`QueryError` with the service's own text.

Exceptions::

    prometheus.ConfigError (ValueError)
        ConfigError            the provider spec, credentials or interval are unusable
    prometheus.QueryError (Exception)
        QueryError             the query failed (HTTP, the service's error, several values)
    flagger.plugins.NoValuesFound   the query answered no value
"""

from __future__ import annotations

import dataclasses
import json
import math
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from flagger import outgoing, plugins
from flagger.api import durations
from flagger.metrics.backends import prometheus

__all__ = [
    "CREDENTIALS_KEY",
    "DEFAULT_INTERVAL",
    "DEFAULT_TIMEOUT_SECONDS",
    "INTERVAL_KEY",
    "NO_VALUES_FOUND",
    "ConfigError",
    "HttpAnswer",
    "HttpClient",
    "QueryError",
    "address",
    "credentials",
    "interval_seconds",
    "no_values",
    "number",
    "secret_value",
]

CREDENTIALS_KEY = prometheus.CREDENTIALS_KEY
#: Key of the provider spec mapping under which the caller passes the metric's interval.
INTERVAL_KEY = plugins.INTERVAL_KEY
#: Flagger's default metric interval.
DEFAULT_INTERVAL = "1m"
#: Flagger's timeout for every request to a metric provider.
DEFAULT_TIMEOUT_SECONDS = 5.0
NO_VALUES_FOUND = prometheus.NO_VALUES_FOUND
SECRET_FIELD = "spec.provider.secretRef"


#: The provider spec, its credentials or the metric interval cannot make a backend
#: (:class:`flagger.plugins.ConfigError`).
ConfigError = plugins.ConfigError
#: A query (or availability check) failed (:class:`flagger.plugins.QueryError`).
QueryError = plugins.QueryError


# --- reading the spec ------------------------------------------------------------------------


def credentials(spec: Mapping[str, Any]) -> dict[str, str]:
    """The decoded Secret data the caller put under :data:`CREDENTIALS_KEY` (may be empty)."""
    data = spec.get(CREDENTIALS_KEY) or {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{CREDENTIALS_KEY} must map Secret keys to values")
    return {str(k): v.decode() if isinstance(v, bytes) else str(v) for k, v in data.items()}


def secret_value(spec: Mapping[str, Any], provider_type: str, key: str) -> str:
    """One Secret key's value, or a :class:`ConfigError` naming the key and where it goes.

    The first sentence is Flagger's (``datadog credentials does not contain datadog_api_key``).
    """
    data = credentials(spec)
    if key in data:
        return data[key]
    if spec.get("secretRef") is None and not data:
        where = f"set {SECRET_FIELD} in the MetricTemplate to a Secret that has the key {key!r}"
    else:
        name = _secret_name(spec)
        where = (
            f"add the key {key!r} to the Secret {name}named by the MetricTemplate's {SECRET_FIELD}"
        )
    raise ConfigError(f"{provider_type} credentials does not contain {key}: {where}")


def named_secret_value(data: Mapping[str, Any], provider_type: str, key: str, what: str) -> str:
    """One key of decoded Secret data, worded as Flagger's Graphite and InfluxDB providers
    word a missing one (``influxdb credentials does not contain an authentication token``)."""
    if key not in data:
        raise prometheus.ConfigError(
            f"{provider_type} credentials does not contain {what} (secret key {key!r})"
        )
    value = data[key]
    return value.decode() if isinstance(value, bytes) else str(value)


def _secret_name(spec: Mapping[str, Any]) -> str:
    ref = spec.get("secretRef")
    if isinstance(ref, Mapping) and ref.get("name"):
        return f"{ref['name']!r} "
    return ""


def interval_seconds(spec: Mapping[str, Any]) -> float:
    """The metric interval in seconds (:data:`INTERVAL_KEY`, default ``1m``)."""
    text = spec.get(INTERVAL_KEY) or DEFAULT_INTERVAL
    try:
        return durations.parse_duration(str(text))
    except ValueError as err:
        raise ConfigError(f"error parsing metric interval: {err}") from err


def address(
    spec: Mapping[str, Any],
    provider_type: str,
    default: str | None = None,
    *,
    schemes: Sequence[str] = ("http", "https"),
) -> str:
    """``spec.provider.address`` without a trailing slash, or ``default``; a
    :class:`ConfigError` naming the field when there is neither or it is not a URL."""
    value = str(spec.get("address") or default or "")
    if not value:
        raise ConfigError(
            f"{provider_type} endpoint is not set: set spec.provider.address in the MetricTemplate"
        )
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ConfigError(
            f"{provider_type} address {value} is not a valid URL (spec.provider.address)"
        )
    return value.rstrip("/")


# --- values ----------------------------------------------------------------------------------


def no_values(detail: str = "") -> plugins.NoValuesFound:
    """Flagger's "no values found", with an optional detail after a colon."""
    return plugins.NoValuesFound(f"{NO_VALUES_FOUND}: {detail}" if detail else NO_VALUES_FOUND)


def number(value: Any, what: str) -> float:
    """A JSON number as float; ``null`` or NaN is "no values found", anything else an error."""
    if value is None:
        raise no_values(f"{what} is null")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QueryError(f"invalid response: {what} is not a number: {value!r}")
    result = float(value)
    if math.isnan(result):
        raise no_values(f"{what} is NaN")
    return result


# --- HTTP ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HttpAnswer:
    """A response's status and body."""

    status: int
    body: bytes

    @property
    def text(self) -> str:
        """The body as text (at most 1000 characters, for messages)."""
        return self.body.decode(errors="replace").strip()[:1000]

    def json(self) -> Any:
        """The body parsed as JSON; :class:`QueryError` quoting it when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError as err:
            raise QueryError(f"error unmarshaling result: {err}, {self.text!r}") from err


class HttpClient:
    """One request at a time with a timeout, over a given session or a session of its own.

    ``session``: an ``aiohttp.ClientSession`` to reuse (its owner closes it); without one each
    request opens and closes its own, honouring ``HTTP(S)_PROXY``/``NO_PROXY`` as Go's client
    does.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        insecure_skip_verify: bool = False,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.timeout = timeout
        self.insecure_skip_verify = insecure_skip_verify
        self._session = session

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        json_body: Any = None,
    ) -> HttpAnswer:
        """Send one request; :class:`QueryError` ``request failed: ...`` when it cannot."""
        if self._session is not None:
            return await self._send(self._session, method, url, headers, params, json_body)
        async with outgoing.client_session() as session:
            return await self._send(session, method, url, headers, params, json_body)

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Sequence[tuple[str, str]] | None,
        json_body: Any,
    ) -> HttpAnswer:
        try:
            async with session.request(
                method,
                url,
                headers=dict(headers or {}),
                params=list(params or []),
                json=json_body,
                ssl=not self.insecure_skip_verify,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                return HttpAnswer(response.status, await response.read())
        except TimeoutError as err:
            raise QueryError(f"request failed: timeout after {self.timeout:g}s") from err
        except aiohttp.ClientError as err:
            raise QueryError(f"request failed: {err}") from err
