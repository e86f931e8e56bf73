"""The Keptn metric backend: a KeptnMetric's value, or the verdict of a Keptn Analysis.

As Flagger's (``pkg/metrics/providers/keptn.go``), through the Kubernetes API
(``metrics.keptn.sh/v1beta1``) with the daemon's own client; no address and no Secret:

- the query is ``<keptnmetric|analysis>/<namespace>/<name>[/<duration>[/<args>]]``, read in lower
  case (the whole query, arguments included), trimmed; ``keptnmetrics`` and ``analyses`` are
  accepted too;
- ``keptnmetric/<ns>/<name>``: the KeptnMetric's ``status.value`` (a decimal string);
- ``analysis/<ns>/<definition>/<duration>/<k1=v1;k2=v2>``: creates an Analysis
  ``<definition>-<6 random characters>`` with ``spec.analysisDefinition.name``,
  ``spec.timeframe.recent`` (default ``1m``) and ``spec.args``, reads it every second until
  ``status.state`` is ``Completed`` (at most 10 s), answers 1 when ``status.pass`` is true and 0
  otherwise, and deletes it;
- availability is always true (Flagger's).

A KeptnMetric that is missing, has no value yet or an unparsable one, and an Analysis that does
not complete in time, are errors (not "no values found"), as in Flagger.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import Mapping
from typing import Any

from flagger import plugins
from flagger.kube import errors as kube_errors
from flagger.metrics.backends import backend_common as common

__all__ = [
    "API_VERSION",
    "PROVIDER_TYPE",
    "KeptnBackend",
    "KeptnQuery",
    "flagger_metric_backend",
    "flagger_register",
    "parse_query",
]

PROVIDER_TYPE = "keptn"
API_VERSION = "metrics.keptn.sh/v1beta1"
METRIC_KIND = "KeptnMetric"
ANALYSIS_KIND = "Analysis"
DEFAULT_DURATION = "1m"
ANALYSIS_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 1.0
QUERY_FORMAT = "<keptnmetric|analysis>/<namespace>/<resourceName>/<duration>/<arguments>"


class KeptnQuery:
    """A parsed query: the kind, where, and for an Analysis its timeframe and arguments."""

    def __init__(
        self,
        kind: str,
        namespace: str,
        name: str,
        duration: str = "",
        arguments: dict[str, str] | None = None,
    ) -> None:
        self.kind, self.namespace, self.name = kind, namespace, name
        self.duration = duration
        self.arguments = arguments or {}

    def __repr__(self) -> str:
        return f"KeptnQuery({self.kind}/{self.namespace}/{self.name})"


def parse_query(query: str) -> KeptnQuery:
    """Read a query as Flagger does (see the module docstring)."""
    split = query.lower().removesuffix("\n").strip().split("/")
    if len(split) < 3:
        raise common.QueryError(
            f"unexpected query format. query must be in the format {QUERY_FORMAT}"
        )
    kind, namespace, name = split[0], split[1], split[2]
    if kind in ("keptnmetric", "keptnmetrics"):
        return KeptnQuery(METRIC_KIND, namespace, name)
    if kind in ("analysis", "analyses"):
        duration = split[3] if len(split) >= 4 else DEFAULT_DURATION
        arguments: dict[str, str] = {}
        if len(split) >= 5:
            for pair in split[4].split(";"):
                key_value = pair.split("=")
                if len(key_value) == 2:
                    arguments[key_value[0]] = key_value[1]
        return KeptnQuery(ANALYSIS_KIND, namespace, name, duration, arguments)
    raise common.QueryError(
        "unexpected resource kind provided in the query. must be one of: "
        "['keptnmetric', 'analysis']"
    )


class KeptnBackend:
    """Reads KeptnMetrics and runs Keptn Analyses (implements
    :class:`flagger.plugins.MetricBackend`)."""

    def __init__(
        self,
        kube: plugins.KubeClient | None,
        *,
        analysis_timeout: float = ANALYSIS_TIMEOUT_SECONDS,
        poll_interval: float = POLL_SECONDS,
    ) -> None:
        if kube is None:
            raise common.ConfigError(
                "could not initialize KeptnProvider: no Kubernetes client (the daemon has no "
                "connection to the API server)"
            )
        self._kube = kube
        self.analysis_timeout = analysis_timeout
        self.poll_interval = poll_interval

    def __repr__(self) -> str:
        return "KeptnBackend()"

    async def run_query(self, query: str) -> float:
        """A KeptnMetric's value, or 1/0 for a passed/failed Analysis."""
        parsed = parse_query(query)
        if parsed.kind == METRIC_KIND:
            return await self._metric(parsed)
        return await self._analysis(parsed)

    async def _metric(self, query: KeptnQuery) -> float:
        where = f"{query.namespace}/{query.name}"
        try:
            found = await self._kube.get(API_VERSION, METRIC_KIND, query.name, query.namespace)
        except kube_errors.ApiError as err:
            raise common.QueryError(f"could not retrieve KeptnMetric {where}: {err}") from err
        if found is None:
            raise common.QueryError(
                f"could not retrieve KeptnMetric {where}: "
                f'keptnmetrics.metrics.keptn.sh "{query.name}" not found'
            )
        status = found.get("status")
        value = status.get("value") if isinstance(status, dict) else None
        if not isinstance(value, str):
            raise common.QueryError(
                f"could not retrieve KeptnMetric - no value found in resource {where}"
            )
        try:
            number = float(value)
        except ValueError as err:
            raise common.QueryError(
                f"could not parse value of KeptnMetric {where} to float: {value!r}"
            ) from err
        if math.isnan(number):
            raise common.no_values(f"KeptnMetric {where} is NaN")
        return number

    async def _analysis(self, query: KeptnQuery) -> float:
        where = f"{query.namespace}/{query.name}"
        generated = f"{query.name}-{uuid.uuid4().hex[:6]}"
        body: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": ANALYSIS_KIND,
            "metadata": {"name": generated, "namespace": query.namespace},
            "spec": {
                "analysisDefinition": {"name": query.name},
                "timeframe": {"recent": query.duration},
                "args": dict(query.arguments),
            },
        }
        try:
            created = await self._kube.create(body)
        except kube_errors.ApiError as err:
            raise common.QueryError(f"could not create Keptn Analysis {where}: {err}") from err
        name = str((created.get("metadata") or {}).get("name") or generated)
        try:
            return await self._verdict(name, query, where)
        finally:
            with contextlib.suppress(kube_errors.ApiError, TimeoutError):
                await asyncio.shield(
                    self._kube.delete(API_VERSION, ANALYSIS_KIND, name, query.namespace)
                )

    async def _verdict(self, name: str, query: KeptnQuery, where: str) -> float:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.analysis_timeout
        while True:
            await asyncio.sleep(max(0.0, min(self.poll_interval, deadline - loop.time())))
            try:
                current = await self._kube.get(API_VERSION, ANALYSIS_KIND, name, query.namespace)
            except kube_errors.ApiError as err:
                raise common.QueryError(
                    f"could not check status of created Keptn Analysis {where}: {err}"
                ) from err
            if current is None:
                raise common.QueryError(
                    f"could not check status of created Keptn Analysis {where}: it was deleted"
                )
            status = current.get("status")
            if isinstance(status, dict) and status.get("state") == "Completed":
                passed = status.get("pass")
                if isinstance(passed, bool):
                    return 1.0 if passed else 0.0
            if loop.time() >= deadline:
                raise common.QueryError(
                    f"encountered timeout while waiting for Keptn Analysis {where} to be finished"
                )

    async def is_online(self) -> bool:
        """Always true, as Flagger's."""
        return True


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``keptn`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """A Keptn backend over ``context.kube`` (the daemon's API client)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return KeptnBackend(context.kube)
