"""`flagger.kube.informers.Informer` against the local control plane.

Matrix: initial list fills the cache with reduced views; a change, an addition and a deletion
reach subscribers (with the latency printed); changes that leave the reduced view equal are not
reported; a watch from an expired resourceVersion (410 Gone) relists and still reports what
changed; a server-side watch timeout resumes without relisting.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from flagger.kube import client as kube_client
from flagger.kube import informers

pytestmark = pytest.mark.cluster

Change = tuple[informers.ObjectKey, Any, Any]


def configmap(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def data_of(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj.get("data") or {})


class Recorder:
    """Collects changes and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self._queue: asyncio.Queue[Change] = asyncio.Queue()

    def __call__(self, key: informers.ObjectKey, old: Any, new: Any) -> None:
        self.changes.append((key, old, new))
        self._queue.put_nowait((key, old, new))

    async def next(self, timeout: float = 5.0) -> Change:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def until(self, name: str, timeout: float = 5.0) -> Change:
        deadline = time.monotonic() + timeout
        while True:
            change = await self.next(max(0.01, deadline - time.monotonic()))
            if change[0].name == name:
                return change


async def test_list_then_watch_changes_and_deletions(
    client: kube_client.Kube, namespace: str
) -> None:
    await client.create(configmap("backend", namespace, color="blue"))
    informer = informers.Informer(client, "v1", "ConfigMap", namespace, reduce=data_of)
    recorder = Recorder()
    informer.subscribe(recorder)
    async with informer:
        await informer.wait_synced(10)
        assert informer.get("backend", namespace) == {"color": "blue"}
        assert informers.ObjectKey(namespace, "backend") in informer
        # the initial LIST is reported as additions
        assert await recorder.next() == (
            informers.ObjectKey(namespace, "backend"),
            None,
            {"color": "blue"},
        )

        began = time.monotonic()
        await client.patch("v1", "ConfigMap", "backend", namespace, {"data": {"color": "green"}})
        key, old, new = await recorder.until("backend")
        latency = time.monotonic() - began
        print(f"ConfigMap change seen by the informer after {latency * 1000:.0f} ms")
        assert latency < 2.0
        assert (key, old, new) == (
            informers.ObjectKey(namespace, "backend"),
            {"color": "blue"},
            {"color": "green"},
        )

        await client.create(configmap("frontend", namespace, x="1"))
        assert await recorder.until("frontend") == (
            informers.ObjectKey(namespace, "frontend"),
            None,
            {"x": "1"},
        )

        await client.delete("v1", "ConfigMap", "backend", namespace)
        assert await recorder.until("backend") == (
            informers.ObjectKey(namespace, "backend"),
            {"color": "green"},
            None,
        )
        assert informer.get("backend", namespace) is None
    assert informer.relists == 1


async def test_unchanged_reduced_view_is_not_reported(
    client: kube_client.Kube, namespace: str
) -> None:
    await client.create(configmap("backend", namespace, color="blue"))
    informer = informers.Informer(client, "v1", "ConfigMap", namespace, reduce=data_of)
    recorder = Recorder()
    async with informer:
        await informer.wait_synced(10)
        informer.subscribe(recorder)
        # a label change leaves the data (the reduced view) equal: no callback
        await client.patch(
            "v1", "ConfigMap", "backend", namespace, {"metadata": {"labels": {"touched": "yes"}}}
        )
        await client.patch("v1", "ConfigMap", "backend", namespace, {"data": {"color": "red"}})
        _, old, new = await recorder.next()
        assert (old, new) == ({"color": "blue"}, {"color": "red"})
        assert len(recorder.changes) == 1


async def test_replay_on_subscribe(client: kube_client.Kube, namespace: str) -> None:
    await client.create(configmap("a", namespace, k="1"))
    async with informers.Informer(client, "v1", "ConfigMap", namespace, reduce=data_of) as informer:
        await informer.wait_synced(10)
        recorder = Recorder()
        informer.subscribe(recorder, replay=True)
        assert (informers.ObjectKey(namespace, "a"), None, {"k": "1"}) in recorder.changes


def virtual_service(name: str, namespace: str, weight: int) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "hosts": [name],
            "http": [
                {
                    "route": [
                        {"destination": {"host": f"{name}-primary"}, "weight": 100 - weight},
                        {"destination": {"host": f"{name}-canary"}, "weight": weight},
                    ]
                }
            ],
        },
    }


def canary_weight(obj: dict[str, Any]) -> int:
    return int(obj["spec"]["http"][0]["route"][1]["weight"])


async def test_expired_resource_version_relists(client: kube_client.Kube, namespace: str) -> None:
    await client.create(virtual_service("backend", namespace, 0))
    # The VirtualService CRD was installed after the API server started, so its watch cache
    # begins at a later resourceVersion: resuming from "1" is answered 410 Gone ("too old
    # resource version") and the informer must fall back to a fresh LIST.
    informer = informers.Informer(
        client,
        "networking.istio.io/v1beta1",
        "VirtualService",
        namespace,
        reduce=canary_weight,
        resource_version="1",
    )
    recorder = Recorder()
    informer.subscribe(recorder)
    async with informer:
        first = await recorder.until("backend", timeout=10)
        assert first == (informers.ObjectKey(namespace, "backend"), None, 0)
        assert informer.relists == 1
        await client.patch(
            "networking.istio.io/v1beta1",
            "VirtualService",
            "backend",
            namespace,
            [{"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 5}],
            patch_type="json",
        )
        assert (await recorder.until("backend"))[1:] == (0, 5)
        assert informer.relists == 1


async def test_relist_reports_what_changed_while_away(
    client: kube_client.Kube, namespace: str
) -> None:
    """Objects deleted while the watch was gone are reported as deletions by the relist."""
    await client.create(virtual_service("kept", namespace, 0))
    await client.create(virtual_service("dropped", namespace, 0))
    informer = informers.Informer(
        client, "networking.istio.io/v1beta1", "VirtualService", namespace, reduce=canary_weight
    )
    recorder = Recorder()
    async with informer:
        await informer.wait_synced(10)
    assert len(informer) == 2
    informer.subscribe(recorder)
    await client.delete("networking.istio.io/v1beta1", "VirtualService", "dropped", namespace)
    await client.patch(
        "networking.istio.io/v1beta1",
        "VirtualService",
        "kept",
        namespace,
        [{"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 10}],
        patch_type="json",
    )
    # resume from an expired version: the informer relists and diffs against its cache
    informer = _resumed(informer, "1")
    async with informer:
        dropped = await recorder.until("dropped", timeout=10)
        assert dropped[1:] == (0, None)
        kept = await recorder.until("kept", timeout=10)
        assert kept[1:] == (0, 10)
    assert sorted(k.name for k in informer) == ["kept"]


def _resumed(informer: informers.Informer[Any], version: str) -> informers.Informer[Any]:
    # force the next watch to start from `version`, keeping the cache and the subscribers
    informer._resource_version = version
    return informer


async def test_watch_timeout_resumes_without_relisting(
    client: kube_client.Kube, namespace: str
) -> None:
    informer = informers.Informer(
        client, "v1", "ConfigMap", namespace, reduce=data_of, watch_timeout_seconds=1
    )
    recorder = Recorder()
    informer.subscribe(recorder)
    async with informer:
        await informer.wait_synced(10)
        await asyncio.sleep(2.5)  # the server ends the watch at least twice meanwhile
        await client.create(configmap("late", namespace, k="v"))
        assert (await recorder.until("late"))[2] == {"k": "v"}
    assert informer.relists == 1


async def test_informer_set(client: kube_client.Kube, namespace: str) -> None:
    await client.create(configmap("a", namespace, k="1"))
    group = informers.InformerSet()
    maps = group.add(informers.Informer(client, "v1", "ConfigMap", namespace, reduce=data_of))
    secrets = group.add(
        informers.Informer(client, "v1", "Secret", namespace, reduce=lambda o: o.get("type"))
    )
    group.start()
    try:
        await group.wait_synced(10)
        assert maps.get("a", namespace) == {"k": "1"}
        assert len(secrets) == 0
    finally:
        await group.stop()
