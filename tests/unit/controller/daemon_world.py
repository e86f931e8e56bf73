"""The daemon's shell over the in-memory API server: a `Shell` as `flagger run` builds it, with
`tests.support.fake_kube.FakeKube` for the cluster and the Events collected in memory."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import datetime
import functools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from flagger import options as options_api
from flagger import plugins, validate_command
from flagger.alerting import notifications
from flagger.api import canary as canary_api
from flagger.api import validation
from flagger.controller import answers, ticking
from flagger.kube import informers
from flagger.observability import events
from flagger.observability import metrics as metrics_api
from tests.support import objects
from tests.support.fake_kube import CachedFakeKube, FakeKube

NAMESPACE = "test"
CANARY_API = "flagger.app/v1beta1"
INTERVAL_SECONDS = 10


def deployment(image: str = objects.PODINFO_IMAGE) -> dict[str, Any]:
    """The target Deployment ``podinfo``."""
    return objects.podinfo_deployment(
        "podinfo", NAMESPACE, image, replicas=2, port={"containerPort": 9898}
    )


def canary(provider: str = "kubernetes", **analysis: Any) -> dict[str, Any]:
    """Canary ``podinfo`` on the Deployment, with an analysis of two 10s iterations."""
    return {
        "apiVersion": CANARY_API,
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": NAMESPACE},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "10s", "threshold": 2, "iterations": 2, **analysis},
        },
    }


def _timestamp(value: Any) -> datetime.datetime | None:
    """An RFC 3339 time as stored, or None when it is not one."""
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def renamed(obj: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of ``obj`` named ``name`` (a Canary's targetRef follows)."""
    renamed = copy.deepcopy(obj)
    renamed["metadata"]["name"] = name
    if renamed["kind"] == "Canary":
        renamed["spec"]["targetRef"]["name"] = name
    else:
        labels = {"app": name}
        renamed["metadata"]["labels"] = labels
        renamed["spec"]["selector"]["matchLabels"] = labels
        renamed["spec"]["template"]["metadata"]["labels"] = labels
    return renamed


@dataclasses.dataclass
class World:
    """A cluster in memory and the daemon's shell over it."""

    kube: FakeKube
    shell: ticking.Shell
    events: list[tuple[str, str]]
    """(type, message) of every Event recorded on the Canary."""

    async def tick(self) -> ticking.Outcome:
        outcome = await ticking.tick(self.shell, "podinfo", NAMESPACE)
        await self.shell.recorder.flush()
        return outcome

    async def tick_after_interval(self) -> ticking.Outcome:
        """A tick one ``analysis.interval`` after the last check (the daemon runs a check at
        most once per interval, by ``status.lastCheckTime``; here that time is moved back
        rather than the test sleeping)."""
        stored = self.kube.stored(CANARY_API, "Canary", "podinfo", NAMESPACE)
        last = (stored.get("status") or {}).get("lastCheckTime")
        when = _timestamp(last)
        if when is not None:
            earlier = when - datetime.timedelta(seconds=INTERVAL_SECONDS + 1)  # stamps round up
            stored["status"]["lastCheckTime"] = earlier.strftime("%Y-%m-%dT%H:%M:%SZ")
            self.kube.put(stored)
        return await self.tick()

    def status(self) -> dict[str, Any]:
        return dict(self.kube.stored(CANARY_API, "Canary", "podinfo", NAMESPACE).get("status", {}))

    def phase(self) -> str:
        return str(self.status().get("phase", ""))

    def condition(self, kind: str) -> dict[str, Any]:
        found = [c for c in self.status().get("conditions") or [] if c.get("type") == kind]
        return dict(found[0]) if found else {}

    def messages(self) -> list[str]:
        return [message for _, message in self.events]

    def change_image(self, image: str) -> None:
        """A user edits the target's pod template (as ``kubectl set image`` would)."""
        changed = copy.deepcopy(self.kube.stored("apps/v1", "Deployment", "podinfo", NAMESPACE))
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = image
        self.kube.put(changed)


@functools.cache
def _known_names() -> validation.KnownNames:
    """The names the installed plugins serve (listing them costs ~0.3 s; they do not change
    within a test run)."""
    return validate_command.known_names(plugins.load())


async def world(
    session: aiohttp.ClientSession,
    *,
    mesh_provider: str = "kubernetes",
    metrics_server: str = options_api.Options.metrics_server,
    installed: plugins.Plugins | None = None,
    kube: FakeKube | None = None,
) -> World:
    """A shell as the daemon builds it (plugins from the entry points), over a fake cluster
    (``kube``: e.g. a `CachedFakeKube` with its informers started) whose workloads roll out
    at once."""
    kube = kube if kube is not None else FakeKube()
    kube.roll_out = True
    opts = options_api.Options(mesh_provider=mesh_provider, metrics_server=metrics_server)
    installed = installed or plugins.load()
    context = plugins.PluginContext(
        kube=kube,
        mesh_client=None,
        options={f.name.replace("_", "-"): getattr(opts, f.name) for f in dataclasses.fields(opts)},
    )
    recorded: list[tuple[str, str]] = []

    async def on_event(canary: canary_api.Canary, message: str, event_type: str) -> None:
        recorded.append((event_type, message))

    metrics = metrics_api.Metrics(process_metrics=False)
    shell = ticking.Shell(
        kube=kube,
        installed=installed,
        context=context,
        answers=answers.Answers(
            kube,
            installed,
            context,
            session,
            metrics_server=opts.metrics_server,
            mesh_provider=opts.mesh_provider,
        ),
        recorder=events.EventRecorder(None, on_event=on_event),
        metrics=metrics,
        options=opts,
        session=session,
        known=_known_names(),
        notifications=notifications.Notifications(installed, context, registry=metrics.registry),
    )
    return World(kube, shell, recorded)


#: The kinds a settled canary's tick reads, served from informers by `cached_world`.
CACHED = ((CANARY_API, "Canary"), ("apps/v1", "Deployment"), ("v1", "Service"))


@contextlib.asynccontextmanager
async def cached_world(session: aiohttp.ClientSession) -> AsyncIterator[World]:
    """A world as the daemon runs it (reads from watch caches, `CachedFakeKube`) with podinfo
    created and ticked to Initialized; the informers are stopped on exit."""
    kube = CachedFakeKube()
    caches = informers.InformerSet()
    for api_version, kind in CACHED:
        caches.add(kube.cache(api_version, kind))
    caches.start()
    await caches.wait_synced(2)
    try:
        made = await world(session, kube=kube)
        made.kube.put(deployment())
        made.kube.put(canary())
        for _ in range(200):  # until the informers have delivered them
            if await kube.peek(CANARY_API, "Canary", "podinfo", NAMESPACE):
                break
            await asyncio.sleep(0.005)
        for _ in range(4):
            await made.tick()
            if made.phase() == "Initialized":
                break
        assert made.phase() == "Initialized", made.events
        yield made
    finally:
        for informer in caches:
            await informer.stop()
