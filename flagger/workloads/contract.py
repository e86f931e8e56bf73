"""The workload controller contract and its results.

Flagger's `canary.Controller` interface, async and side-effect honest: each method reads and
writes the workload objects through `flagger.kube.client.Kube` and *returns* what the caller
needs (readiness verdicts, hashes, tracked configs, log lines); none of them writes the Canary
status or emits events, which the canary controller does with Flagger's wording:

    result = await workload.promote(canary)
    log.info(f"Copying {target}.{ns} template spec to {result.primary}.{ns}")

Implementations: one per row of `kinds.KINDS` (`deployment.DeploymentController`, ...).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from flagger.api import canary as canary_api
from flagger.workloads import configs, metadata, readiness

__all__ = ["Initialization", "Promotion", "Revision", "WorkloadController"]


@dataclasses.dataclass(frozen=True)
class Initialization:
    """What `initialize` did and whether the primary is ready to take traffic.

    `readiness` is always ready after the first initialization (phase past Initializing) or
    with `skipAnalysis`; otherwise it is the primary's readiness (a non-retriable verdict
    means roll back).
    """

    primary_created: bool
    readiness: readiness.Readiness
    log_lines: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Promotion:
    """What `promote` copied: the primary's name and the `-primary` configs written."""

    primary: str
    log_lines: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Revision:
    """The target's current revision: `status.lastAppliedSpec` and `status.trackedConfigs`."""

    spec_hash: str
    tracked_configs: dict[str, str]


class WorkloadController(Protocol):
    """Flagger's workload controller for one target kind (all methods are async)."""

    async def get_metadata(self, canary: canary_api.Canary) -> metadata.Metadata:
        """The selector label, its value and (`portDiscovery`) the extra container ports."""
        ...

    async def initialize(self, canary: canary_api.Canary) -> Initialization:
        """Create `<target>-primary` and the `-primary` configs when missing; on the first run
        (phase empty or Initializing, analysis not skipped) report the primary's readiness."""
        ...

    async def is_primary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        """Readiness of `<target>-primary` with `primaryReadyThreshold`."""
        ...

    async def is_canary_ready(self, canary: canary_api.Canary) -> readiness.Readiness:
        """Readiness of the target with `canaryReadyThreshold`."""
        ...

    async def promote(self, canary: canary_api.Canary) -> Promotion:
        """Copy the target's pod template (configs renamed) and settings into the primary."""
        ...

    async def revision(self, canary: canary_api.Canary) -> Revision:
        """The current template hash and tracked config checksums (for the status)."""
        ...

    async def primary_matches_target(self, canary: canary_api.Canary) -> bool:
        """True when the primary already runs the target's revision and configs (modulo the
        `-primary` renames): a switch-over from Flagger (Go) needs no new analysis."""
        ...

    async def has_target_changed(self, canary: canary_api.Canary) -> bool:
        """True when the template hash is a new revision (see `revision.has_changed`)."""
        ...

    async def have_dependencies_changed(self, canary: canary_api.Canary) -> configs.ConfigChanges:
        """Whether tracked ConfigMaps/Secrets differ from `status.trackedConfigs`."""
        ...

    async def reconcile_primary_scaler(
        self, canary: canary_api.Canary, *, init: bool
    ) -> str | None:
        """Create/update the primary's autoscaler (`<hpa>-primary` or KEDA `<so>-primary`, by
        `autoscalerRef.kind`); a log line when something was written."""
        ...

    async def pause_target_scaler(self, canary: canary_api.Canary) -> None:
        """Flagger's `PauseTargetScaler`: annotate the target's KEDA ScaledObject with
        `autoscaling.keda.sh/paused-replicas: "0"`; nothing for an HPA or no autoscaler."""
        ...

    async def resume_target_scaler(self, canary: canary_api.Canary) -> None:
        """Flagger's `ResumeTargetScaler`: remove that annotation; nothing for an HPA."""
        ...

    async def scale_to_zero(self, canary: canary_api.Canary) -> None:
        """Stop the target's pods."""
        ...

    async def scale_from_zero(self, canary: canary_api.Canary) -> None:
        """Start the target's pods again."""
        ...

    async def finalize(self, canary: canary_api.Canary) -> None:
        """`revertOnDeletion`: give the target back the primary's capacity."""
        ...
