"""``flagger run``: the daemon.

Start-up: JSON logging, the API client (kubeconfig or in-cluster; client-side QPS and burst),
Prometheus metrics and the ``/metrics`` ``/healthz`` ``/readyz`` server, the plugins, leader
election when enabled, then watch-fed caches of Canaries, targets and their configs, and one task
per Canary. SIGTERM (or SIGINT) stops it gracefully: tasks are cancelled between steps, pending
events are flushed, the Lease is released. State lives in the Canaries' status only, so a
daemon killed outright carries on from there when started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from typing import Any

import flagger
from flagger import options as options_api
from flagger import outgoing, plugins, validate_command, watch_caches
from flagger.alerting import notifications
from flagger.controller import answers, leader, scheduling, ticking
from flagger.dashboard import server as dashboard_server
from flagger.hooks import event_hooks
from flagger.kube import cache, informers
from flagger.kube import client as kube_client
from flagger.observability import events, logs, server
from flagger.observability import metrics as metrics_api

log = logs.get_logger("flagger")


async def run(opts: options_api.Options, *, stop: asyncio.Event | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT (or ``stop`` is set); return the exit status."""
    logs.setup(opts.log_level)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    kube = await cache.CachedKube.connect(
        opts.kubeconfig or None,
        qps=opts.kubeconfig_qps,
        burst=opts.kubeconfig_burst,
        master=opts.master or None,
    )
    # Flagger's meshClient: routing objects go to the mesh cluster when one is configured
    mesh_kube = (
        await kube_client.Kube.connect(
            opts.kubeconfig_service_mesh,
            qps=opts.kubeconfig_qps,
            burst=opts.kubeconfig_burst,
            master=opts.master or None,
        )
        if opts.kubeconfig_service_mesh
        else None
    )
    _warn_ignored_flags(opts)
    metrics = metrics_api.Metrics()
    metrics.set_info(flagger.__version__, opts.mesh_provider)
    # One session policy for webhooks, notifications and metrics: HTTP_PROXY/NO_PROXY honoured.
    session = outgoing.client_session()
    installed = plugins.load()
    context = plugins.PluginContext(
        kube=kube,
        mesh_client=mesh_kube,
        cached_reader=kube,  # CachedKube: reads served from the watch caches
        options={
            field.name.replace("_", "-"): getattr(opts, field.name)
            for field in dataclasses.fields(opts)
        },
    )
    recorder = events.EventRecorder(
        kube,
        on_event=event_hooks.EventForwarder(opts.event_webhook or None, session=session),
    )
    alert_sender = notifications.Notifications(installed, context, registry=metrics.registry)
    alert_sender.start()
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
        recorder=recorder,
        metrics=metrics,
        options=opts,
        session=session,
        known=validate_command.known_names(installed),
        notifications=alert_sender,
    )
    caches = informers.InformerSet()
    elector = (
        # Flagger puts the Lease in -namespace when it is set; one Lease per shard
        leader.LeaderElector(
            kube,
            opts.namespace or opts.leader_election_namespace,
            name=leader.lease_name(opts.watch_label_selector),
        )
        if opts.enable_leader_election
        else None
    )

    def ready() -> bool:
        leading = elector is None or elector.leading
        return leading and caches.synced

    http = await server.start(metrics, ready, port=opts.port)
    dashboard = await _dashboard(kube, opts)
    log.info(
        f"Starting flagger {flagger.__version__}",
        mesh_provider=opts.mesh_provider,
        metrics_port=http.port,
    )
    scheduler = scheduling.Scheduler(shell)
    metrics.track(
        metrics_api.Saturation(
            requests=lambda: kube.requests,
            throttled_seconds=lambda: kube.throttled_seconds,
            cached=kube.cached,
            queued=lambda: scheduler.queued,
            running=lambda: scheduler.running,
            events_pending=lambda: recorder.pending,
            events_dropped=lambda: recorder.dropped,
        )
    )
    code = 0
    keeping: asyncio.Task[None] | None = None
    try:
        if elector is not None:
            if not await _until(stop, elector.acquire()):
                return 0
            keeping = asyncio.create_task(elector.keep())
        _watch(caches, kube, opts, scheduler)
        caches.start()
        waiting: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if keeping is not None:
            waiting.append(keeping)
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if keeping is not None and keeping in done:
            log.error(f"leader election lost: {keeping.exception()}")
            code = 1
    finally:
        log.info("Shutting down")
        await scheduler.close()
        await caches.stop()
        if keeping is not None:
            keeping.cancel()
        await recorder.flush()
        await alert_sender.close()
        if elector is not None and code == 0:
            await elector.release()
        await http.stop()
        if dashboard is not None:
            await dashboard.stop()
        await session.close()
        await kube.close()
        if mesh_kube is not None:
            await mesh_kube.close()
    return code


def _watch(
    caches: informers.InformerSet,
    kube: cache.CachedKube,
    opts: options_api.Options,
    scheduler: scheduling.Scheduler,
) -> None:
    """Watch-fed caches that serve the ticks' reads and wake the canaries' tasks."""
    namespace = opts.namespace or None
    for cached in watch_caches.CACHED:  # one list, also read by deploy_rbac.READ_THROUGH
        is_canary = cached.wakes is watch_caches.Wakes.CANARY
        selector = (opts.watch_label_selector or None) if is_canary else None
        informer = caches.add(
            kube.cache(cached.api_version, cached.kind, namespace, label_selector=selector)
        )
        if is_canary:
            informer.subscribe(
                informers.projected(scheduling.reduce_canary, scheduler.canary_changed)
            )
        elif cached.wakes is watch_caches.Wakes.WORKLOAD:
            informer.subscribe(
                informers.projected(scheduling.reduce_workload, scheduler.workload_changed)
            )
    if opts.enable_config_tracking:
        for kind, name in (("ConfigMap", "configmap"), ("Secret", "secret")):
            found = caches.add(
                informers.Informer(kube, "v1", kind, namespace, reduce=scheduling.reduce_config)
            )
            found.subscribe(scheduler.config_changed(name))


async def _dashboard(
    kube: kube_client.Kube, opts: options_api.Options
) -> dashboard_server.Running | None:
    """``-dashboard-address``: the dashboard, read-only (it runs with the daemon's account)."""
    if not opts.dashboard_address:
        return None
    host, _, port = opts.dashboard_address.rpartition(":")
    if not port.isdigit():
        log.error(
            f"-dashboard-address {opts.dashboard_address!r} is not HOST:PORT; "
            "use e.g. 127.0.0.1:8090 (the dashboard is not served)"
        )
        return None
    settings = dashboard_server.Settings(
        namespace=opts.namespace or None,
        read_only=True,
        read_only_reason="served by the daemon: read-only; use `flagger dashboard` as yourself",
    )
    running = await dashboard_server.start(
        kube, settings, address=host.strip("[]") or "127.0.0.1", port=int(port or 8090)
    )
    log.info(f"Dashboard on {running.url}")
    return running


async def _until(stop: asyncio.Event, work: Any) -> bool:
    """Run ``work`` unless ``stop`` is set first; True when the work finished."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task in done:
        task.result()
        return True
    task.cancel()
    return False


def _warn_ignored_flags(opts: options_api.Options) -> None:
    """Flagger's scheduling flags that have no meaning here, said once at start-up."""
    defaults = options_api.Options()
    if opts.control_loop_interval != defaults.control_loop_interval:
        log.warning(
            "-control-loop-interval is ignored: each Canary ticks every analysis.interval and "
            "watch events wake it at once, so there is no global sync loop to tune"
        )
    if opts.threadiness != defaults.threadiness:
        log.warning(
            "-threadiness is ignored: each Canary runs in its own task, so Canaries never wait "
            "for a free worker"
        )
