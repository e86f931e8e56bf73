"""What every workload controller shares: its clients and options, and (for kinds with no
replicas of their own to manage) the no-op scaler, config and finalizer steps.

`ControllerCore` holds the client, the reader and the options; `UnscaledController` adds the
steps of `contract.WorkloadController` that a Service or a Knative Service leaves alone
(nothing to scale, no tracked configs, nothing to restore) and the target-changed check
from its `revision`.
"""

from __future__ import annotations

from flagger import plugins
from flagger.api import canary as canary_api
from flagger.api import status as status_api
from flagger.kube import client as kube_client
from flagger.workloads import configs, contract, revision, workload_options

__all__ = ["FIRST_RUN_PHASES", "ControllerCore", "UnscaledController"]

#: The phases in which a Canary's target is being set up for the first time.
FIRST_RUN_PHASES = (None, status_api.CanaryPhase.NEW, status_api.CanaryPhase.INITIALIZING)


class ControllerCore:
    """The client, the reader and the options of a workload controller."""

    def __init__(
        self,
        kube: kube_client.Kube,
        settings: workload_options.Options | None = None,
        reader: plugins.Reader | None = None,
    ) -> None:
        self.kube = kube
        #: Where the controller reads objects: a watch cache when given, else the client.
        self.reader: plugins.Reader = reader if reader is not None else kube
        self.options = settings or workload_options.Options()


class UnscaledController(ControllerCore):
    """A controller whose target has no scaler, no tracked configs and nothing to finalize."""

    async def revision(self, canary: canary_api.Canary) -> contract.Revision:
        raise NotImplementedError

    async def has_target_changed(self, canary: canary_api.Canary) -> bool:
        status = canary.status
        return revision.has_changed(
            (await self.revision(canary)).spec_hash,
            status.last_applied_spec if status else None,
            status.last_promoted_spec if status else None,
        )

    async def have_dependencies_changed(self, canary: canary_api.Canary) -> configs.ConfigChanges:
        return configs.ConfigChanges(False)

    async def reconcile_primary_scaler(
        self, canary: canary_api.Canary, *, init: bool
    ) -> str | None:
        return None

    async def pause_target_scaler(self, canary: canary_api.Canary) -> None:
        return None

    async def resume_target_scaler(self, canary: canary_api.Canary) -> None:
        return None

    async def scale_to_zero(self, canary: canary_api.Canary) -> None:
        return None

    async def scale_from_zero(self, canary: canary_api.Canary) -> None:
        return None

    async def finalize(self, canary: canary_api.Canary) -> None:
        return None
