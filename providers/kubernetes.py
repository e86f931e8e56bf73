"""The ``kubernetes`` routing provider: blue/green over plain Services (Flagger's ``NopRouter``).

Plain Services cannot split traffic, so :class:`KubernetesRouter` writes nothing; Flagger runs
the analysis as blue/green and the router reports all traffic on the canary once the analysis
has started iterating. The Services themselves (``podinfo``, ``podinfo-primary``,
``podinfo-canary``) are kept by the core for every provider: :mod:`flagger.services`.

With the Canary annotation ``flagger.app/replica-split-label`` (an extension, see
:mod:`flagger.api.replica_weights`) the router splits by replicas instead: the apex Service
selects the pods of both workloads, and ``set_routes`` scales the canary to
``ceil(N * weight / 100)`` of the N replicas the two have together and the primary to the rest.
"""

from __future__ import annotations

from typing import Any

from flagger import plugins
from flagger.api import canary as canary_api
from flagger.api import replica_weights

__all__ = ["NAME", "KubernetesRouter", "flagger_register", "flagger_router"]

NAME = "kubernetes"


class KubernetesRouter:
    """The ``kubernetes`` provider's mesh router: Services alone cannot split traffic.

    It writes nothing. The analysis runs as blue/green, and the router reports all traffic on
    the primary until the first iteration, then all on the canary (Flagger's ``NopRouter``).
    The apex Service is restored by :meth:`ServiceRouter.finalize`, which the controller runs
    for every provider.
    """

    def __init__(self, kube: Any = None) -> None:
        self.kube = kube

    async def reconcile(self, canary: canary_api.Canary) -> None:
        return None

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        if self.kube is None or not replica_weights.enabled(canary.metadata):
            return None
        ref = canary.spec.target_ref
        target = await self.kube.get(ref.api_version, ref.kind, ref.name, canary.namespace)
        primary_name = f"{ref.name}-primary"
        primary = await self.kube.get(ref.api_version, ref.kind, primary_name, canary.namespace)
        if target is None or primary is None:
            raise LookupError(f"{ref.kind} {ref.name}.{canary.namespace} or its primary not found")
        total = _replicas(target) + _replicas(primary)
        parts = replica_weights.split(total, canary_weight)
        # grow the side that gains first, so that capacity never dips below the total
        order = [(primary_name, parts.primary, primary), (ref.name, parts.canary, target)]
        if parts.primary > _replicas(primary):
            order.reverse()
        for name, replicas, current in reversed(order):
            if _replicas(current) != replicas:
                await self.kube.patch(
                    ref.api_version,
                    ref.kind,
                    name,
                    canary.namespace,
                    {"spec": {"replicas": replicas}},
                )
        return None

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        if replica_weights.enabled(canary.metadata):
            weight = (canary.status.canary_weight if canary.status is not None else None) or 0
            return 100 - weight, weight, False
        iterations = canary.status.iterations if canary.status is not None else None
        if iterations:
            return 0, 100, False
        return 100, 0, False

    async def finalize(self, canary: canary_api.Canary) -> None:
        return None


def _replicas(workload: dict[str, Any]) -> int:
    replicas = (workload.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``kubernetes`` routing provider (no objects of its own: no rules)."""
    registry.router(NAME, flagger_router)
    registry.rules(NAME, ())


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The ``kubernetes`` mesh router."""
    return KubernetesRouter(context.kube) if name == NAME else None
