"""The in-memory API server of the fast tier behaves as the daemon expects an API server to."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flagger import plugins
from flagger.kube import errors, informers
from tests.support.fake_kube import CachedFakeKube, FakeKube


def _config(name: str = "cfg", data: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "test", "labels": {"app": name}},
        "data": data or {"a": "1"},
    }


def _deployment(image: str = "podinfo:1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "replicas": 2,
            "template": {"spec": {"containers": [{"name": "app", "image": image}]}},
        },
    }


async def test_writes_bump_the_resource_version_and_generation_moves_with_the_spec() -> None:
    kube = FakeKube()
    created = await kube.create(_deployment())
    assert created["metadata"]["generation"] == 1
    first = int(created["metadata"]["resourceVersion"])

    created["spec"]["replicas"] = 3
    replaced = await kube.replace(created)
    assert int(replaced["metadata"]["resourceVersion"]) > first
    assert replaced["metadata"]["generation"] == 2

    replaced["status"] = {"readyReplicas": 3}
    with_status = await kube.replace_status(replaced)
    assert with_status["metadata"]["generation"] == 2  # status is not the spec
    assert with_status["status"] == {"readyReplicas": 3}
    assert kube.requests["PUT"] == 2 and kube.requests["POST"] == 1


async def test_missing_objects_are_404_and_get_answers_none() -> None:
    kube = FakeKube()
    assert await kube.get("v1", "ConfigMap", "nope", "test") is None
    with pytest.raises(errors.NotFound):
        await kube.replace(_config("nope"))
    with pytest.raises(errors.NotFound):
        await kube.patch("v1", "ConfigMap", "nope", "test", {"data": {"a": "2"}})
    await kube.delete("v1", "ConfigMap", "nope", "test")  # gone already: fine


async def test_a_stale_resource_version_and_a_second_create_are_409() -> None:
    kube = FakeKube()
    old = await kube.create(_config())
    await kube.patch("v1", "ConfigMap", "cfg", "test", {"data": {"a": "2"}})
    with pytest.raises(errors.Conflict):
        await kube.replace({**old, "data": {"a": "3"}})
    with pytest.raises(errors.Conflict):
        await kube.replace_status(old)
    with pytest.raises(errors.Conflict):
        await kube.patch(
            "v1",
            "ConfigMap",
            "cfg",
            "test",
            {"metadata": {"resourceVersion": old["metadata"]["resourceVersion"]}},
        )
    with pytest.raises(errors.Conflict):
        await kube.create(_config())
    assert kube.stored("v1", "ConfigMap", "cfg", "test")["data"] == {"a": "2"}


async def test_replace_keeps_the_status_and_a_no_op_write_keeps_the_version() -> None:
    kube = FakeKube()
    made = await kube.create(_deployment())
    made["status"] = {"readyReplicas": 2}
    made = await kube.replace_status(made)
    again = await kube.replace({**made, "status": {"readyReplicas": 0}})
    assert again["status"] == {"readyReplicas": 2}
    assert again["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


async def test_merge_strategic_and_json_patches() -> None:
    kube = FakeKube()
    await kube.create(_deployment())
    merged = await kube.patch(
        "apps/v1", "Deployment", "podinfo", "test", {"metadata": {"labels": {"x": "1"}}}
    )
    assert merged["metadata"]["labels"] == {"x": "1"}
    strategic = await kube.patch(
        "apps/v1",
        "Deployment",
        "podinfo",
        "test",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "podinfo:2"}]}}}},
        patch_type="strategic",
    )
    containers = strategic["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "app", "image": "podinfo:2"}]
    removed = await kube.patch(
        "apps/v1",
        "Deployment",
        "podinfo",
        "test",
        [
            {"op": "test", "path": "/spec/replicas", "value": 2},
            {"op": "remove", "path": "/spec/replicas"},
        ],
        patch_type="json",
    )
    assert "replicas" not in removed["spec"]
    with pytest.raises(errors.Invalid):
        await kube.patch(
            "apps/v1",
            "Deployment",
            "podinfo",
            "test",
            [{"op": "test", "path": "/metadata/name", "value": "other"}],
            patch_type="json",
        )
    scaled = await kube.patch(
        "apps/v1", "Deployment", "podinfo", "test", {"spec": {"replicas": 0}}, subresource="scale"
    )
    assert scaled["spec"]["replicas"] == 0


async def test_finalizers_hold_a_deleted_object_until_removed() -> None:
    kube = FakeKube()
    made = await kube.create(
        {**_config(), "metadata": {**_config()["metadata"], "finalizers": ["f"]}}
    )
    await kube.delete("v1", "ConfigMap", "cfg", "test")
    held = await kube.get("v1", "ConfigMap", "cfg", "test")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["uid"] == made["metadata"]["uid"]
    await kube.patch("v1", "ConfigMap", "cfg", "test", {"metadata": {"finalizers": None}})
    assert await kube.get("v1", "ConfigMap", "cfg", "test") is None


async def test_lists_filter_by_namespace_and_label_selector() -> None:
    kube = FakeKube()
    await kube.create(_config("a"))
    await kube.create(_config("b"))
    await kube.create({**_config("c"), "metadata": {"name": "c", "namespace": "other"}})
    assert [o["metadata"]["name"] for o in await kube.list("v1", "ConfigMap", "test")] == ["a", "b"]
    assert len(await kube.list("v1", "ConfigMap")) == 3
    picked = await kube.list("v1", "ConfigMap", label_selector="app=b")
    assert [o["metadata"]["name"] for o in picked] == ["b"]
    assert len(await kube.list("v1", "ConfigMap", label_selector="app!=b,app")) == 1


async def test_injected_failures_and_unserved_kinds() -> None:
    kube = FakeKube()
    kube.inject("get", errors.ApiError(503, "ServiceUnavailable", "down"), kind="ConfigMap")
    with pytest.raises(errors.ApiError):
        await kube.get("v1", "ConfigMap", "cfg", "test")
    assert await kube.get("v1", "ConfigMap", "cfg", "test") is None  # only once
    kube.unserve("split.smi-spec.io/v1alpha2", "TrafficSplit")
    with pytest.raises(errors.UnknownKind):
        await kube.get("split.smi-spec.io/v1alpha2", "TrafficSplit", "x", "test")


async def test_a_concurrent_edit_makes_the_next_write_409() -> None:
    kube = FakeKube()
    read = await kube.create(_config())
    kube.inject("replace", lambda: kube.put({**_config(), "data": {"a": "other"}}))
    with pytest.raises(errors.Conflict):
        await kube.replace({**read, "data": {"a": "mine"}})


async def _collect(kube: FakeKube, since: str | None, count: int) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    async for event in kube.watch("v1", "ConfigMap", "test", resource_version=since):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if len(seen) == count:
            break
    return seen


async def test_watch_replays_from_a_version_then_streams_live_events() -> None:
    kube = FakeKube()
    await kube.create(_config("a"))
    _, version = await kube.list_snapshot("v1", "ConfigMap", "test")
    watching = asyncio.create_task(_collect(kube, version, 3))
    await asyncio.sleep(0)
    await kube.create(_config("b"))
    await kube.patch("v1", "ConfigMap", "b", "test", {"data": {"a": "2"}})
    await kube.delete("v1", "ConfigMap", "a", "test")
    seen = await asyncio.wait_for(watching, 2)
    assert seen == [("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "a")]


async def test_watch_from_a_compacted_version_is_410() -> None:
    kube = FakeKube()
    await kube.create(_config("a"))
    kube.compact()
    with pytest.raises(errors.Gone):
        await _collect(kube, "0", 1)


async def test_an_informer_is_fed_and_relists_after_410() -> None:
    kube = FakeKube()
    await kube.create(_config("a"))
    changes: list[tuple[str, str | None]] = []
    informer = informers.Informer(kube, "v1", "ConfigMap", "test", reduce=lambda o: o["data"]["a"])
    informer.subscribe(lambda key, old, new: changes.append((key.name, new)))
    async with informer:
        await informer.wait_synced(2)
        await kube.patch("v1", "ConfigMap", "a", "test", {"data": {"a": "2"}})
        await _until(lambda: informer.get("a", "test") == "2")
        kube.compact()
        await kube.create(_config("b"))
        await _until(lambda: informer.get("b", "test") == "1")
    assert changes == [("a", "1"), ("a", "2"), ("b", "1")]


async def test_the_cached_client_reads_its_own_writes() -> None:
    kube = CachedFakeKube()
    await kube.create(_deployment())
    informer = kube.cache("apps/v1", "Deployment", "test")
    async with informer:
        await informer.wait_synced(2)
        before = kube.requests["GET"]
        await kube.patch("apps/v1", "Deployment", "podinfo", "test", {"spec": {"replicas": 5}})
        found = await kube.get("apps/v1", "Deployment", "podinfo", "test")
        assert found is not None and found["spec"]["replicas"] == 5
        assert kube.reads["cache"] == 1
        assert kube.requests["GET"] == before  # answered by the cache, no request sent


async def _until(condition: Any, seconds: float = 2.0) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.001)

    await asyncio.wait_for(wait(), seconds)


def test_the_fake_satisfies_the_plugin_client_protocols() -> None:
    client: plugins.KubeClient = FakeKube()  # mypy holds the signatures to the protocols
    reader: plugins.Reader = client
    assert reader is client
