"""The Keptn backend against the local control plane, with Keptn's CRDs installed.

Keptn's ``KeptnMetric`` and ``Analysis`` (``metrics.keptn.sh/v1beta1``, namespaced, with a
status subresource) are installed for this module; the test plays Keptn's metrics operator:
it writes a KeptnMetric's ``status.value``, and completes each Analysis the backend creates by
writing ``status.state``/``status.pass`` through the status subresource. Matrix: a metric value,
a missing metric, a metric without a value yet, a passed Analysis with a timeframe and
arguments (checked as created), a failed Analysis with the defaults, an Analysis that never
completes (times out), every Analysis deleted afterwards, availability, and the plugin hook with
the daemon's client.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from flagger import plugins
from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client
from flagger.metrics.backends import keptn

pytestmark = pytest.mark.cluster

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.metrics.keptn.sh
spec:
  group: metrics.keptn.sh
  scope: Namespaced
  names: {{kind: {kind}, listKind: {kind}List, plural: {plural}, singular: {singular}}}
  versions:
  - name: v1beta1
    served: true
    storage: true
    subresources: {{status: {{}}}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"""
CRDS = (("KeptnMetric", "keptnmetrics", "keptnmetric"), ("Analysis", "analyses", "analysis"))


@pytest.fixture(scope="module")
def keptn_crds(cluster: devcluster.LocalCluster) -> Iterator[None]:
    names = []
    for kind, plural, singular in CRDS:
        text = textwrap.dedent(CRD).format(kind=kind, plural=plural, singular=singular)
        cluster.kubectl("apply", "-f", "-", input=text)
        names.append(f"crd/{plural}.metrics.keptn.sh")
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    yield
    cluster.kubectl("delete", *names, "--wait=false", check=False)


@pytest.fixture
async def kube(
    cluster: devcluster.LocalCluster, keptn_crds: None
) -> AsyncIterator[kube_client.Kube]:
    client = await kube_client.Kube.connect(str(cluster.kubeconfig))
    yield client
    await client.close()


async def _metric(kube: kube_client.Kube, namespace: str, name: str, value: str | None) -> None:
    created = await kube.create(
        {
            "apiVersion": keptn.API_VERSION,
            "kind": "KeptnMetric",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "provider": {"name": "my-provider"},
                "query": "my-query",
                "fetchIntervalSeconds": 5,
            },
        }
    )
    if value is not None:
        created["status"] = {"value": value, "rawValue": "e30="}
        await kube.replace_status(created)


class KeptnOperator:
    """Completes the Analyses created in a namespace with a verdict, recording their specs."""

    def __init__(self, kube: kube_client.Kube, namespace: str, verdict: bool | None) -> None:
        self.kube, self.namespace, self.verdict = kube, namespace, verdict
        self.seen: list[dict[str, Any]] = []

    async def run(self) -> None:
        while True:
            for item in await self.kube.list(keptn.API_VERSION, "Analysis", self.namespace):
                if item.get("status") or self.verdict is None:
                    if item["metadata"]["name"] not in [s["metadata"]["name"] for s in self.seen]:
                        self.seen.append(item)
                    continue
                self.seen.append(item)
                item["status"] = {
                    "state": "Completed",
                    "pass": self.verdict,
                    "raw": "{}",
                    "timeframe": {"from": None, "to": None},
                }
                await self.kube.replace_status(item)
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def _operator(
    kube: kube_client.Kube, namespace: str, verdict: bool | None
) -> AsyncIterator[KeptnOperator]:
    operator = KeptnOperator(kube, namespace, verdict)
    task = asyncio.create_task(operator.run())
    try:
        yield operator
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_keptn_metric_value(kube: kube_client.Kube, namespace: str) -> None:
    await _metric(kube, namespace, "response-time", "3.5")
    backend = keptn.KeptnBackend(kube)
    assert await backend.run_query(f"keptnmetric/{namespace}/response-time") == 3.5
    assert await backend.run_query(f"  KeptnMetrics/{namespace}/Response-Time\n") == 3.5


async def test_missing_metric_and_metric_without_value(
    kube: kube_client.Kube, namespace: str
) -> None:
    backend = keptn.KeptnBackend(kube)
    with pytest.raises(
        keptn.common.QueryError, match=f"could not retrieve KeptnMetric {namespace}/absent"
    ):
        await backend.run_query(f"keptnmetric/{namespace}/absent")
    await _metric(kube, namespace, "pending", None)
    with pytest.raises(keptn.common.QueryError, match="no value found in resource"):
        await backend.run_query(f"keptnmetric/{namespace}/pending")


async def test_passed_analysis(kube: kube_client.Kube, namespace: str) -> None:
    backend = keptn.KeptnBackend(kube, poll_interval=0.2)
    async with _operator(kube, namespace, True) as operator:
        value = await backend.run_query(f"analysis/{namespace}/my-analysis/5m/foo=bar;bar=foo")
    assert value == 1.0
    created = operator.seen[0]
    assert created["metadata"]["name"].startswith("my-analysis-")
    assert created["spec"] == {
        "analysisDefinition": {"name": "my-analysis"},
        "timeframe": {"recent": "5m"},
        "args": {"foo": "bar", "bar": "foo"},
    }
    assert await kube.list(keptn.API_VERSION, "Analysis", namespace) == []


async def test_failed_analysis_with_defaults(kube: kube_client.Kube, namespace: str) -> None:
    backend = keptn.KeptnBackend(kube, poll_interval=0.2)
    async with _operator(kube, namespace, False) as operator:
        assert await backend.run_query(f"analysis/{namespace}/my-analysis") == 0.0
    assert operator.seen[0]["spec"]["timeframe"] == {"recent": "1m"}
    assert operator.seen[0]["spec"]["args"] == {}
    assert await kube.list(keptn.API_VERSION, "Analysis", namespace) == []


async def test_analysis_that_never_completes(kube: kube_client.Kube, namespace: str) -> None:
    backend = keptn.KeptnBackend(kube, analysis_timeout=1.5, poll_interval=0.3)
    async with _operator(kube, namespace, None) as operator:
        with pytest.raises(keptn.common.QueryError, match="timeout while waiting"):
            await backend.run_query(f"analysis/{namespace}/slow")
    assert len(operator.seen) == 1
    assert await kube.list(keptn.API_VERSION, "Analysis", namespace) == []


async def test_through_the_plugin_hook(kube: kube_client.Kube, namespace: str) -> None:
    await _metric(kube, namespace, "errors", "0.25")
    installed = plugins.load(extra=[keptn])
    backend = installed.metric_backend("keptn", {"type": "keptn"}, plugins.PluginContext(kube=kube))
    assert await backend.is_online() is True
    assert await backend.run_query(f"keptnmetric/{namespace}/errors") == 0.25
