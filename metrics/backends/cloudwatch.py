"""The CloudWatch metric backend: ``GetMetricData`` through the AWS SDK (botocore).

A MetricTemplate's ``spec.query`` for CloudWatch is the ``MetricDataQueries`` list of a
``GetMetricData`` request, in JSON, as in Flagger's documentation::

    query: |
      [{"Id": "e1", "Expression": "m1 / m2", "Label": "ErrorRate"},
       {"Id": "m1", "ReturnData": false,
        "MetricStat": {"Metric": {"Namespace": "MyKamon", "MetricName": "http.server.requests",
                       "Dimensions": [{"Name": "http_status_code", "Value": "5xx"}]},
                       "Period": 60, "Stat": "Sum", "Unit": "Count"}},
       {"Id": "m2", "ReturnData": false, "MetricStat": {...}}]

Field names are matched without regard to case, and unknown fields are dropped, as Go's JSON
decoding in Flagger does, so ``{"id": ...}`` works too. The request is Flagger's: ``EndTime``
now, ``StartTime`` ten metric intervals earlier, ``MaxDatapoints`` 20, in ``spec.provider.region``
(required), with up to 3 retries. The answer:

- the value is the first (newest: CloudWatch returns datapoints newest first) of the result's
  ``Values``;
- no result, or a result without values, raises :class:`flagger.plugins.NoValuesFound`;
- several results raise :class:`QueryError` (reference §2: several values is an error; Flagger
  took the first): set ``"ReturnData": false`` on every query but the one to check;
- an AWS error raises :class:`QueryError` (``error requesting cloudwatch: An error occurred
  (AccessDenied) when calling the GetMetricData operation: ...``).

Requests are signed by botocore with the default AWS credential chain (environment, shared
files, web identity / IRSA, container and instance roles), as Flagger uses the SDK's default
session; there are no secret keys for CloudWatch. ``spec.provider.address``, when set, replaces
the regional endpoint (``endpoint_url``: VPC endpoints, test servers). botocore blocks, so every
call runs in a worker thread (:func:`asyncio.to_thread`).

The metric interval is not part of ``spec.provider``: the caller passes it (a Go duration such
as ``1m``, the Canary metric's ``interval``) in the same mapping under :data:`INTERVAL_KEY`;
without it :data:`DEFAULT_INTERVAL` is assumed.

Availability (:meth:`CloudWatchBackend.is_online`) is Flagger's: ``GetMetricData`` with no
queries must fail with HTTP 400 (the request reached CloudWatch and was authorised); another
status, such as 403 without ``cloudwatch:GetMetricData`` permission, means not online.

The AWS SDK is an optional extra: ``pip install 'flagger[cloudwatch]'``; without it building a
backend raises :class:`MissingExtra`, which says so.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import json
import math
import threading
from collections.abc import Mapping
from typing import Any

from flagger import plugins
from flagger.api import durations
from flagger.metrics.backends import prometheus

__all__ = [
    "DEFAULT_INTERVAL",
    "EXTRA",
    "INTERVAL_KEY",
    "MAX_DATAPOINTS",
    "MAX_RETRIES",
    "PROVIDER_TYPE",
    "START_DELTA_MULTIPLIER",
    "CloudWatchBackend",
    "MissingExtra",
    "QueryError",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "load_sdk",
    "parse_query",
    "parse_response",
]

PROVIDER_TYPE = "cloudwatch"
EXTRA = "cloudwatch"
#: Key of the provider spec mapping under which the caller passes the metric's interval.
INTERVAL_KEY = "metricInterval"
DEFAULT_INTERVAL = "1m"
#: The query window is this many metric intervals (Flagger's).
START_DELTA_MULTIPLIER = 10
MAX_DATAPOINTS = 20
#: Retries after the first attempt (Flagger's ``WithMaxRetries(3)``).
MAX_RETRIES = 3
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 15.0
NO_VALUES_FOUND = "no values found"
_ZERO_TIME = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)  # Go's time.Time{}


class MissingExtra(prometheus.ConfigError):
    """The optional AWS SDK is not installed."""


class QueryError(prometheus.QueryError):
    """A CloudWatch query failed; the message says why."""


class _Sdk:
    """The botocore modules this backend uses (imported on demand: an optional extra)."""

    def __init__(self) -> None:
        try:
            self.session = importlib.import_module("botocore.session")
            self.config = importlib.import_module("botocore.config")
            self.exceptions = importlib.import_module("botocore.exceptions")
        except ImportError as err:
            raise MissingExtra(
                f"the {PROVIDER_TYPE} metric provider needs the AWS SDK (botocore), which is "
                f"not installed: pip install 'flagger[{EXTRA}]' ({err})"
            ) from err


def load_sdk() -> Any:
    """The botocore modules, or :class:`MissingExtra` naming the extra to install."""
    return _Sdk()


# --- query and answer ------------------------------------------------------------------------


def parse_query(query: str, shape: Any) -> list[dict[str, Any]]:
    """The ``MetricDataQueries`` of ``query`` (JSON), with field names matched to the SDK's
    ``MetricDataQuery`` ``shape`` without regard to case and unknown fields dropped."""
    try:
        value = json.loads(query)
    except ValueError as err:
        raise QueryError(f"error unmarshaling query: {err}") from err
    if value is None:
        return []
    if not isinstance(value, list):
        raise QueryError(
            "error unmarshaling query: expected a JSON list of MetricDataQuery objects, got "
            f"{type(value).__name__}"
        )
    return [_conform(item, shape, f"[{i}]") for i, item in enumerate(value)]


def _conform(value: Any, shape: Any, where: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise QueryError(f"error unmarshaling query: {where} must be an object")
        names = {name.lower(): name for name in shape.members}
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key if key in shape.members else names.get(key.lower())
            if name is not None and item is not None:
                out[name] = _conform(item, shape.members[name], f"{where}.{name}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise QueryError(f"error unmarshaling query: {where} must be a list")
        return [_conform(item, shape.member, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def parse_response(answer: Mapping[str, Any]) -> float:
    """The value of a ``GetMetricData`` answer, with the rules of the module docstring."""
    results = answer.get("MetricDataResults") or []
    if not results:
        raise plugins.NoValuesFound(f"invalid response: no MetricDataResults: {NO_VALUES_FOUND}")
    if len(results) > 1:
        ids = ", ".join(str(r.get("Id")) for r in results[:5])
        raise QueryError(
            f"GetMetricData returned {len(results)} results ({ids}), expected one: set "
            '"ReturnData": false on every query but the one to check'
        )
    values = results[0].get("Values") or []
    if not values:
        raise plugins.NoValuesFound(
            f"invalid response: result {results[0].get('Id')!r} has no values: {NO_VALUES_FOUND}"
        )
    value = float(values[0])
    if math.isnan(value):
        raise plugins.NoValuesFound(NO_VALUES_FOUND)
    return value


# --- the backend -----------------------------------------------------------------------------


class CloudWatchBackend(plugins.OnlineCheck):
    """Runs ``GetMetricData`` queries in one region (a :class:`flagger.plugins.MetricBackend`).

    ``session``: a ``botocore.session.Session`` to take credentials and configuration from
    (default: a new one, i.e. the default credential chain). The client is made on first use,
    in a worker thread (loading the SDK's service model takes a while).
    """

    def __init__(
        self,
        region: str,
        *,
        interval: str = DEFAULT_INTERVAL,
        endpoint_url: str | None = None,
        verify: bool = True,
        session: Any = None,
    ) -> None:
        if not region:
            raise prometheus.ConfigError(
                f"{PROVIDER_TYPE} region not specified: set spec.provider.region"
            )
        try:
            interval_seconds = durations.parse_duration(interval)
        except ValueError as err:
            raise prometheus.ConfigError(f"error parsing metric interval: {err}") from err
        self._sdk = load_sdk()
        self.region = region
        self.endpoint_url = endpoint_url or None
        self.verify = verify
        self.start_delta = datetime.timedelta(seconds=START_DELTA_MULTIPLIER * interval_seconds)
        self._session = session
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CloudWatchBackend(region={self.region!r}, endpoint_url={self.endpoint_url!r})"

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                session = self._session or self._sdk.session.get_session()
                config = self._sdk.config.Config(
                    retries={"total_max_attempts": MAX_RETRIES + 1, "mode": "standard"},
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    read_timeout=READ_TIMEOUT_SECONDS,
                )
                self._client = session.create_client(
                    "cloudwatch",
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    verify=self.verify,
                    config=config,
                )
            return self._client

    def _query_shape(self) -> Any:
        model = self._get_client().meta.service_model.operation_model("GetMetricData")
        return model.input_shape.members["MetricDataQueries"].member

    def _run_query(self, query: str) -> float:
        queries = parse_query(query, self._query_shape())
        end = datetime.datetime.now(datetime.UTC)
        try:
            answer = self._get_client().get_metric_data(
                MetricDataQueries=queries,
                StartTime=end - self.start_delta,
                EndTime=end,
                MaxDatapoints=MAX_DATAPOINTS,
            )
        except (self._sdk.exceptions.BotoCoreError, self._sdk.exceptions.ClientError) as err:
            raise QueryError(f"error requesting cloudwatch: {err}") from err
        return parse_response(answer)

    async def run_query(self, query: str) -> float:
        """The newest value of the query; :class:`flagger.plugins.NoValuesFound` when none."""
        return await asyncio.to_thread(self._run_query, query)

    def _check_online(self) -> None:
        try:
            self._get_client().get_metric_data(
                MetricDataQueries=[], StartTime=_ZERO_TIME, EndTime=_ZERO_TIME
            )
        except self._sdk.exceptions.ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status != 400:
                raise QueryError(f"unexpected status code: {status}: {err}") from err
        except self._sdk.exceptions.BotoCoreError as err:
            raise QueryError(f"unexpected error: {err}") from err

    async def check_online(self) -> None:
        """Raise :class:`QueryError` (with the reason) unless CloudWatch answers as online."""
        await asyncio.to_thread(self._check_online)


def from_provider_spec(spec: Mapping[str, Any], *, session: Any = None) -> CloudWatchBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping (wire form), with the metric
    interval under :data:`INTERVAL_KEY` (see the module docstring)."""
    return CloudWatchBackend(
        str(spec.get("region") or ""),
        interval=str(spec.get(INTERVAL_KEY) or DEFAULT_INTERVAL),
        endpoint_url=str(spec.get("address") or "") or None,
        verify=not spec.get("insecureSkipVerify"),
        session=session,
    )


# --- plugin hooks ---------------------------------------------------------------------------


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``cloudwatch`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """A CloudWatch backend for ``spec`` (raises ``ConfigError`` when it is unusable)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec)
