"""The target kinds: one row per kind of workload a Canary's ``targetRef`` may name.

Everything that depends on the kind reads :data:`KINDS`: :func:`~flagger.workloads.controller.
for_canary` (which controller), the daemon's watches (which objects wake a Canary), the RBAC
generator (``flagger.deploy_rbac``: which rules the daemon needs) and a unit test holding the
API model's ``targetRef.kind`` values (Flagger's CRD enum) against it. Adding a kind is one
controller module (a :class:`~flagger.workloads.contract.WorkloadController`, usually a
``base.PodWorkloadController`` subclass) and one row here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from flagger import plugins
from flagger.kube import client as kube_client
from flagger.workloads import (
    contract,
    daemonset,
    deployment,
    knative,
    service,
    statefulset,
    workload_options,
)

__all__ = ["KINDS", "RBAC_KINDS", "WATCHED_KINDS", "ControllerFactory", "TargetKind", "for_target"]

#: Builds a kind's controller: (client, daemon-wide options, reader for reads or None).
ControllerFactory = Callable[
    [kube_client.Kube, workload_options.Options, plugins.Reader | None],
    contract.WorkloadController,
]


@dataclasses.dataclass(frozen=True)
class TargetKind:
    """One kind of target: its API coordinates, its controller, whether the daemon watches it
    (a change wakes the Canary) and the core RBAC rule it needs."""

    kind: str
    api_version: str
    plural: str
    controller: ControllerFactory
    #: Only a target of this API group matches (Knative's ``Service`` is not a core Service).
    exact_group: bool = False
    watched: bool = False
    #: Verbs the core role needs on the kind, and why (``deploy_rbac`` prints the reason);
    #: none when a provider overlay grants them (Knative).
    verbs: tuple[str, ...] = ()
    why: str = ""

    @property
    def group(self) -> str:
        """The API group (``""`` for the core group)."""
        return self.api_version.rpartition("/")[0]


_POD_VERBS = ("get", "list", "watch", "create", "patch")

#: Every target kind, in lookup order (Knative's ``Service`` before the core one).
KINDS: tuple[TargetKind, ...] = (
    TargetKind(
        "Deployment",
        "apps/v1",
        "deployments",
        deployment.DeploymentController,
        watched=True,
        verbs=_POD_VERBS,
        why="targets are watched and scaled; <name>-primary is created and promoted",
    ),
    TargetKind(
        "DaemonSet",
        "apps/v1",
        "daemonsets",
        daemonset.DaemonSetController,
        watched=True,
        verbs=_POD_VERBS,
        why="DaemonSet targets, as Deployments",
    ),
    TargetKind(
        statefulset.KIND,
        "apps/v1",
        "statefulsets",
        statefulset.StatefulSetController,
        watched=True,
        verbs=_POD_VERBS,
        why="StatefulSet targets (an extension), as Deployments",
    ),
    TargetKind(
        knative.KIND, knative.API_VERSION, "services", knative.KnativeController, exact_group=True
    ),
    TargetKind(service.KIND, "v1", "services", service.ServiceController),
)

#: The kinds whose changes wake a Canary: the daemon watches these.
WATCHED_KINDS: tuple[TargetKind, ...] = tuple(k for k in KINDS if k.watched)

#: The kinds with a rule in the core role, in table order.
RBAC_KINDS: tuple[TargetKind, ...] = tuple(k for k in KINDS if k.verbs)


def for_target(api_version: str, kind: str) -> TargetKind | None:
    """The row for a ``targetRef`` (first match in :data:`KINDS`), or None."""
    group = api_version.rpartition("/")[0]
    for row in KINDS:
        if row.kind == kind and (not row.exact_group or row.group == group):
            return row
    return None
