"""`flagger.kube.cache.CachedKube` against the local control plane: reads of cached kinds come
from the watch cache (no API request), and a read right after our own write sees that write."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flagger.devcluster import cluster as devcluster
from flagger.kube import cache, errors

pytestmark = pytest.mark.cluster


def configmap(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": name},
        },
        "data": data,
    }


async def test_reads_come_from_the_cache_and_see_our_own_writes(
    cluster: devcluster.LocalCluster, namespace: str
) -> None:
    kube = await cache.CachedKube.connect(str(cluster.kubeconfig))
    informer = kube.cache("v1", "ConfigMap", namespace)
    try:
        await kube.create(configmap("one", namespace, v="1"))
        informer.start()
        await informer.wait_synced(10)
        before = sum(kube.requests.values())

        found = await kube.get("v1", "ConfigMap", "one", namespace)
        assert found is not None and found["data"] == {"v": "1"}
        assert "managedFields" not in found["metadata"], "the cache keeps a projection"
        assert await kube.get("v1", "ConfigMap", "absent", namespace) is None
        listed = await kube.list("v1", "ConfigMap", namespace, label_selector="app=one")
        assert [o["metadata"]["name"] for o in listed] == ["one"]
        assert sum(kube.requests.values()) == before, "no API request for cached reads"

        # Read-your-writes: every write is followed by a read that sees it, at once.
        for value in range(2, 12):
            current = await kube.get("v1", "ConfigMap", "one", namespace)
            assert current is not None and current["data"] == {"v": str(value - 1)}
            current["data"] = {"v": str(value)}
            await kube.replace(current)
        await kube.patch("v1", "ConfigMap", "one", namespace, {"data": {"v": "patched"}})
        after = await kube.get("v1", "ConfigMap", "one", namespace)
        assert after is not None and after["data"] == {"v": "patched"}
        await kube.delete("v1", "ConfigMap", "one", namespace)
        assert await kube.get("v1", "ConfigMap", "one", namespace) is None
        assert kube.reads["cache"] >= 14

        # A copy is the caller's: editing it does not change the cache.
        await kube.create(configmap("two", namespace, v="1"))
        mine = await kube.get("v1", "ConfigMap", "two", namespace)
        assert mine is not None
        mine["data"]["v"] = "edited locally"
        again = await kube.get("v1", "ConfigMap", "two", namespace)
        assert again is not None and again["data"] == {"v": "1"}

        # A conflict (someone else wrote meanwhile) makes the next read go to the API server.
        cluster.kubectl("patch", "configmap", "two", "-n", namespace, "-p", '{"data":{"v":"x"}}')
        with pytest.raises(errors.Conflict):
            await kube.replace(mine)
        fresh = await kube.get("v1", "ConfigMap", "two", namespace)
        assert fresh is not None and fresh["data"] == {"v": "x"}
    finally:
        await informer.stop()
        await kube.close()
        await asyncio.sleep(0)
