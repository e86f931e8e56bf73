"""One bench run: N canaries under one operator, from bootstrap through idle to a burst rollout."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import math
import pathlib
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import objects, operators, probes
from flagger.devcluster import cluster as devcluster
from flagger.devcluster import processes
from flagger.kube import client as kube_client
from flagger.kube import errors, informers

ACCOUNTS_NAMESPACE = "bench-system"
LATENESS_METRIC = "flagger_tick_lateness_seconds"
CONCURRENCY = 64
MAX_SHARDS = 4
SHARD_LABEL = "sharding.fluxcd.io/key"
"""The label Flux shards by, as docs/sharding.md and the chart use it."""


class BenchError(RuntimeError):
    """The operator failed (exited, or never initialised the canaries)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    n: int
    interval: int = 10
    iterations: int = 3
    idle_seconds: float = 120.0
    bootstrap_timeout: float | None = None
    burst_timeout: float | None = None
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    burst_until: str = "Succeeded"
    """The phase that ends a canary's burst (``Progressing``: detection only, a quick smoke)."""

    @property
    def burst_deadline(self) -> float:
        """How long a burst may take: the issue's target plus as much again, at least 10 min."""
        target = (self.iterations + 2) * self.interval + 60
        return self.burst_timeout or max(600.0, 2.0 * target)

    @property
    def bootstrap_deadline(self) -> float:
        return self.bootstrap_timeout or max(180.0, 1.0 * self.n)


@dataclasses.dataclass
class Result:
    """The figures of one operator at one N (NaN when not measured)."""

    operator: str
    n: int
    figures: dict[str, float] = dataclasses.field(default_factory=dict)
    requests: collections.Counter[tuple[str, str]] = dataclasses.field(
        default_factory=collections.Counter
    )
    expected_ticks: float = 0.0
    succeeded: int = 0
    foreign: list[str] = dataclasses.field(default_factory=list)
    """Requests a shard made about another shard's canaries (sharded runs only)."""
    shards: list[Result] = dataclasses.field(default_factory=list)
    """Each shard's own figures (sharded runs only); this result sums them."""

    @property
    def daemons(self) -> int:
        """How many daemons the figures sum (CPU and RSS targets are per daemon)."""
        return max(1, len(self.shards))

    notes: list[str] = dataclasses.field(default_factory=list)


class CanaryWatch:
    """The bench's own watch of every Canary's phase, with when each phase was first seen."""

    def __init__(self, kube: kube_client.Kube) -> None:
        self.history: dict[informers.ObjectKey, list[tuple[float, str]]] = collections.defaultdict(
            list
        )
        self.informer: informers.Informer[str] = informers.Informer(
            kube, "flagger.app/v1beta1", "Canary", reduce=_phase
        )
        self.informer.subscribe(self._changed)

    def _changed(self, key: informers.ObjectKey, old: str | None, new: str | None) -> None:
        if new is not None:
            self.history[key].append((time.time(), new))

    def phase(self, key: informers.ObjectKey) -> str:
        return self.informer.get(key.name, key.namespace) or ""

    def first(self, key: informers.ObjectKey, phase: str, after: float) -> float | None:
        return next((t for t, p in self.history[key] if p == phase and t >= after), None)


def _phase(obj: dict[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


async def _bounded(jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


async def _create(kube: kube_client.Kube, obj: dict[str, Any]) -> None:
    with contextlib.suppress(errors.Conflict):
        await kube.create(obj)


async def prepare_cluster(cluster: devcluster.LocalCluster, kube: kube_client.Kube, n: int) -> None:
    """CRDs, room for the pods (extra kwok nodes) and the operators' accounts."""
    crds = pathlib.Path(__file__).resolve().parents[1] / "deploy" / "crds" / "crds.yaml"
    cluster.kubectl("apply", "--server-side", "-f", str(crds))
    for _ in range(30):
        waited = cluster.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/canaries.flagger.app",
            check=False,
        )
        if waited.returncode == 0:
            break
        await asyncio.sleep(1)
    else:
        raise BenchError(f"the Canary CRD is not established: {waited.stderr}")
    nodes = math.ceil(3 * n / objects.PODS_PER_NODE)
    await _bounded(
        [lambda i=i: _create(kube, objects.kwok_node(f"kwok-bench-{i}")) for i in range(nodes)]
    )
    await _create(kube, objects.namespace(ACCOUNTS_NAMESPACE))
    for name in ("ours", "flagger", *(f"ours-{shard}" for shard in range(MAX_SHARDS))):
        for obj in objects.operator_account(ACCOUNTS_NAMESPACE, name):
            await _create(kube, obj)


async def run_one(  # noqa: C901
    cluster: devcluster.LocalCluster,
    kube: kube_client.Kube,
    operator: operators.Operator,
    settings: Settings,
    webhook: str,
    workdir: pathlib.Path,
    *,
    prefix: str,
    extra: tuple[str, ...] = (),
    shards: int = 1,
) -> Result:
    """Create the canaries, start the operator (``shards`` replicas, each with
    ``-watch-label-selector`` on its shard) and measure it; clean up after."""
    n = settings.n
    where = objects.placement(prefix, n)
    spaces = objects.namespaces(prefix, n)
    result = Result(operator.label, n)
    accounts = [operator.label] if shards == 1 else [f"{operator.label}-{i}" for i in range(shards)]
    audits = [
        probes.AuditLog(
            cluster.audit_log or workdir / "none", f"system:serviceaccount:{ACCOUNTS_NAMESPACE}:{a}"
        )
        for a in accounts
    ]
    for audit in audits:
        audit.poll()  # skip what came before
    await _bounded([lambda ns=ns: _create(kube, objects.namespace(ns)) for ns in spaces])
    shard_of = {key: _shard(i % shards) for i, key in enumerate(where)}
    shard_labels = (lambda key: {SHARD_LABEL: shard_of[key]}) if shards > 1 else (lambda key: {})
    await _bounded(
        [lambda ns=ns, name=name: _create(kube, objects.deployment(ns, name)) for ns, name in where]
    )
    await _bounded(
        [
            lambda ns=ns, name=name: _create(
                kube,
                objects.canary(
                    ns,
                    name,
                    webhook=webhook,
                    interval=f"{settings.interval}s",
                    iterations=settings.iterations,
                    labels=shard_labels((ns, name)),
                ),
            )
            for ns, name in where
        ]
    )
    watch = CanaryWatch(kube)
    watch.informer.start()
    await watch.informer.wait_synced(60)
    keys = [informers.ObjectKey(ns, name) for ns, name in where]

    running: list[operators.Running] = []
    ports: list[int] = []
    began = time.time()
    try:
        for shard in range(shards):
            port = processes.free_port()
            more = (f"-watch-label-selector={SHARD_LABEL}={_shard(shard)}",) if shards > 1 else ()
            kubeconfig = cluster.service_account_kubeconfig(ACCOUNTS_NAMESPACE, accounts[shard])
            argv = operator.argv(kubeconfig, port, *extra, *more)
            running.append(
                operators.Running(argv, workdir / f"{prefix}-{operator.label}-{shard}.log")
            )
            ports.append(port)

        def alive() -> None:
            for proc in running:
                if not proc.alive():
                    raise BenchError(f"{operator.label} exited early; log tail:\n{proc.tail()}")

        # --- bootstrap ---
        while True:
            alive()
            done = sum(1 for k in keys if watch.phase(k) == "Initialized")
            result.figures["bootstrap_initialized"] = float(done)
            if done == n:
                break
            if time.time() - began > settings.bootstrap_deadline:
                # a row of its own, not the end of the bench: the other operator's figures
                # (and the next N) still count
                result.notes.append(
                    f"bootstrap: {done} of {n} canaries Initialized after "
                    f"{settings.bootstrap_deadline:.0f}s; idle and burst not measured"
                )
                print(f"{operator.label}: log tail:\n{running[0].tail(10)}", flush=True)
                return result
            await asyncio.sleep(0.25)
        result.figures["bootstrap_s"] = time.time() - began
        await asyncio.sleep(min(settings.interval + 2, settings.idle_seconds))

        # --- idle ---
        pids = [p.pid for p in running]
        urls = [f"http://127.0.0.1:{port}/metrics" for port in ports]
        scrapes0 = [_scrape(u) for u in urls]
        cpu0 = [probes.cpu_seconds(p) for p in pids]
        t0 = time.time()
        await asyncio.sleep(settings.idle_seconds)
        t1 = time.time()
        cpu1 = [probes.cpu_seconds(p) for p in pids]
        scrapes1 = [_scrape(u) for u in urls]
        alive()
        rss = [probes.rss_bytes(p) for p in pids]
        requests = [audit.between(t0, t1) for audit in audits]
        keys_of = [[k for k in keys if shard_of[k] == _shard(i)] for i in range(shards)]
        parts = [
            _idle_figures(
                Result(f"{operator.label} {_shard(i)}", len(keys_of[i])),
                settings,
                cpu=cpu1[i] - cpu0[i],
                rss=rss[i],
                requests=requests[i],
                lateness=probes.histogram_delta(scrapes0[i], scrapes1[i], LATENESS_METRIC),
                idle=t1 - t0,
            )
            for i in range(shards)
        ]
        for i, part in enumerate(parts):
            seen = [watch.first(k, "Initialized", began) for k in keys_of[i]]
            if keys_of[i] and None not in seen:
                part.figures["bootstrap_s"] = max(t for t in seen if t is not None) - began
        _idle_figures(
            result,
            settings,
            cpu=sum(cpu1) - sum(cpu0),
            rss=sum(rss),
            requests=[r for shard in requests for r in shard],
            lateness=_merge(
                [
                    probes.histogram_delta(b, a, LATENESS_METRIC)
                    for b, a in zip(scrapes0, scrapes1, strict=True)
                ]
            ),
            idle=t1 - t0,
        )

        # --- burst ---
        cpu0 = [probes.cpu_seconds(p) for p in pids]
        peak = [0] * shards
        patched: dict[informers.ObjectKey, float] = {}

        async def change(key: informers.ObjectKey) -> None:
            patched[key] = time.time()
            await kube.patch(
                "apps/v1",
                "Deployment",
                key.name,
                key.namespace,
                {"spec": {"template": {"metadata": {"annotations": {"bench/revision": "2"}}}}},
            )

        result.figures["burst_target_s"] = float((settings.iterations + 2) * settings.interval + 60)
        burst_began = time.time()
        await _bounded([lambda k=k: change(k) for k in keys])
        while True:
            alive()
            peak = [max(old, probes.rss_bytes(p)) for old, p in zip(peak, pids, strict=True)]
            finished = [
                k for k in keys if watch.first(k, settings.burst_until, patched[k]) is not None
            ]
            if len(finished) == n or time.time() - burst_began > settings.burst_deadline:
                break
            await asyncio.sleep(0.5)
        cpu1 = [probes.cpu_seconds(p) for p in pids]
        burst = _Burst(watch, patched, burst_began, time.time(), settings.burst_until)
        for i, part in enumerate(parts):
            burst.figures(part, keys_of[i], cpu=cpu1[i] - cpu0[i], peak=peak[i])
        burst.figures(result, keys, cpu=sum(cpu1) - sum(cpu0), peak=sum(peak))
        if shards > 1:
            result.shards = parts
            for i, part in enumerate(parts):
                part.foreign, owned = _ownership(audits[i], _shard(i), shard_of)
                logged = _logged_canaries(running[i].log)
                part.foreign += [
                    f"{_shard(i)} log names {ns}/{name}"
                    for ns, name in sorted(logged)
                    if shard_of.get((ns, name), _shard(i)) != _shard(i)
                ]
                result.foreign += part.foreign
                part.notes.append(
                    f"requests named {len(owned)} of its {part.n} canaries"
                    f" (or their Deployments/Services) and {len(part.foreign)} of another shard's;"
                    f" its log named {len(logged)} canaries"
                )
            result.notes.append(
                f"{shards} shards ({SHARD_LABEL}): {len(result.foreign)} requests about another"
                " shard's canaries (audit log)"
            )
    finally:
        for proc in running:
            proc.stop()
        await watch.informer.stop()
        for ns in spaces:
            cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
    return result


def _shard(i: int) -> str:
    return f"shard-{i}"


def _idle_figures(
    result: Result,
    settings: Settings,
    *,
    cpu: float,
    rss: int,
    requests: list[probes.Request],
    lateness: list[tuple[float, float]],
    idle: float,
) -> Result:
    """Fill the idle-window figures of ``result`` (one daemon, or all shards summed)."""
    result.figures["idle_cpu_s_per_120s"] = cpu * 120.0 / idle
    result.figures["rss_mb"] = rss / 2**20
    result.requests = probes.by_verb_and_resource(requests)
    result.expected_ticks = result.n * idle / settings.interval
    if lateness and lateness[-1][1] > 0:
        ticks = lateness[-1][1]
        result.figures["lateness_p50_s"] = probes.histogram_quantile(lateness, 0.5)
        result.figures["lateness_p99_s"] = probes.histogram_quantile(lateness, 0.99)
        result.notes.append("tick lateness from the daemon's histogram")
    else:
        starts = probes.tick_starts(requests, settings.interval)
        late = probes.lateness_from_starts(starts, settings.interval)
        ticks = float(sum(len(v) for v in starts.values()))
        result.figures["lateness_p50_s"] = probes.percentile(late, 0.5)
        result.figures["lateness_p99_s"] = probes.percentile(late, 0.99)
        result.notes.append("tick lateness from Canary GETs in the audit log")
    result.figures["idle_ticks"] = ticks
    per_tick = max(result.expected_ticks, 1.0)
    result.figures["ticks_done"] = ticks / per_tick
    reads = sum(c for (verb, _), c in result.requests.items() if verb in probes.READ_VERBS)
    writes = sum(c for (verb, _), c in result.requests.items() if verb in probes.WRITE_VERBS)
    result.figures["reads_per_tick"] = reads / per_tick
    result.figures["writes_per_tick"] = writes / per_tick
    result.figures["cpu_ms_per_tick"] = 1000.0 * cpu / max(ticks, 1.0)
    return result


@dataclasses.dataclass(frozen=True)
class _Burst:
    """What the bench saw of a burst rollout: when each Deployment changed, the phases after."""

    watch: CanaryWatch
    patched: dict[informers.ObjectKey, float]
    began: float
    ended: float
    until: str

    def figures(
        self, result: Result, keys: list[informers.ObjectKey], *, cpu: float, peak: int
    ) -> None:
        """Fill the burst figures of ``result`` for the canaries ``keys``."""
        done = {
            k: t
            for k in keys
            if (t := self.watch.first(k, "Succeeded", self.patched[k])) is not None
        }
        detected = [
            t - self.patched[k]
            for k in keys
            if (t := self.watch.first(k, "Progressing", self.patched[k])) is not None
        ]
        result.succeeded = len(done)
        result.figures["burst_detected"] = float(len(detected))
        result.figures["detect_p50_s"] = probes.percentile(detected, 0.5)
        result.figures["detect_p99_s"] = probes.percentile(detected, 0.99)
        full = len(done) == len(keys) and keys
        result.figures["burst_s"] = max(done.values()) - self.began if full else math.nan
        result.figures["burst_succeeded"] = float(len(done))
        result.figures["burst_cpu_s"] = cpu
        result.figures["burst_peak_rss_mb"] = peak / 2**20
        if self.until != "Succeeded":
            result.notes.append(f"burst: ended at {self.until}, before the rollouts finished")
        elif len(done) < len(keys):
            result.notes.append(
                f"burst: {len(done)} of {len(keys)} Succeeded within {self.ended - self.began:.0f}s"
            )


def _ownership(
    audit: probes.AuditLog, shard: str, shard_of: dict[tuple[str, str], str]
) -> tuple[list[str], set[tuple[str, str]]]:
    """The requests of ``shard``'s daemon that name a Canary (or its Deployments, Services) of
    another shard, and the canaries of its own that its requests named."""
    foreign: list[str] = []
    owned: set[tuple[str, str]] = set()
    for r in audit.poll():
        key = (r.namespace, r.name.removesuffix("-primary").removesuffix("-canary"))
        owner = shard_of.get(key)
        if owner == shard:
            owned.add(key)
        elif owner is not None:
            foreign.append(f"{shard} {r.verb} {r.resource} {r.namespace}/{r.name}")
    return foreign, owned


def _logged_canaries(log: pathlib.Path) -> set[tuple[str, str]]:
    """The canaries named by the ``canary`` field (``name.namespace``) of a daemon's JSON log."""
    found: set[tuple[str, str]] = set()
    for line in log.read_text(errors="replace").splitlines():
        if '"canary"' not in line:
            continue
        with contextlib.suppress(ValueError):
            name, _, namespace = str(json.loads(line).get("canary") or "").partition(".")
            found.add((namespace, name))
    return found


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    try:
        return probes.scrape(url)
    except OSError:
        return {}


def _merge(parts: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    summed: dict[float, float] = collections.defaultdict(float)
    for part in parts:
        for le, count in part:
            summed[le] += count
    return sorted(summed.items())


async def wait_namespaces_gone(cluster: devcluster.LocalCluster, prefix: str, n: int) -> None:
    """Let the previous run's namespaces finish terminating, so runs do not overlap."""
    spaces = [f"namespace/{ns}" for ns in objects.namespaces(prefix, n)]
    for _ in range(5):  # up to ~5 min, in waits shorter than cluster.kubectl's own 120 s limit
        with contextlib.suppress(subprocess.TimeoutExpired):
            waited = await asyncio.to_thread(
                cluster.kubectl, "wait", "--for=delete", "--timeout=60s", *spaces, check=False
            )
            if waited.returncode == 0:
                return
    print(f"namespaces of {prefix} still terminating; the next run starts anyway", flush=True)
