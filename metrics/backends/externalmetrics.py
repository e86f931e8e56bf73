"""The ``externalmetrics`` backend: one value from the Kubernetes external metrics API.

As Flagger's (``pkg/metrics/providers/externalmetrics.go``):

- the query is ``<namespace>/<metricName>?labelSelector=<url-encoded selector>``; only the
  metric name is required, the namespace defaults to ``default`` (``metric`` and ``/metric``
  both mean ``default/metric``);
- it is answered by ``GET /apis/external.metrics.k8s.io/v1beta1/namespaces/<namespace>/
  <metricName>?labelSelector=...`` on the API server, which the aggregation layer proxies to
  the adapter registered for that API (KEDA, prometheus-adapter, Datadog's cluster agent, ...);
- without ``spec.provider.address`` the daemon's own connection is used (Flagger: the
  in-cluster config); with it, the same credentials against that host, with
  ``insecureSkipVerify`` and a Secret key ``token`` (bearer token) applied as overrides;
- the value is the first item's ``value`` (a Kubernetes quantity such as ``1500m``);
- availability is listing ``dummy-metric`` in ``kube-system``: any answer but an error counts.

No item is "no values found"; several items are an error here (Flagger takes the first): a
check needs one number, so narrow the label selector.
"""

from __future__ import annotations

import asyncio
import decimal
import math
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from flagger import plugins
from flagger.kube import errors as kube_errors
from flagger.metrics.backends import backend_common as common

__all__ = [
    "API_PATH",
    "PROVIDER_TYPE",
    "ExternalMetricsBackend",
    "flagger_metric_backend",
    "flagger_register",
    "from_provider_spec",
    "parse_quantity",
    "parse_query",
]

PROVIDER_TYPE = "externalmetrics"
API_PATH = "/apis/external.metrics.k8s.io/v1beta1"
DEFAULT_NAMESPACE = "default"
ONLINE_NAMESPACE = "kube-system"
ONLINE_METRIC = "dummy-metric"
QUERY_FORMAT = "<namespace>/<metricName>?labelSelector=<urlencoded label selectors>"

_QUANTITY = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|"
    r"n|u|m|k|M|G|T|P|E))?$"
)
_SUFFIXES = {
    "n": decimal.Decimal("1e-9"),
    "u": decimal.Decimal("1e-6"),
    "m": decimal.Decimal("1e-3"),
    "k": decimal.Decimal("1e3"),
    "M": decimal.Decimal("1e6"),
    "G": decimal.Decimal("1e9"),
    "T": decimal.Decimal("1e12"),
    "P": decimal.Decimal("1e15"),
    "E": decimal.Decimal("1e18"),
    "Ki": decimal.Decimal(2) ** 10,
    "Mi": decimal.Decimal(2) ** 20,
    "Gi": decimal.Decimal(2) ** 30,
    "Ti": decimal.Decimal(2) ** 40,
    "Pi": decimal.Decimal(2) ** 50,
    "Ei": decimal.Decimal(2) ** 60,
}


def parse_query(query: str) -> tuple[str, str, str]:
    """``(namespace, metric name, label selector)`` of a query (see the module docstring)."""
    text = query.strip()
    split = urllib.parse.urlsplit("dummy:///" + text)
    if split.netloc or any(c in text for c in "\n\r\t"):
        raise common.QueryError(
            f"error parsing metric query: malformed query string, expected {QUERY_FORMAT}, "
            f"got {query}"
        )
    parts = urllib.parse.unquote(split.path).removeprefix("/").split("/")
    if len(parts) > 2:
        raise common.QueryError(
            f"error parsing metric query: malformed query string, too many slashes, expected "
            f"{QUERY_FORMAT}, got {query}"
        )
    namespace, name = (DEFAULT_NAMESPACE, parts[0]) if len(parts) == 1 else parts
    namespace = namespace or DEFAULT_NAMESPACE
    if not name:
        raise common.QueryError("error parsing metric query: metric name cannot be empty")
    selectors = urllib.parse.parse_qs(split.query).get("labelSelector") or [""]
    return namespace, name, selectors[0].strip()


def parse_quantity(text: str) -> float:
    """A Kubernetes quantity (``1500m``, ``2Ki``, ``1e3``, ``42``) as a float."""
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise common.QueryError(f"invalid response: value {text!r} is not a quantity")
    number, exponent, suffix = match.groups()
    value = decimal.Decimal(number)
    if exponent:
        value = value.scaleb(int(exponent[1:]))
    elif suffix:
        value *= _SUFFIXES[suffix]
    return float(value)


class ExternalMetricsBackend(plugins.OnlineCheck):
    """Reads external metrics through the API server (implements
    :class:`flagger.plugins.MetricBackend`).

    ``kube`` (the daemon's client) is used as is; when the provider sets an address, a token
    or ``insecureSkipVerify``, each request goes through a client of its own built from a copy
    of ``kube``'s configuration with those overrides, closed after the request.
    """

    def __init__(
        self,
        kube: plugins.ApiClient | None = None,
        *,
        address: str = "",
        token: str | None = None,
        insecure_skip_verify: bool = False,
        timeout: float = common.DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if kube is None:
            raise common.ConfigError(
                f"{PROVIDER_TYPE}: Not in a kubernetes cluster (the daemon has no Kubernetes "
                f"client to reach the external metrics API)"
            )
        self.address = address.rstrip("/")
        self.timeout = timeout
        self._kube = kube
        self._token = token
        self._insecure = insecure_skip_verify

    def __repr__(self) -> str:
        return f"ExternalMetricsBackend({self.address or 'the daemon API server'!r})"

    def _overridden(self) -> bool:
        return bool(self.address or self._token or self._insecure)

    def _client(self) -> plugins.ApiClient:
        """A client with the provider's overrides on a copy of the daemon's configuration."""
        return self._kube.with_overrides(
            host=self.address,
            token=self._token,
            insecure_skip_verify=self._insecure,
            timeout=self.timeout,
        )

    async def _list(self, namespace: str, name: str, selector: str) -> Any:
        path = (
            f"{API_PATH}/namespaces/{urllib.parse.quote(namespace, safe='')}/"
            f"{urllib.parse.quote(name, safe='')}"
        )
        query = {"labelSelector": selector} if selector else None
        kube = self._client() if self._overridden() else self._kube
        try:
            async with asyncio.timeout(self.timeout * 3):
                return await kube.request("GET", path, query=query)
        except kube_errors.ApiError as err:
            raise common.QueryError(f"error querying external metrics API: {err}") from err
        except TimeoutError as err:
            raise common.QueryError(
                f"error querying external metrics API: timeout after {self.timeout * 3:g}s"
            ) from err
        finally:
            if kube is not self._kube:
                await kube.close()

    async def run_query(self, query: str) -> float:
        """The value of the single external metric the query selects."""
        namespace, name, selector = parse_query(query)
        answer = await self._list(namespace, name, selector)
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise common.QueryError(f"invalid response: {str(answer)[:300]}")
        if not items:
            raise common.no_values("no external metrics found")
        if len(items) > 1:
            labels = ", ".join(str(i.get("metricLabels") or {}) for i in items[:5])
            raise common.QueryError(
                f"query returned {len(items)} external metric values, expected one (narrow "
                f"the labelSelector): {labels}"
            )
        value = parse_quantity(items[0].get("value"))
        if math.isnan(value):
            raise common.no_values("the value is NaN")
        return value

    async def check_online(self) -> None:
        """Raise with the reason unless the external metrics API answers."""
        try:
            await self._list(ONLINE_NAMESPACE, ONLINE_METRIC, "")
        except common.QueryError as err:
            raise common.QueryError(f"external metrics service unavailable: {err}") from err


def from_provider_spec(
    spec: Mapping[str, Any], kube: plugins.ApiClient | None
) -> ExternalMetricsBackend:
    """A backend from a MetricTemplate ``spec.provider`` mapping and the daemon's client."""
    address = ""
    if spec.get("address"):
        address = common.address(spec, PROVIDER_TYPE)
    token = common.credentials(spec).get("token")
    return ExternalMetricsBackend(
        kube,
        address=address,
        token=token,
        insecure_skip_verify=bool(spec.get("insecureSkipVerify")),
    )


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``externalmetrics`` metric provider type."""
    registry.metric_backend(PROVIDER_TYPE, flagger_metric_backend)


def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    """An external metrics backend over ``context.kube`` (the daemon's API client)."""
    if provider_type != PROVIDER_TYPE:
        return None
    return from_provider_spec(spec, context.kube)
