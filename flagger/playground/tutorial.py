"""Flagger's Helm/GitOps tutorial, played on the playground stack.

The steps, as the tutorial tells them:

1. install the loadtester, and ``frontend`` and ``backend`` from the podinfo chart (Istio
   canaries with a load test webhook); both become Initialized;
2. upgrade the frontend to 3.1.1: the analysis advances 5% at a time to 50% and promotes;
3. meanwhile change the backend's configuration while requests to ``backend-canary`` hit
   ``/status/500`` and ``/delay/1``: the analysis halts on success rate and on latency, recovers
   when they stop, and promotes;
4. release the backend again with errors that persist: it is rolled back at the threshold;
   meanwhile a frontend release halts on errors and is promoted by hand
   (``flagger promote frontend -n test --full``).

In GitOps mode (the stack runs Flux) every install and upgrade is a commit pushed to the
playground's Git repository (`gitops_repo`), which Flux applies; then two more steps:

5. Git still says the failed release: the HelmRelease is Ready while the Canary is Failed;
6. revert that commit: the primary already serves what Git says again, so there is no new
   analysis (Flagger does not start one when the target goes back to the last promoted spec).

Every outcome is checked (:class:`Outcome`); the daemon's messages (and Flux's, and the commits)
are printed as they come, with a live weight display, and can be written to a JSON file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pathlib
import time
from collections.abc import Callable
from typing import Any

from flagger.api import actions
from flagger.ops import requests
from flagger.playground import charts, flux_controllers, gitops_repo, gitserver, stack

NS = "test"
INTERVAL = "10s"
#: The chart's default: the faults below cost four or five failed checks before they clear.
THRESHOLD = 10
#: The metrics' window: short, so that a fault leaves the window soon after it stops.
METRIC_WINDOW = "10s"
TAG_BEFORE, TAG_AFTER = "3.1.0", "3.1.1"
#: No token: the pods listen on 127.X.0.N, which nothing but this machine reaches.
LOADTESTER_VALUES: dict[str, Any] = {"token": {"enabled": False}}


@dataclasses.dataclass
class Outcome:
    """One expected result of the tutorial and whether it happened."""

    what: str
    expected: str
    seen: str = ""

    @property
    def ok(self) -> bool:
        return self.seen == self.expected


@dataclasses.dataclass
class Timeline:
    """Who did what, with times: the daemon's messages about the tutorial's canaries (``by``
    ``flagger``), and in GitOps mode the commits pushed (``git``) and Flux's Events (``flux``).
    An entry's ``canary`` is the release it concerns (empty for the repository itself)."""

    started: float = dataclasses.field(default_factory=time.monotonic)
    entries: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    phases: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def _values(
    name: str, tag: str, *, proxy: str, timeout: str = "30s", backend: str | None = None
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "nameOverride": name,
        "fullnameOverride": name,
        "image": {"tag": tag},
        "hpa": {"enabled": True, "minReplicas": 2, "maxReplicas": 4},
        "canary": {
            "enabled": True,
            "analysis": {
                "interval": INTERVAL,
                "threshold": THRESHOLD,
                "maxWeight": 50,
                "stepWeight": 5,
            },
            "thresholds": {"successRate": 99, "latency": 500, "interval": METRIC_WINDOW},
            "loadtest": {
                "enabled": True,
                "url": f"http://flagger-loadtester.{NS}/",
                "proxy": proxy,
                "duration": "1m",
                "qps": 10,
                "concurrency": 2,
            },
        },
        "httpServer": {"timeout": timeout},
    }
    if backend:
        values["backend"] = backend
    return values


class Tutorial:
    """Plays the tutorial on a started :class:`~flagger.playground.stack.Stack`."""

    def __init__(self, playground: stack.Stack, say: Callable[[str], None] = print) -> None:
        self.stack, self.say = playground, say
        self.timeline = Timeline()
        self.outcomes: list[Outcome] = []
        self._printed = 0
        self._weights: dict[str, tuple[int, int]] = {}
        self._background: list[asyncio.subprocess.Process] = []
        self.repo: gitops_repo.Repository | None = None
        self._applied = ""  # the revision Flux's Kustomization applied last
        self._started_by: dict[str, gitserver.Commit] = {}
        self._git_lock = asyncio.Lock()

    # --- the steps ------------------------------------------------------------------------

    async def play(self) -> bool:
        """Run every step; True when every outcome matched."""
        await self._install()
        await asyncio.gather(
            self._wait_phase("frontend", "Initialized", 120),
            self._wait_phase("backend", "Initialized", 120),
        )
        self._background.append(
            await self._hey(f"http://frontend.{NS}:9898/", seconds=900, qps=20, workers=4)
        )
        try:
            await asyncio.gather(self._frontend(), self._backend())
            failed, _ = await asyncio.gather(self._backend_rollback(), self._frontend_by_hand())
        finally:
            for load in self._background:
                load.terminate()
                await load.wait()
        if self.repo is not None and failed is not None:
            await self._git_says_the_failed_release(failed)
            await self._revert(failed)
        await self._poll()
        self.say(await self._table())
        for outcome in self.outcomes:
            mark = "ok  " if outcome.ok else "FAIL"
            self.say(f"{mark} {outcome.what}: expected {outcome.expected}, saw {outcome.seen}")
        return all(o.ok for o in self.outcomes)

    async def _install(self) -> None:
        assert self.stack.cluster is not None
        proxy = self.stack.proxy_url
        if self.stack.flux is not None:
            await self._install_from_git(proxy)
            return
        self.stack.cluster.kubectl("create", "namespace", NS)
        self.say("installing the loadtester, frontend and backend charts...")
        await charts.install(
            self.stack.cluster,
            charts.chart_path("loadtester"),
            LOADTESTER_VALUES,
            release="flagger-loadtester",
            namespace=NS,
        )
        await charts.install(
            self.stack.cluster,
            charts.chart_path("podinfo"),
            _values("frontend", TAG_BEFORE, proxy=proxy, backend=_BACKEND_URL),
            release="frontend",
            namespace=NS,
        )
        await charts.install(
            self.stack.cluster,
            charts.chart_path("podinfo"),
            _values("backend", TAG_BEFORE, proxy=proxy),
            release="backend",
            namespace=NS,
        )

    async def _install_from_git(self, proxy: str) -> None:
        """The initial commit (charts, namespace, HelmReleases); Flux installs everything."""
        flux, git_server = self.stack.flux, self.stack.git
        assert flux is not None and git_server is not None
        checkout = gitserver.Checkout(git_server.url, self.stack.workdir / "checkout")
        await asyncio.to_thread(checkout.clone)
        self.repo = gitops_repo.Repository(checkout, NS)
        self.say(f"committing the tutorial's layout to {git_server.url}...")
        commit = await asyncio.to_thread(
            self.repo.initial,
            {
                "flagger-loadtester": ("loadtester", LOADTESTER_VALUES),
                "frontend": (
                    "podinfo",
                    _values("frontend", TAG_BEFORE, proxy=proxy, backend=_BACKEND_URL),
                ),
                "backend": ("podinfo", _values("backend", TAG_BEFORE, proxy=proxy)),
            },
            "Add the test namespace, the loadtester, frontend and backend",
        )
        self._pushed(commit)
        await asyncio.to_thread(flux.bootstrap, git_server.url)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            await self._poll()
            releases = await self._helm_releases()
            if len(releases) == 3 and all(
                flux_controllers.ready_condition(r).get("status") == "True" for r in releases
            ):
                return
            await asyncio.sleep(1)
        self.outcomes.append(Outcome("Flux installs the releases from Git", "Ready", "timeout"))

    async def _frontend(self) -> None:
        self.say(f"upgrading frontend to {TAG_AFTER}...")
        await self._upgrade(
            "frontend",
            _values("frontend", TAG_AFTER, proxy=self.stack.proxy_url, backend=_BACKEND_URL),
            f"frontend: image.tag {TAG_AFTER}",
        )
        phase = await self._wait_phase("frontend", "Succeeded", 300)
        self.outcomes.append(Outcome(f"frontend {TAG_AFTER}", "Succeeded", phase))

    async def _backend(self) -> None:
        await asyncio.sleep(5)
        self.say("changing the backend's configuration, with faults on backend-canary...")
        # Someone is always calling the backend's canary, so its metrics have values at once.
        self._background.append(
            await self._hey(f"http://backend-canary.{NS}:9898/", seconds=900, qps=5, workers=1)
        )
        await self._upgrade(
            "backend",
            _values("backend", TAG_BEFORE, proxy=self.stack.proxy_url, timeout="31s"),
            "backend: httpServer.timeout 31s (a configuration change)",
        )
        await self._wait_message("backend", "Advance backend.test canary weight 10", 180)
        errors = await self._hey(
            f"http://backend-canary.{NS}:9898/status/500", seconds=600, qps=10, workers=2
        )
        await self._wait_message("backend", "advancement success rate", 120, exact=False)
        errors.terminate()
        await errors.wait()
        delays = await self._hey(
            f"http://backend-canary.{NS}:9898/delay/1", seconds=600, qps=5, workers=4
        )
        await self._wait_message("backend", "advancement request duration", 120, exact=False)
        delays.terminate()
        await delays.wait()
        phase = await self._wait_phase("backend", "Succeeded", 300)
        self.outcomes.append(Outcome("backend configuration change", "Succeeded", phase))
        halts = [
            e["msg"]
            for e in self.timeline.entries
            if e["canary"] == "backend" and e["msg"].startswith("Halt backend.test advancement")
        ]
        self.outcomes.append(
            Outcome(
                "backend halted on success rate and latency",
                "yes",
                "yes"
                if any("success rate" in h for h in halts)
                and any("request duration" in h for h in halts)
                else "no",
            )
        )

    async def _backend_rollback(self) -> gitserver.Commit | None:
        """The failing release; in GitOps mode, the commit that made it."""
        self.say("releasing the backend again, with errors that persist...")
        errors = await self._hey(
            f"http://backend-canary.{NS}:9898/status/500", seconds=600, qps=10, workers=2
        )
        try:
            commit = await self._upgrade(
                "backend",
                # Only the tag: reverting it then restores the last promoted spec exactly.
                _values("backend", TAG_AFTER, proxy=self.stack.proxy_url, timeout="31s"),
                f"backend: image.tag {TAG_AFTER}",
            )
            phase = await self._wait_phase("backend", "Failed", 300)
        finally:
            errors.terminate()
            await errors.wait()
        self.outcomes.append(
            Outcome(f"backend {TAG_AFTER} with persistent errors", "Failed", phase)
        )
        return commit

    async def _git_says_the_failed_release(self, failed: gitserver.Commit) -> None:
        """What a Flux user sees after a rollback: Git and the HelmRelease say the new tag,
        the Canary says Failed and the primary still serves the old version."""
        assert self.repo is not None
        release = await self._helm_release("backend")
        ready = flux_controllers.ready_condition(release)
        in_git = self.repo.values("backend")["image"]["tag"]
        primary = await self._image("backend-primary")
        phase = str(((await self._canary("backend")).get("status") or {}).get("phase") or "")
        self.say(
            f"Git says backend {in_git} (commit {failed.short} {failed.subject!r}); "
            f"HelmRelease backend Ready={ready.get('status')} ({ready.get('message', '')}); "
            f"Canary backend {phase}; backend-primary runs {primary}"
        )
        self.outcomes.append(
            Outcome(
                "after the rollback: HelmRelease Ready, Canary Failed, Git ahead of the primary",
                f"Ready=True, Failed, {TAG_AFTER} in Git, {TAG_BEFORE} serving",
                f"Ready={ready.get('status')}, {phase}, {in_git} in Git, {primary} serving",
            )
        )

    async def _revert(self, failed: gitserver.Commit) -> None:
        """``git revert`` the failed release: Helm goes back, Flagger starts no analysis."""
        assert self.repo is not None and self.stack.flux is not None
        self.say(f"reverting {failed.short} {failed.subject!r}...")
        before = await self._helm_release("backend")
        marker = len(self.timeline.entries)
        async with self._git_lock:
            commit = await asyncio.to_thread(self.repo.checkout.revert, failed)
            self._pushed(commit)
        await asyncio.to_thread(self.stack.flux.reconcile_source)
        deadline = time.monotonic() + 120
        upgraded = False
        while time.monotonic() < deadline and not upgraded:
            await self._poll()
            now = await self._helm_release("backend")
            upgraded = _helm_revision(now) > _helm_revision(before) and (
                flux_controllers.ready_condition(now).get("status") == "True"
            )
            await asyncio.sleep(1)
        # Give the daemon a few intervals to (not) react.
        quiet_until = time.monotonic() + 30
        while time.monotonic() < quiet_until:
            await self._poll()
            await asyncio.sleep(1)
        started = [
            e
            for e in self.timeline.entries[marker:]
            if e["by"] == "flagger" and e["canary"] == "backend" and "New revision" in e["msg"]
        ]
        phase = str(((await self._canary("backend")).get("status") or {}).get("phase") or "")
        self.outcomes.append(
            Outcome(
                "revert of the failed release: Helm upgraded, no new analysis",
                "upgraded, no analysis, Failed",
                f"{'upgraded' if upgraded else 'not upgraded'}, "
                f"{'analysis started' if started else 'no analysis'}, {phase}",
            )
        )

    async def _frontend_by_hand(self) -> None:
        """A release halted by its metrics, promoted by a person (GitOps-safe: an annotation)."""
        await asyncio.sleep(5)
        self.say("releasing the frontend again, with errors on frontend-canary: it halts...")
        errors = await self._hey(
            f"http://frontend-canary.{NS}:9898/status/500", seconds=600, qps=10, workers=2
        )
        try:
            values = _values(
                "frontend",
                TAG_AFTER,
                proxy=self.stack.proxy_url,
                backend=f"http://backend.{NS}:9898/echo",
                timeout="31s",
            )
            await self._upgrade("frontend", values, "frontend: httpServer.timeout 31s")
            await self._wait_message("frontend", "advancement success rate", 180, exact=False)
            assert self.stack.kube is not None
            self.say(f"$ flagger promote frontend -n {NS} --full   # a person decides to ship it")
            await requests.send(
                self.stack.kube, "frontend", NS, actions.Action.PROMOTE, full=True, user="you"
            )
            phase = await self._wait_phase("frontend", "Succeeded", 180)
        finally:
            errors.terminate()
            await errors.wait()
        self.outcomes.append(Outcome("halted frontend promoted by hand", "Succeeded", phase))

    # --- helpers --------------------------------------------------------------------------

    async def _upgrade(
        self, release: str, values: dict[str, Any], subject: str
    ) -> gitserver.Commit | None:
        """Helm mode: install the chart with ``values``. GitOps mode: commit them (with
        ``subject``), push, and ask Flux to fetch; the commit."""
        assert self.stack.cluster is not None
        if self.repo is None or self.stack.flux is None:
            await charts.install(
                self.stack.cluster,
                charts.chart_path("podinfo"),
                values,
                release=release,
                namespace=NS,
            )
            return None
        async with self._git_lock:  # one work tree: steps running side by side take turns
            commit = await asyncio.to_thread(self.repo.release, release, "podinfo", values, subject)
            self._pushed(commit)
        await asyncio.to_thread(self.stack.flux.reconcile_source)
        return commit

    def _pushed(self, commit: gitserver.Commit) -> None:
        self._entry("git", "", f"pushed {commit.short} {commit.subject}", commit=commit.sha)

    def _entry(self, by: str, canary: str, msg: str, **extra: str) -> None:
        elapsed = time.monotonic() - self.timeline.started
        self.timeline.entries.append(
            {"t": round(elapsed, 1), "by": by, "canary": canary, "msg": msg, **extra}
        )
        who = {"flagger": "", "git": "[git] ", "flux": "[flux] "}[by]
        self.say(f"{_clock(elapsed)} {who}{msg}")

    async def _helm_releases(self) -> list[dict[str, Any]]:
        assert self.stack.kube is not None
        return await self.stack.kube.list("helm.toolkit.fluxcd.io/v2", "HelmRelease", NS)

    async def _helm_release(self, name: str) -> dict[str, Any]:
        assert self.stack.kube is not None
        found = await self.stack.kube.get("helm.toolkit.fluxcd.io/v2", "HelmRelease", name, NS)
        return found or {}

    async def _image(self, deployment: str) -> str:
        """The podinfo tag a Deployment runs."""
        assert self.stack.kube is not None
        found = await self.stack.kube.get("apps/v1", "Deployment", deployment, NS) or {}
        containers = found.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
        image = str((containers or [{}])[0].get("image") or "")
        return image.rpartition(":")[2]

    async def _poll(self) -> None:
        """Print what happened since the last call: Flux's Events, then the daemon's lines."""
        flux = self.stack.flux
        if flux is not None and self.stack.kube is not None:
            events: list[dict[str, Any]] = []
            for namespace in (flux_controllers.NAMESPACE, NS):
                events += await self.stack.kube.list("v1", "Event", namespace)
            for event in flux.events.new(events):
                canary = event.name if event.kind == "HelmRelease" else ""
                self._entry("flux", canary, event.line, controller=event.controller)
            kustomization = await self.stack.kube.get(
                "kustomize.toolkit.fluxcd.io/v1",
                "Kustomization",
                flux_controllers.NAMESPACE,
                flux_controllers.NAMESPACE,
            )
            self._applied = str(
                ((kustomization or {}).get("status") or {}).get("lastAppliedRevision") or ""
            )
        self._print_messages()

    async def _hey(
        self, url: str, *, seconds: int, qps: int, workers: int
    ) -> asyncio.subprocess.Process:
        """Real load from Debian's hey, through the mesh proxy."""
        return await asyncio.create_subprocess_exec(
            "hey",
            "-x",
            self.stack.proxy_url,
            "-z",
            f"{seconds}s",
            "-q",
            str(qps),
            "-c",
            str(workers),
            url,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def _canary(self, name: str) -> dict[str, Any]:
        assert self.stack.kube is not None
        found = await self.stack.kube.get("flagger.app/v1beta1", "Canary", name, NS)
        return found or {}

    async def _wait_phase(self, name: str, phase: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        seen = ""
        while time.monotonic() < deadline:
            await self._poll()
            status = (await self._canary(name)).get("status") or {}
            seen = str(status.get("phase") or "")
            self._show_weight(name, status)
            if seen == phase:
                return seen
            if phase != "Failed" and seen == "Failed":
                return seen
            await asyncio.sleep(1)
        return seen or "timeout"

    async def _wait_message(self, name: str, text: str, timeout: float, exact: bool = True) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self._poll()
            for entry in self.timeline.entries:
                if entry["canary"] == name and (
                    entry["msg"] == text if exact else text in entry["msg"]
                ):
                    return
            await asyncio.sleep(1)

    def _print_messages(self) -> None:
        lines = self.stack.daemon_lines()
        for line in lines[self._printed :]:
            canary = str(line.get("canary") or "")
            if not canary.endswith(f".{NS}"):
                continue
            name = canary.rsplit(".", 1)[0]
            extra: dict[str, str] = {}
            if self.repo is not None and str(line["msg"]).startswith("New revision detected"):
                commit = self.repo.started_by(self._applied, name)
                if commit is not None:
                    extra["commit"] = commit.sha
                    self._started_by[name] = commit
            self._entry("flagger", name, str(line["msg"]), **extra)
            if "commit" in extra:
                started = self._started_by[name]
                self.say(f"         (started by commit {started.short} {started.subject!r})")
        self._printed = len(lines)

    def _show_weight(self, name: str, status: dict[str, Any]) -> None:
        weight = int(status.get("canaryWeight") or 0)
        phase = str(status.get("phase") or "")
        phases = self.timeline.phases.setdefault(name, [])
        if not phases or phases[-1] != phase:
            phases.append(phase)
        if self._weights.get(name) != (weight, len(phases)):
            self._weights[name] = (weight, len(phases))
            bar = "#" * (weight // 2)
            self.say(f"         {name:<9} {phase:<16} canary {weight:>3}% |{bar:<50}|")

    async def _table(self) -> str:
        assert self.stack.cluster is not None
        done = await asyncio.to_thread(self.stack.cluster.kubectl, "get", "canaries", "-A")
        return str(done.stdout)

    def write_json(self, path: pathlib.Path) -> None:
        """The phases, the outcomes and the message timeline."""
        path.write_text(
            json.dumps(
                {
                    "phases": self.timeline.phases,
                    "outcomes": [
                        {"what": o.what, "expected": o.expected, "seen": o.seen, "ok": o.ok}
                        for o in self.outcomes
                    ],
                    "messages": self.timeline.entries,
                },
                indent=2,
            )
        )


_BACKEND_URL = f"http://backend.{NS}:9898/echo"


def _helm_revision(release: dict[str, Any]) -> int:
    """The Helm release revision a HelmRelease last installed or upgraded to."""
    history = (release.get("status") or {}).get("history") or [{}]
    return int(history[0].get("version") or 0)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
