"""The scheduler under virtual time (no real sleeping; timings exact): ticks at a fixed rate,
woken early by what a canary depends on (through informers fed by the in-memory API server),
and a slow canary delays no other."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagger.controller import scheduling, ticking
from flagger.kube import informers
from flagger.observability import metrics as metrics_api
from tests.support import virtual_time
from tests.support.fake_kube import FakeKube

NS = "test"
Tick = Callable[[Any, str, str], Awaitable[ticking.Outcome]]


def _shell() -> Any:
    return types.SimpleNamespace(metrics=metrics_api.Metrics(process_metrics=False), resting={})


def _recording(
    starts: dict[str, list[float]], *, took: dict[str, float], interval: float = 10.0
) -> Tick:
    """A tick that records when each canary's tick began, takes ``took[name]`` seconds, and
    reports ``interval``, target ``<name>-app`` and tracked config ``configmap/<name>-cfg``."""

    async def tick(shell: Any, name: str, namespace: str) -> ticking.Outcome:
        starts.setdefault(name, []).append(asyncio.get_running_loop().time())
        await asyncio.sleep(took.get(name, 0.0))
        return ticking.Outcome(
            exists=True,
            interval=interval,
            target=f"{name}-app",
            tracked=frozenset({f"configmap/{name}-cfg"}),
        )

    return tick


def _start(scheduler: scheduling.Scheduler, *names: str) -> None:
    for name in names:
        scheduler.canary_changed(
            informers.ObjectKey(NS, name), None, scheduling.CanaryView(1, False)
        )


def test_the_period_is_the_interval_however_long_a_tick_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts: dict[str, list[float]] = {}
    monkeypatch.setattr(ticking, "tick", _recording(starts, took={"slow": 3.0}))

    async def main() -> None:
        scheduler = scheduling.Scheduler(_shell())
        _start(scheduler, "slow", "quick")
        await asyncio.sleep(45)
        await scheduler.close()

    virtual_time.run(main())
    # "sleep an interval after each tick" would start the slow one at 0, 13, 26, 39
    assert starts == {"slow": [0, 10, 20, 30, 40], "quick": [0, 10, 20, 30, 40]}


def test_a_tick_longer_than_the_interval_catches_up_once_not_in_a_burst(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts: dict[str, list[float]] = {}
    monkeypatch.setattr(ticking, "tick", _recording(starts, took={"stuck": 35.0}))

    async def main() -> None:
        scheduler = scheduling.Scheduler(_shell())
        _start(scheduler, "stuck")
        await asyncio.sleep(80)
        await scheduler.close()

    virtual_time.run(main())
    assert starts["stuck"] == [0, 35, 70]  # not 0, 35, 35, 35, 40...


def test_a_stuck_canary_delays_no_other(monkeypatch: pytest.MonkeyPatch) -> None:
    starts: dict[str, list[float]] = {}
    monkeypatch.setattr(ticking, "tick", _recording(starts, took={"stuck": 3600.0}))
    shell = _shell()

    async def main() -> None:
        scheduler = scheduling.Scheduler(shell)
        _start(scheduler, "stuck", "a", "b")
        await asyncio.sleep(25)
        assert scheduler.running == 1  # the stuck tick, holding one slot
        await scheduler.close()

    virtual_time.run(main())
    assert starts["stuck"] == [0]
    assert starts["a"] == starts["b"] == [0, 10, 20]


def test_when_every_slot_is_busy_ticks_queue_and_run_as_slots_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts: dict[str, list[float]] = {}
    monkeypatch.setattr(ticking, "tick", _recording(starts, took={"a": 4.0, "b": 4.0}))
    monkeypatch.setattr(scheduling, "MAX_CONCURRENT_TICKS", 1)

    async def main() -> None:
        scheduler = scheduling.Scheduler(_shell())
        _start(scheduler, "a", "b")
        await asyncio.sleep(1)
        assert (scheduler.running, scheduler.queued) == (1, 1)
        await asyncio.sleep(8)
        await scheduler.close()

    virtual_time.run(main())
    assert starts == {"a": [0], "b": [4]}


def _deployment(image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web-app", "namespace": NS},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": image}]}}},
    }


def test_changes_that_matter_wake_the_canary_and_others_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fed from watches, as the daemon wires it: a spec change, an action request, a target
    template change and a tracked ConfigMap change tick at once; a status write, a replica
    change and an untracked ConfigMap do not."""
    starts: dict[str, list[float]] = {}
    monkeypatch.setattr(ticking, "tick", _recording(starts, took={}, interval=100.0))
    kube = FakeKube()
    canary_key = ("flagger.app/v1beta1", "Canary")

    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        kube.put(
            {
                "apiVersion": canary_key[0],
                "kind": canary_key[1],
                "metadata": {"name": "web", "namespace": NS},
                "spec": {"a": 1},
            }
        )
        kube.put(_deployment("app:1"))
        for name in ("web-cfg", "other-cfg"):
            kube.put(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": NS},
                    "data": {"k": "1"},
                }
            )
        scheduler = scheduling.Scheduler(_shell())
        caches = informers.InformerSet()
        canaries = caches.add(informers.Informer(kube, *canary_key, NS, reduce=lambda o: o))
        canaries.subscribe(informers.projected(scheduling.reduce_canary, scheduler.canary_changed))
        workloads = caches.add(
            informers.Informer(kube, "apps/v1", "Deployment", NS, reduce=lambda o: o)
        )
        workloads.subscribe(
            informers.projected(scheduling.reduce_workload, scheduler.workload_changed)
        )
        configs = caches.add(
            informers.Informer(kube, "v1", "ConfigMap", NS, reduce=scheduling.reduce_config)
        )
        configs.subscribe(scheduler.config_changed("configmap"))
        caches.start()
        log: list[str] = []

        async def step(what: str, change: Callable[[], object]) -> None:
            before = len(starts.get("web", []))
            change()
            await asyncio.sleep(5)
            log.append(f"{what}: {'woke' if len(starts['web']) > before else 'slept'}")

        def edit(kind: tuple[str, str, str], **changes: Any) -> Callable[[], object]:
            def apply() -> object:
                obj = kube.stored(*kind, NS)
                for path, value in changes.items():
                    section, _, field = path.partition("__")
                    obj.setdefault(section, {})[field] = value
                return kube.put(obj)

            return apply

        await asyncio.sleep(1)
        assert starts["web"] == [0]
        canary = (*canary_key, "web")
        await step("status write", edit(canary, status__phase="Progressing"))
        await step("spec change", edit(canary, spec__a=2))
        await step(
            "action request", edit(canary, metadata__annotations={"flagger.app/action": "promote"})
        )
        await step("replicas", edit(("apps/v1", "Deployment", "web-app"), spec__replicas=3))
        await step("template", lambda: kube.put({**_deployment("app:2")}))
        await step("untracked config", edit(("v1", "ConfigMap", "other-cfg"), data__k="2"))
        await step("tracked config", edit(("v1", "ConfigMap", "web-cfg"), data__k="2"))
        assert loop.time() < 100  # no interval elapsed: every tick after the first was a wake-up
        await scheduler.close()
        await caches.stop()
        return log

    log = virtual_time.run(main())
    assert log == [
        "status write: slept",
        "spec change: woke",
        "action request: woke",
        "replicas: slept",
        "template: woke",
        "untracked config: slept",
        "tracked config: woke",
    ]


def test_a_deleted_canary_stops_its_task(monkeypatch: pytest.MonkeyPatch) -> None:
    starts: dict[str, list[float]] = {}
    monkeypatch.setattr(ticking, "tick", _recording(starts, took={}))

    async def main() -> None:
        scheduler = scheduling.Scheduler(_shell())
        _start(scheduler, "gone")
        await asyncio.sleep(15)
        scheduler.canary_changed(informers.ObjectKey(NS, "gone"), None, None)
        await asyncio.sleep(30)
        assert scheduler.tasks == {}

    virtual_time.run(main())
    assert starts["gone"] == [0, 10]
