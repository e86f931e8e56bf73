"""Taking over Canaries from Flagger (Go) without analysing unchanged versions again.

Flagger hashes a pod template with Go's struct printer; we cannot, so the first time we see a
Canary that Flagger promoted, ``status.lastAppliedSpec`` holds a hash we would never compute and
the unchanged target reads as a new revision: with 1,000 Canaries, 1,000 needless analyses.

So when a settled Canary (Initialized or Succeeded, ``lastAppliedSpec == lastPromotedSpec``)
seems to have a new revision, we first ask the workload whether ``<target>-primary`` already
runs the target's pod template (what promotion would write there, ``flagger-id`` aside) and its
``-primary`` configs hold the originals' data. If so there is nothing new: the status takes our
hash and checksums silently (no Event, no webhook) and the tick carries on with no change. A real
change afterwards differs from the primary and is analysed as usual. (Config checksums are
Flagger's own, so they match already; the comparison covers both anyway.)

A Canary Flagger left Failed keeps a target that differs from its primary: its unchanged target
is analysed once more (we cannot tell it from a new version without Flagger's hash).
"""

from __future__ import annotations

from typing import Any

from flagger.analysis import observation
from flagger.analysis import status_editor as status_edit
from flagger.api import canary as canary_api
from flagger.api import status as status_api
from flagger.controller import status_writer
from flagger.kube import client as kube_client
from flagger.observability import logs
from flagger.workloads import contract

__all__ = ["adopt_foreign_revision"]

log = logs.get_logger(__name__)
_SETTLED = (status_api.CanaryPhase.INITIALIZED, status_api.CanaryPhase.SUCCEEDED)


async def adopt_foreign_revision(
    kube: kube_client.Kube,
    canary: canary_api.Canary,
    workload: contract.WorkloadController,
    revision: observation.Revision,
) -> canary_api.Canary:
    """The Canary, with our revision hash adopted (and written) when the change it seems to
    have is only a hash computed by someone else; else the Canary unchanged."""
    status = canary.status
    if status is None or status.phase not in _SETTLED:
        return canary
    if not status.last_applied_spec or status.last_applied_spec != status.last_promoted_spec:
        return canary
    changed_configs, _ = status_edit.changed_config(status, revision)
    if not status_edit.target_changed(status, revision) and not changed_configs:
        return canary
    if not await workload.primary_matches_target(canary):
        return canary
    update: dict[str, Any] = {
        "last_applied_spec": revision.spec_hash,
        "last_promoted_spec": revision.spec_hash,
    }
    if revision.configs is not None:
        update["tracked_configs"] = dict(revision.configs)
    adopted = status.model_copy(update=update)
    await status_writer.write(kube, canary.name, canary.namespace, adopted.to_dict())
    log.debug(
        f"revision {status.last_applied_spec} adopted as {revision.spec_hash}: "
        "the primary already runs the target's template",
        canary=canary,
    )
    return canary.model_copy(update={"status": adopted})
