"""The daemon's tick, tick by tick, against the in-memory API server: initialisation, a
rollout to Succeeded, a failing webhook rolled back to Failed, a missing target reported on the
Canary, and a status write refused with 409 retried. No control plane; each test runs in well
under a second."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from flagger.kube import errors
from tests.support.http_receiver import Receiver
from tests.unit.controller import daemon_world
from tests.unit.controller.daemon_world import CANARY_API, NAMESPACE, World

PRIMARY = ("apps/v1", "Deployment", "podinfo-primary", NAMESPACE)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


async def _initialised(world: World) -> None:
    world.kube.put(daemon_world.deployment())
    world.kube.put(daemon_world.canary())
    for _ in range(3):
        await world.tick()
        if world.phase() == "Initialized":
            return
    raise AssertionError(f"not initialised: {world.status()} {world.events}")


async def test_first_ticks_create_the_primary_and_initialise(
    session: aiohttp.ClientSession,
) -> None:
    world = await daemon_world.world(session)
    world.kube.put(daemon_world.deployment())
    world.kube.put(daemon_world.canary())

    outcome = await world.tick()
    assert outcome.exists and outcome.target == "podinfo"
    assert outcome.interval == 10.0
    primary = world.kube.stored(*PRIMARY)
    image = primary["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith("podinfo:6.0.0")
    for service in ("podinfo", "podinfo-primary", "podinfo-canary"):
        assert world.kube.stored("v1", "Service", service, NAMESPACE)["spec"]["ports"]

    while world.phase() != "Initialized":
        assert world.phase() in ("Initializing", ""), world.status()
        await world.tick()
    assert "Initialization done! podinfo.test" in world.messages()
    # the target is scaled to zero once the primary serves
    assert world.kube.stored("apps/v1", "Deployment", "podinfo", NAMESPACE)["spec"]["replicas"] == 0
    assert world.status()["lastAppliedSpec"]


async def test_a_settled_canary_tick_writes_nothing(session: aiohttp.ClientSession) -> None:
    world = await daemon_world.world(session)
    await _initialised(world)
    before = len(world.kube.writes())
    await world.tick()
    await world.tick()
    assert world.kube.writes()[before:] == []
    assert world.phase() == "Initialized"


async def test_ticks_waiting_for_the_canary_to_be_ready_write_no_status(
    session: aiohttp.ClientSession,
) -> None:
    """A canary whose new pods are not ready yet is looked at each interval (a Warning each
    time, as Flagger records it), but such a tick asks no hook and changes nothing, so it
    writes no status: at 1,000 canaries that was a status PUT per canary per interval."""
    world = await daemon_world.world(session)
    await _initialised(world)
    world.kube.roll_out = False  # the Deployment controller has not caught up
    world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    await world.tick_after_interval()
    assert world.phase() == "Progressing"
    before = len(world.kube.writes("Canary"))
    for _ in range(3):
        await world.tick_after_interval()
    assert any("not ready" in m for m in world.messages()), world.messages()
    assert world.kube.writes("Canary")[before:] == []
    world.kube.roll_out = True
    world.kube.put(world.kube.stored("apps/v1", "Deployment", "podinfo", NAMESPACE))
    for _ in range(10):
        await world.tick_after_interval()
        if world.phase() == "Succeeded":
            break
    assert world.phase() == "Succeeded", (world.status(), world.messages())


async def test_a_template_change_progresses_through_the_steps_to_succeeded(
    session: aiohttp.ClientSession,
) -> None:
    world = await daemon_world.world(session)
    await _initialised(world)
    world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")

    phases = []
    for _ in range(10):
        await world.tick_after_interval()
        phases.append(world.phase())
        if world.phase() == "Succeeded":
            break
    assert phases[0] == "Progressing", phases
    assert phases[-1] == "Succeeded", (phases, world.events)
    assert "New revision detected! Scaling up podinfo.test" in world.messages()
    assert "Promotion completed! Scaling down podinfo.test" in world.messages()
    primary = world.kube.stored(*PRIMARY)
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":6.0.1")
    assert world.status()["iterations"] == 0


async def test_a_blue_green_promotion_is_counted_with_the_blue_green_strategy(
    session: aiohttp.ClientSession,
) -> None:
    # iterations without match: Flagger's DeploymentStrategy() is blue-green, and its success
    # counter carries deployment_strategy="blue-green".
    world = await daemon_world.world(session)
    await _initialised(world)
    world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    for _ in range(10):
        await world.tick_after_interval()
        if world.phase() == "Succeeded":
            break
    assert world.phase() == "Succeeded", world.events
    registry = world.shell.metrics.registry
    labels = {"name": "podinfo", "namespace": NAMESPACE, "analysis_status": "completed"}
    counted = {
        strategy: registry.get_sample_value(
            "flagger_canary_successes_total", {**labels, "deployment_strategy": strategy}
        )
        for strategy in ("canary", "blue-green", "ab-testing")
    }
    assert counted == {"canary": None, "blue-green": 1.0, "ab-testing": None}


async def test_a_failing_webhook_rolls_back_to_failed(
    session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    world = await daemon_world.world(session)
    world.kube.put(daemon_world.deployment())
    world.kube.put(
        daemon_world.canary(
            webhooks=[{"name": "smoke", "type": "rollout", "url": f"{receiver.url}/smoke"}]
        )
    )
    for _ in range(3):
        await world.tick()
    assert world.phase() == "Initialized"
    receiver.answers["/smoke"] = 500
    world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")

    for _ in range(8):
        await world.tick_after_interval()
        if world.phase() == "Failed":
            break
    assert world.phase() == "Failed", (world.status(), world.events)
    assert [p for p, _ in receiver.received].count("/smoke") >= 2  # threshold 2
    rolled_back = "Rolling back podinfo.test failed checks threshold reached"
    assert any(rolled_back in m for m in world.messages())
    assert world.kube.stored(*PRIMARY)["spec"]["template"]["spec"]["containers"][0][
        "image"
    ].endswith(":6.0.0")
    assert world.kube.stored("apps/v1", "Deployment", "podinfo", NAMESPACE)["spec"]["replicas"] == 0


async def test_a_missing_target_is_configured_false_with_a_warning(
    session: aiohttp.ClientSession,
) -> None:
    world = await daemon_world.world(session)
    world.kube.put(daemon_world.canary())  # no Deployment podinfo

    outcome = await world.tick()
    assert outcome.exists
    configured = world.condition("Configured")
    assert configured["status"] == "False", world.status()
    assert "podinfo" in configured["message"]
    assert world.events and world.events[-1][0] == "Warning"
    assert configured["message"] in world.events[-1][1]
    writes = len(world.kube.writes())
    await world.tick()  # the same problem again: no new status write
    assert len(world.kube.writes("Canary")) == len(
        [w for w in world.kube.writes()[:writes] if w.kind == "Canary"]
    )

    world.kube.put(daemon_world.deployment())  # the user fixes it
    for _ in range(3):
        await world.tick()
    assert world.phase() == "Initialized"
    assert world.condition("Configured") == {}


async def test_a_status_write_refused_with_409_is_retried(
    session: aiohttp.ClientSession,
) -> None:
    world = await daemon_world.world(session)
    world.kube.put(daemon_world.deployment())
    world.kube.put(daemon_world.canary())

    def someone_edits() -> None:
        edited = world.kube.stored(CANARY_API, "Canary", "podinfo", NAMESPACE)
        edited["metadata"].setdefault("labels", {})["team"] = "a"
        world.kube.put(edited)

    world.kube.inject("replace_status", someone_edits, kind="Canary")
    await world.tick()
    stored = world.kube.stored(CANARY_API, "Canary", "podinfo", NAMESPACE)
    assert stored["metadata"]["labels"] == {"team": "a"}  # the other writer's edit survives
    assert stored["status"]["phase"] in ("Initializing", "Initialized")
    refused = [c for c in world.kube.calls if c.verb == "replace_status"]
    assert len(refused) >= 2


async def test_a_status_write_always_refused_fails_the_tick_not_the_canary(
    session: aiohttp.ClientSession,
) -> None:
    world = await daemon_world.world(session)
    world.kube.put(daemon_world.deployment())
    world.kube.put(daemon_world.canary())
    world.kube.inject(
        "replace_status", errors.Conflict(409, "Conflict", "modified"), kind="Canary", times=5
    )
    with pytest.raises(errors.Conflict):
        await world.tick()
    await _initialised(world)  # the next ticks carry on


async def test_an_istio_canary_shifts_the_virtual_service_weights_step_by_step(
    session: aiohttp.ClientSession,
) -> None:
    world = await daemon_world.world(session, mesh_provider="istio")
    world.kube.put(daemon_world.deployment())
    raw = daemon_world.canary("istio")
    raw["spec"]["analysis"] = {"interval": "10s", "threshold": 2, "stepWeight": 40, "maxWeight": 80}
    world.kube.put(raw)
    for _ in range(3):
        await world.tick()
    assert world.phase() == "Initialized"
    assert _weights(world) == [("podinfo-primary", 100), ("podinfo-canary", 0)]

    world.change_image("ghcr.io/stefanprodan/podinfo:6.0.1")
    seen = []
    for _ in range(10):
        await world.tick_after_interval()
        seen.append(_weights(world)[1][1])
        if world.phase() == "Succeeded":
            break
    assert world.phase() == "Succeeded", (seen, world.events)
    assert 40 in seen and 80 in seen, seen  # the steps, then back to the primary
    assert _weights(world) == [("podinfo-primary", 100), ("podinfo-canary", 0)]


def _weights(world: World) -> list[tuple[str, int]]:
    service = world.kube.stored(
        "networking.istio.io/v1beta1", "VirtualService", "podinfo", NAMESPACE
    )
    route = service["spec"]["http"][0]["route"]
    return [(r["destination"]["host"], int(r.get("weight", 0))) for r in route]
