"""``revertOnDeletion``: the Canary's finalizer, and giving the target back its traffic
when the Canary is deleted."""

from __future__ import annotations

from typing import Any

from flagger.analysis import engine
from flagger.api import canary as canary_api
from flagger.api import status as status_api
from flagger.controller import act, status_writer
from flagger.controller import shell as shell_api
from flagger.kube import errors as kube_errors
from flagger.workloads import controller as workloads

FINALIZER = "finalizer.flagger.app"


async def handle_finalizer(
    shell: shell_api.Shell, canary: canary_api.Canary, raw: dict[str, Any]
) -> bool:
    """``revertOnDeletion``: keep the finalizer on the Canary, and when it is deleted give the
    target back its traffic before letting it go. True when the tick is done."""
    meta = raw.get("metadata") or {}
    finalizers: list[str] = list(meta.get("finalizers") or [])
    ours = FINALIZER in finalizers
    wanted = bool(canary.spec.revert_on_deletion)
    if not meta.get("deletionTimestamp"):
        if wanted != ours:
            changed = (
                [*finalizers, FINALIZER] if wanted else [f for f in finalizers if f != FINALIZER]
            )
            await shell.kube.patch(
                shell_api.API_VERSION,
                "Canary",
                canary.name,
                canary.namespace,
                {
                    "metadata": {
                        "finalizers": changed,
                        "resourceVersion": meta.get("resourceVersion"),
                    }
                },
            )
        return False
    if not ours:
        return True  # being deleted, nothing of ours to undo
    phase = canary.status.phase if canary.status else None
    if phase is not status_api.CanaryPhase.TERMINATING:
        status = (canary.status or status_api.CanaryStatus()).model_copy()
        status.phase = status_api.CanaryPhase.TERMINATING
        await status_writer.write(shell.kube, canary.name, canary.namespace, status.to_dict())
        shell.recorder.record_info(canary, f"Terminating canary {canary.name}.{canary.namespace}")
    ref = canary.spec.target_ref
    if await shell.kube.get(ref.api_version, ref.kind, ref.name, canary.namespace) is None:
        await _release(shell, canary, f"{ref.kind} {ref.name}.{canary.namespace} is gone")
        return True
    try:
        return await _revert(shell, canary)
    except kube_errors.ApiError as exc:
        if "being terminated" not in exc.message:  # Kubernetes' NamespaceTerminating refusal
            raise
        await _release(shell, canary, f"namespace {canary.namespace} is being deleted")
        return True


async def _release(shell: shell_api.Shell, canary: canary_api.Canary, why: str) -> None:
    """Let the Canary go without a revert: nothing is left to revert to. A finalizer must never
    block the deletion of a Canary, or of its namespace, forever."""
    shell.recorder.record_warning(
        canary,
        f"Releasing finalizer of {canary.name}.{canary.namespace} without reverting: {why}",
    )
    await _drop_finalizer(shell, canary)


async def _drop_finalizer(shell: shell_api.Shell, canary: canary_api.Canary) -> None:
    fresh = await shell.kube.get(shell_api.API_VERSION, "Canary", canary.name, canary.namespace)
    if fresh is not None:
        fresh_meta = fresh.get("metadata") or {}
        await shell.kube.patch(
            shell_api.API_VERSION,
            "Canary",
            canary.name,
            canary.namespace,
            {
                "metadata": {
                    "finalizers": [f for f in fresh_meta.get("finalizers") or [] if f != FINALIZER],
                    "resourceVersion": fresh_meta.get("resourceVersion"),
                }
            },
        )


async def _revert(shell: shell_api.Shell, canary: canary_api.Canary) -> bool:
    """Give the target back its traffic, then drop the finalizer. True (the tick is done)."""
    workload = workloads.for_canary(shell.kube, canary, shell.workload_settings)
    # Flagger resumes a KEDA ScaledObject paused at zero, or the target would stay stopped
    await workload.resume_target_scaler(canary)
    await workload.finalize(canary)
    ready = await workload.is_canary_ready(canary)
    if not ready.ready:
        shell_api.log.info(
            f"Waiting for {canary.spec.target_ref.name}.{canary.namespace} to be ready "
            f"before reverting: {ready.message}",
            canary=canary,
        )
        return True
    await (await act.service_router(shell, canary, workload)).finalize(canary)
    provider = engine.effective_provider(canary, shell.options.mesh_provider)
    await act.ReportedRouter(provider, shell.installed.router(provider, shell.context)).finalize(
        canary
    )
    await _drop_finalizer(shell, canary)
    shell_api.log.info(f"Finalization complete for {canary.name}.{canary.namespace}", canary=canary)
    shell.recorder.record_info(canary, f"Terminated canary {canary.name}.{canary.namespace}")
    return True
