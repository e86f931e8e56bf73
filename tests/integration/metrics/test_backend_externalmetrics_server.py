"""The ``externalmetrics`` backend through the local control plane's aggregation layer.

A local HTTPS server plays an external metrics adapter (as KEDA or prometheus-adapter do): it
serves discovery for ``external.metrics.k8s.io/v1beta1`` and
``/apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>?labelSelector=...`` answering
``ExternalMetricValueList`` objects, and 404 for a metric it does not know. It is registered with
the API server by an ``APIService`` whose Service is an ExternalName ``localhost`` on the server's
port (``insecureSkipTLSVerify``: the aggregator checks the serving name ``<svc>.<ns>.svc``), so
every request the backend sends goes through the real API server and its aggregator. Matrix: a
quantity value (``1500m``), the default namespace, the label selector as received, no items,
several items, an adapter error, availability (registered vs. not), the provider-address and
token overrides, and the plugin hook with the daemon's client.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from flagger import plugins
from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client
from flagger.metrics.backends import externalmetrics

pytestmark = pytest.mark.cluster

GROUP_VERSION = "external.metrics.k8s.io/v1beta1"
APISERVICE = "v1beta1.external.metrics.k8s.io"


class FakeAdapter:
    """``metrics`` maps (namespace, metric) to ``[(labels, quantity)]`` (others have no items);
    metrics named in ``failing`` answer a 500 Status; ``requests`` records (path,
    labelSelector) of each metric request."""

    def __init__(self) -> None:
        self.metrics: dict[tuple[str, str], list[tuple[dict[str, str], str]]] = {}
        self.failing: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": GROUP_VERSION,
                "resources": [
                    {
                        "name": "externalmetrics",
                        "singularName": "",
                        "namespaced": True,
                        "kind": "ExternalMetricValueList",
                        "verbs": ["get"],
                    }
                ],
            }
        )

    async def value(self, request: web.Request) -> web.Response:
        namespace, metric = request.match_info["namespace"], request.match_info["metric"]
        selector = request.query.get("labelSelector", "")
        self.requests.append((request.path, selector))
        if metric in self.failing:
            return web.json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "message": f"unable to fetch metrics from external source for {metric}",
                    "reason": "InternalError",
                    "code": 500,
                },
                status=500,
            )
        wanted = dict(p.split("=", 1) for p in selector.split(",") if "=" in p)
        items = [
            {
                "metricName": metric,
                "metricLabels": labels,
                "timestamp": "2024-01-01T00:00:00Z",
                "value": quantity,
            }
            for labels, quantity in self.metrics.get((namespace, metric), [])
            if all(labels.get(k) == v for k, v in wanted.items())
        ]
        return web.json_response(
            {
                "kind": "ExternalMetricValueList",
                "apiVersion": GROUP_VERSION,
                "metadata": {},
                "items": items,
            }
        )

    async def not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "Status", "status": "Failure", "code": 404}, status=404)

    async def start(self, certs: Any) -> FakeAdapter:
        app = web.Application()
        app.router.add_get(f"/apis/{GROUP_VERSION}", self.discovery)
        app.router.add_get(f"/apis/{GROUP_VERSION}/namespaces/{{namespace}}/{{metric}}", self.value)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(certs.server_cert), str(certs.server_key))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _register(cluster: devcluster.LocalCluster, namespace: str, port: int) -> None:
    cluster.api(
        "POST",
        f"/api/v1/namespaces/{namespace}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "metrics-adapter", "namespace": namespace},
            "spec": {
                "type": "ExternalName",
                "externalName": "localhost",
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            },
        },
    )
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=f"""
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {{name: {APISERVICE}}}
spec:
  group: external.metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {{namespace: {namespace}, name: metrics-adapter, port: {port}}}
""",
    )


def _available(cluster: devcluster.LocalCluster) -> bool:
    found = cluster.api("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}")
    conditions = (found.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


@pytest.fixture
async def adapter(cluster: devcluster.LocalCluster, namespace: str) -> AsyncIterator[FakeAdapter]:
    fake = await FakeAdapter().start(cluster.certs)
    _register(cluster, namespace, fake.port)
    try:
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(_available, cluster):
            if time.monotonic() > deadline:
                raise AssertionError("the APIService did not become Available")
            await asyncio.sleep(0.5)
        yield fake
    finally:
        cluster.kubectl("delete", "apiservice", APISERVICE, "--wait=false", check=False)
        await fake.stop()


@pytest.fixture
async def kube(cluster: devcluster.LocalCluster) -> AsyncIterator[kube_client.Kube]:
    client = await kube_client.Kube.connect(str(cluster.kubeconfig))
    yield client
    await client.close()


@pytest.fixture
def no_apiservice(cluster: devcluster.LocalCluster) -> Iterator[None]:
    cluster.kubectl("delete", "apiservice", APISERVICE, "--ignore-not-found", check=False)
    yield


async def test_value_through_the_aggregator(
    adapter: FakeAdapter, kube: kube_client.Kube, namespace: str
) -> None:
    adapter.metrics[(namespace, "queue-depth")] = [
        ({"queue": "orders"}, "1500m"),
        ({"queue": "billing"}, "7"),
    ]
    backend = externalmetrics.ExternalMetricsBackend(kube)
    assert await backend.run_query(f"{namespace}/queue-depth?labelSelector=queue%3Dorders") == 1.5
    assert adapter.requests[-1] == (
        f"/apis/{GROUP_VERSION}/namespaces/{namespace}/queue-depth",
        "queue=orders",
    )


async def test_default_namespace_and_binary_suffix(
    adapter: FakeAdapter, kube: kube_client.Kube
) -> None:
    adapter.metrics[("default", "bytes-waiting")] = [({}, "2Ki")]
    backend = externalmetrics.ExternalMetricsBackend(kube)
    assert await backend.run_query("bytes-waiting") == 2048.0
    assert await backend.run_query("/bytes-waiting") == 2048.0


async def test_no_items_several_items_failing_adapter(
    adapter: FakeAdapter, kube: kube_client.Kube, namespace: str
) -> None:
    adapter.metrics[(namespace, "queue-depth")] = [({"queue": "a"}, "1"), ({"queue": "b"}, "2")]
    backend = externalmetrics.ExternalMetricsBackend(kube)
    with pytest.raises(plugins.NoValuesFound, match="no external metrics found"):
        await backend.run_query(f"{namespace}/queue-depth?labelSelector=queue%3Dnone")
    with pytest.raises(externalmetrics.common.QueryError, match="2 external metric values"):
        await backend.run_query(f"{namespace}/queue-depth")
    adapter.failing.add("broken")
    with pytest.raises(
        externalmetrics.common.QueryError,
        match=r"error querying external metrics API.*unable to fetch metrics",
    ):
        await backend.run_query(f"{namespace}/broken")


async def test_is_online_when_registered(adapter: FakeAdapter, kube: kube_client.Kube) -> None:
    assert await externalmetrics.ExternalMetricsBackend(kube).is_online() is True
    assert adapter.requests[-1][0].endswith("/namespaces/kube-system/dummy-metric")


async def test_is_offline_when_no_adapter_is_registered(
    no_apiservice: None, kube: kube_client.Kube
) -> None:
    backend = externalmetrics.ExternalMetricsBackend(kube)
    assert await backend.is_online() is False
    with pytest.raises(externalmetrics.common.QueryError, match="external metrics API"):
        await backend.run_query("anything")


async def test_address_and_token_overrides(
    adapter: FakeAdapter, kube: kube_client.Kube, cluster: devcluster.LocalCluster, namespace: str
) -> None:
    adapter.metrics[(namespace, "lag")] = [({}, "12")]
    spec = {
        "type": "externalmetrics",
        "address": cluster.server,
        "secretRef": {"name": "em"},
        "credentials": {"token": cluster.admin_token},
    }
    assert (
        await externalmetrics.from_provider_spec(spec, kube).run_query(f"{namespace}/lag") == 12.0
    )
    spec["credentials"] = {"token": "not-a-valid-token"}
    with pytest.raises(externalmetrics.common.QueryError, match=r"401|Unauthorized"):
        await externalmetrics.from_provider_spec(spec, kube).run_query(f"{namespace}/lag")


async def test_through_the_plugin_hook(
    adapter: FakeAdapter, kube: kube_client.Kube, namespace: str
) -> None:
    adapter.metrics[(namespace, "lag")] = [({}, "0.5")]
    backend = plugins.load(extra=[externalmetrics]).metric_backend(
        "externalmetrics", {"type": "externalmetrics"}, plugins.PluginContext(kube=kube)
    )
    assert await backend.run_query(f"{namespace}/lag") == 0.5
