"""The ``kubernetes`` routing provider: blue/green over plain Services (Flagger's ``NopRouter``).

Plain Services cannot split traffic, so :class:`KubernetesRouter` writes nothing; Flagger runs
the analysis as blue/green and the router reports all traffic on the canary once the analysis
has started iterating. The Services themselves (``podinfo``, ``podinfo-primary``,
``podinfo-canary``) are kept by the core for every provider: :mod:`flagger.services`.
"""

from __future__ import annotations

from flagger import plugins
from flagger.api import canary as canary_api

__all__ = ["NAME", "KubernetesRouter", "flagger_provides", "flagger_router"]

NAME = "kubernetes"


class KubernetesRouter:
    """The ``kubernetes`` provider's mesh router: Services alone cannot split traffic.

    It writes nothing. The analysis runs as blue/green, and the router reports all traffic on
    the primary until the first iteration, then all on the canary (Flagger's ``NopRouter``).
    The apex Service is restored by :meth:`ServiceRouter.finalize`, which the controller runs
    for every provider.
    """

    async def reconcile(self, canary: canary_api.Canary) -> None:
        return None

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        return None

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        iterations = canary.status.iterations if canary.status is not None else None
        if iterations:
            return 0, 100, False
        return 100, 0, False

    async def finalize(self, canary: canary_api.Canary) -> None:
        return None


@plugins.hookimpl
def flagger_provides() -> list[plugins.Provided]:
    """This module serves the ``kubernetes`` routing provider."""
    return [plugins.Provided(plugins.Kind.ROUTER, NAME)]


@plugins.hookimpl
def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The ``kubernetes`` mesh router."""
    return KubernetesRouter() if name == NAME else None
