"""The kinds the daemon keeps in watch caches: one list, read by the daemon (which caches these)
and by the RBAC generator (whose ``get`` on them is used only on the slow read-through path).

A tick reads Canaries, their targets, Services, MetricTemplates and AlertProviders from these
caches (``flagger.kube.cache.CachedKube``); it reads through to the API server only when a cache
lags behind the daemon's own write or the object is outside the cached namespace.
"""

from __future__ import annotations

import dataclasses
import enum

from flagger.api import alert_provider, canary, common, metric_template
from flagger.workloads import kinds

__all__ = ["CACHED", "CachedKind", "Wakes"]


class Wakes(enum.Enum):
    """What a change of a cached object wakes."""

    CANARY = "canary"  # the Canary's own task
    WORKLOAD = "workload"  # the tasks of the Canaries targeting it
    NOTHING = "nothing"  # read at the next tick


@dataclasses.dataclass(frozen=True)
class CachedKind:
    """One cached kind: its API version, kind and resource name, and what a change wakes."""

    api_version: str
    kind: str
    plural: str
    wakes: Wakes = Wakes.NOTHING

    @property
    def group(self) -> str:
        """The API group (``""`` for the core group)."""
        return self.api_version.rpartition("/")[0]


#: Every kind the daemon caches, in the order it starts the caches.
CACHED: tuple[CachedKind, ...] = (
    CachedKind(common.API_VERSION, canary.KIND, "canaries", Wakes.CANARY),
    *(CachedKind(k.api_version, k.kind, k.plural, Wakes.WORKLOAD) for k in kinds.WATCHED_KINDS),
    CachedKind("v1", "Service", "services"),
    # The analysis's references (checked every tick, read at every check).
    CachedKind(common.API_VERSION, metric_template.KIND, "metrictemplates"),
    CachedKind(common.API_VERSION, alert_provider.KIND, "alertproviders"),
)
