"""The workload controller for a Canary's target, chosen by ``targetRef`` from
:data:`flagger.workloads.kinds.KINDS`.

The contract every controller satisfies is :mod:`flagger.workloads.contract`.
"""

from __future__ import annotations

from flagger import plugins
from flagger.api import canary as canary_api
from flagger.kube import client as kube_client
from flagger.workloads import contract, kinds, workload_errors, workload_options

__all__ = ["for_canary"]


def for_canary(
    kube: kube_client.Kube,
    canary: canary_api.Canary,
    settings: workload_options.Options | None = None,
    *,
    reader: plugins.Reader | None = None,
) -> contract.WorkloadController:
    """The controller for the Canary's target; reads go through ``reader`` when given (a watch
    cache), else through ``kube``."""
    ref = canary.spec.target_ref
    row = kinds.for_target(ref.api_version, ref.kind)
    if row is None:
        raise workload_errors.WorkloadError(
            f"workload kind {ref.kind} is not handled by flagger.workloads"
        )
    return row.controller(kube, settings or workload_options.Options(), reader)
