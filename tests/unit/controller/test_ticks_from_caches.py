"""Ticks as the daemon runs them, over watch caches (`CachedFakeKube`): a settled canary's
tick sends no request and validates its spec once per resourceVersion; an edited spec is
validated again; a Service someone changed is written back once, and nothing when it matches;
the status write reads the cached Canary and goes to the API server only after a 409."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from flagger.controller import status_writer, ticking
from flagger.kube import cache, errors
from tests.unit.controller import daemon_world
from tests.unit.controller.daemon_world import CANARY_API, NAMESPACE, World


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with aiohttp.ClientSession() as session, daemon_world.cached_world(session) as made:
        yield made


def _replaced(world: World, kind: str) -> int:
    return sum(1 for call in world.kube.writes(kind) if call.verb == "replace")


def _sent(world: World) -> dict[str, int]:
    return {verb: count for verb, count in world.kube.requests.items() if verb != "WATCH"}


async def test_a_settled_canary_ticks_without_requests_and_validates_once(world: World) -> None:
    await world.tick()
    before, validated = _sent(world), world.shell.spec_checks.validated
    for _ in range(3):
        await world.tick()
    assert _sent(world) == before  # no GET, no PUT, no POST: caches answered, nothing changed
    assert world.shell.spec_checks.validated == validated  # same resourceVersion: not again


async def test_an_edited_spec_is_validated_again(world: World) -> None:
    edited = world.kube.stored(CANARY_API, "Canary", "podinfo", NAMESPACE)
    edited["spec"]["analysis"]["threshold"] = 0
    world.kube.put(edited)
    validated = world.shell.spec_checks.validated
    for _ in range(20):  # until the informer has delivered the edit
        await asyncio.sleep(0.01)
        await world.tick()
        if world.condition("Configured").get("status") == "False":
            break
    assert world.shell.spec_checks.validated > validated
    assert "threshold" in world.condition("Configured")["message"]


async def test_a_changed_service_is_written_back_once(world: World) -> None:
    changed = world.kube.stored("v1", "Service", "podinfo-primary", NAMESPACE)
    changed["spec"]["selector"] = {"app": "someone-else"}
    world.kube.put(changed)
    for _ in range(20):
        await asyncio.sleep(0.01)
        await world.tick()
        if _replaced(world, "Service"):
            break
    restored = world.kube.stored("v1", "Service", "podinfo-primary", NAMESPACE)
    assert restored["spec"]["selector"] == {"app": "podinfo-primary"}
    assert _replaced(world, "Service") == 1
    for _ in range(2):
        await asyncio.sleep(0.01)
        await world.tick()
    assert _replaced(world, "Service") == 1  # matches now: not written again


async def test_peek_is_the_cached_object_and_get_a_copy(world: World) -> None:
    kube = world.kube
    assert isinstance(kube, cache.CachedKube)
    seen = await kube.peek("apps/v1", "Deployment", "podinfo", NAMESPACE)
    again = await cache.peek(kube, "apps/v1", "Deployment", "podinfo", NAMESPACE)
    copied = await kube.get("apps/v1", "Deployment", "podinfo", NAMESPACE)
    assert seen is again
    assert copied == seen and copied is not seen
    assert copied is not None
    copied["spec"]["replicas"] = 7  # the caller's copy: the cache does not change
    assert (await kube.peek("apps/v1", "Deployment", "podinfo", NAMESPACE) or {})["spec"][
        "replicas"
    ] != 7


async def test_the_status_write_reads_the_cache_and_the_api_only_after_409(world: World) -> None:
    gets = world.kube.requests["GET"]
    status = {**world.status(), "phase": "Succeeded"}
    await status_writer.write(world.kube, "podinfo", NAMESPACE, status)
    assert world.kube.requests["GET"] == gets
    assert world.phase() == "Succeeded"

    world.kube.inject("replace_status", errors.Conflict(409, "Conflict", "modified"), kind="Canary")
    await status_writer.write(world.kube, "podinfo", NAMESPACE, {**status, "phase": "Failed"})
    assert world.kube.requests["GET"] == gets + 1  # read through once, after the 409
    assert world.phase() == "Failed"


async def test_a_status_write_is_not_a_reason_to_validate_again_an_annotation_is(
    world: World,
) -> None:
    validated = world.shell.spec_checks.validated
    await status_writer.write(
        world.kube, "podinfo", NAMESPACE, {**world.status(), "iterations": 1}
    )  # the resourceVersion moves, the generation does not
    await asyncio.sleep(0.01)
    await world.tick()
    assert world.shell.spec_checks.validated == validated

    edited = world.kube.stored(CANARY_API, "Canary", "podinfo", NAMESPACE)
    edited["metadata"]["annotations"] = {"team": "a"}
    world.kube.put(edited)
    for _ in range(20):
        await asyncio.sleep(0.01)
        await world.tick()
        if world.shell.spec_checks.validated > validated:
            break
    assert world.shell.spec_checks.validated == validated + 1


async def test_a_canary_at_rest_is_not_ticked_again_until_something_it_read_moves(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rest memo (flagger.kube.read_trace): an Initialized canary whose tick changed nothing
    is answered from the last tick while the objects it read keep their resourceVersions; a
    template change (or any edit of what it read) runs the tick in full, as Flagger would."""
    await world.tick()
    assert ("test", "podinfo") in world.shell.resting
    full_ticks = 0
    advance = ticking._advance

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal full_ticks
        full_ticks += 1
        return await advance(*args, **kwargs)

    monkeypatch.setattr(ticking, "_advance", counted)
    for _ in range(5):
        outcome = await world.tick()
        assert outcome.exists and outcome.target == "podinfo" and outcome.interval == 10.0
    assert full_ticks == 0

    world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    for _ in range(50):  # until the informer has delivered the edit
        await asyncio.sleep(0.01)
        await world.tick()
        if world.phase() == "Progressing":
            break
    assert world.phase() == "Progressing" and full_ticks >= 1
    assert ("test", "podinfo") not in world.shell.resting  # never while the analysis runs
    assert "New revision detected! Scaling up podinfo.test" in world.messages()


async def test_an_edit_of_a_service_at_rest_is_still_undone(world: World) -> None:
    await world.tick()
    assert ("test", "podinfo") in world.shell.resting
    changed = world.kube.stored("v1", "Service", "podinfo-canary", NAMESPACE)
    changed["spec"]["ports"][0]["port"] = 1234
    world.kube.put(changed)
    for _ in range(50):
        await asyncio.sleep(0.01)
        await world.tick()
        if _replaced(world, "Service"):
            break
    restored = world.kube.stored("v1", "Service", "podinfo-canary", NAMESPACE)
    assert restored["spec"]["ports"][0]["port"] == 9898


async def test_a_deleted_primary_at_rest_is_created_again(world: World) -> None:
    await world.tick()
    await world.kube.delete("apps/v1", "Deployment", "podinfo-primary", NAMESPACE)
    for _ in range(50):
        await asyncio.sleep(0.01)
        await world.tick()
        if world.kube.objects.get(("apps/v1", "Deployment", NAMESPACE, "podinfo-primary")):
            break
    assert world.kube.stored("apps/v1", "Deployment", "podinfo-primary", NAMESPACE)
