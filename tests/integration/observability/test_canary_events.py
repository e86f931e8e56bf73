"""Events on a real Canary in the local control plane, read back as kubectl shows them.

Matrix: Normal and Warning events (reason Synced, source flagger, involvedObject with the
Canary's uid), a repeated message bumping ``count`` on one Event instead of a new one, a
different message making a new Event, an Event deleted behind our back being written again,
and an API failure (namespace gone) logged without raising.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml

from flagger.api import canary as canary_api
from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client
from flagger.observability import events

pytestmark = pytest.mark.cluster


@pytest.fixture(params=["Kube", "ApiClient"])
async def kube(
    request: pytest.FixtureRequest, cluster: devcluster.LocalCluster
) -> AsyncIterator[Any]:
    """Both clients the recorder takes: the daemon's raw-JSON `Kube` and a kubernetes-asyncio
    ``ApiClient``."""
    if request.param == "Kube":
        raw = await kube_client.Kube.connect(str(cluster.kubeconfig))
        try:
            yield raw
        finally:
            await raw.close()
        return
    from kubernetes_asyncio import config

    api = await config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        yield api
    finally:
        await api.close()


REFERENCE_CRD = (
    pathlib.Path(__file__).resolve().parents[4] / "shared" / "reference" / "flagger-crd.yaml"
)


def ensure_canary_crd(cluster: devcluster.LocalCluster) -> None:
    """Our CRDs come from the ``cluster`` fixture; fall back to Flagger's while they are absent."""
    if cluster.kubectl("get", "crd", "canaries.flagger.app", check=False).returncode == 0:
        return
    if not REFERENCE_CRD.exists():
        pytest.skip(f"no Canary CRD installed and {REFERENCE_CRD} not found")
    [crd] = [
        d
        for d in yaml.safe_load_all(REFERENCE_CRD.read_text())
        if d and d["metadata"]["name"] == "canaries.flagger.app"
    ]
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(crd))
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "crd/canaries.flagger.app"
    )


def create_canary(cluster: devcluster.LocalCluster, namespace: str) -> canary_api.Canary:
    ensure_canary_crd(cluster)
    created = cluster.api(
        "POST",
        f"/apis/flagger.app/v1beta1/namespaces/{namespace}/canaries",
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
            },
        },
    )
    return canary_api.Canary.model_validate(
        {k: v for k, v in created.items() if k in ("apiVersion", "kind", "metadata", "spec")}
    )


def canary_events(cluster: devcluster.LocalCluster, namespace: str) -> list[dict[str, Any]]:
    listed = json.loads(
        cluster.kubectl(
            "-n",
            namespace,
            "get",
            "events",
            "-o",
            "json",
            "--field-selector",
            "involvedObject.kind=Canary,involvedObject.name=podinfo",
        ).stdout
    )
    return sorted(listed["items"], key=lambda e: e["metadata"]["name"])


async def test_events_are_recorded_on_the_canary(
    cluster: devcluster.LocalCluster, namespace: str, kube: Any
) -> None:
    canary = create_canary(cluster, namespace)
    recorder = events.EventRecorder(kube)
    recorder.record_info(canary, f"Initialization done! podinfo.{namespace}")
    recorder.record_warning(
        canary,
        f"Halt advancement podinfo-primary.{namespace} waiting for "
        "rollout to finish: 0 of 1 (readyThreshold 100%) updated "
        "replicas are available",
    )
    await recorder.flush()

    found = {e["message"]: e for e in canary_events(cluster, namespace)}
    assert len(found) == 2
    info = found[f"Initialization done! podinfo.{namespace}"]
    assert (info["type"], info["reason"], info["count"]) == ("Normal", "Synced", 1)
    assert info["source"] == {"component": "flagger"}
    assert info["involvedObject"] == {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": "podinfo",
        "namespace": namespace,
        "uid": canary.metadata["uid"],
        "resourceVersion": canary.metadata["resourceVersion"],
    }
    assert info["firstTimestamp"] == info["lastTimestamp"]
    warning = next(e for m, e in found.items() if m.startswith("Halt advancement"))
    assert (warning["type"], warning["reason"]) == ("Warning", "Synced")

    described = cluster.kubectl("-n", namespace, "describe", "canary", "podinfo").stdout
    assert "Synced" in described and "Warning" in described
    assert f"Initialization done! podinfo.{namespace}" in described


async def test_repeated_message_bumps_count(
    cluster: devcluster.LocalCluster, namespace: str, kube: Any
) -> None:
    canary = create_canary(cluster, namespace)
    clock = iter([1_700_000_000.0, 1_700_000_060.0, 1_700_000_120.0, 1_700_000_180.0])
    recorder = events.EventRecorder(kube, clock=lambda: next(clock))
    message = f"Halt podinfo.{namespace} advancement success rate 62.50% < 99%"
    for _ in range(3):
        recorder.record_warning(canary, message)
    await recorder.flush()
    recorder.record_info(canary, f"Advance podinfo.{namespace} canary weight 10")
    await recorder.flush()

    listed = canary_events(cluster, namespace)
    assert len(listed) == 2
    halted = next(e for e in listed if e["message"] == message)
    assert halted["count"] == 3
    assert halted["firstTimestamp"] == "2023-11-14T22:13:20Z"
    assert halted["lastTimestamp"] == "2023-11-14T22:15:20Z"


async def test_event_deleted_behind_our_back_is_written_again(
    cluster: devcluster.LocalCluster, namespace: str, kube: Any
) -> None:
    canary = create_canary(cluster, namespace)
    recorder = events.EventRecorder(kube)
    message = f"Advance podinfo.{namespace} canary weight 20"
    recorder.record_info(canary, message)
    await recorder.flush()
    [first] = canary_events(cluster, namespace)
    cluster.kubectl("-n", namespace, "delete", "event", first["metadata"]["name"])
    recorder.record_info(canary, message)
    await recorder.flush()
    [again] = canary_events(cluster, namespace)
    assert again["message"] == message and again["count"] == 2


async def test_api_failure_is_logged_and_never_raised(
    cluster: devcluster.LocalCluster, kube: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ghost = canary_api.Canary.model_validate(
        {
            "metadata": {"name": "podinfo", "namespace": "no-such-namespace", "uid": "1"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}
            },
        }
    )
    recorder = events.EventRecorder(kube)
    recorder.record_info(ghost, "Initialization done! podinfo.no-such-namespace")
    await recorder.flush()
    assert "could not be recorded: API server answered 404" in caplog.text
