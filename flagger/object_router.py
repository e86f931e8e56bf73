"""The shape most routers share: the weights live in one object per Canary.

A :class:`ObjectRouter` keeps one object (Contour's HTTPProxy, Gloo's RouteTable, Traefik's
TraefikService, Kuma's TrafficRoute, ...) named after the apex Service:

- ``reconcile`` creates it, or rewrites it when more than its weights changed
  (:func:`flagger.router_helpers.create_or_update`);
- ``set_routes`` writes the spec routing the new weights, only when it differs;
- ``get_routes`` reads the weights back from its spec;
- ``finalize`` gives a taken-over object back the spec it had
  (:func:`flagger.router_helpers.give_back`).

A subclass names the object (:attr:`~ObjectRouter.api_version`, :attr:`~ObjectRouter.kind`) and
provides the pure parts: :meth:`~ObjectRouter.desired`, :meth:`~ObjectRouter.plan`,
:meth:`~ObjectRouter.routed_spec`, :meth:`~ObjectRouter.read_routes` and, when the provider
cannot route everything, :meth:`~ObjectRouter.check_supported`. Errors are
:class:`flagger.plugins.RouterError` naming the object (``<Kind> <name>.<namespace>``), worded as
Flagger's.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from flagger import router_helpers
from flagger.api import canary as canary_api

__all__ = ["ObjectRouter"]

JSON = dict[str, Any]


class ObjectRouter:
    """A router whose weights live in one object per Canary (implements
    :class:`flagger.plugins.Router`); see the module docstring for what a subclass provides."""

    #: The object's ``apiVersion`` and ``kind``.
    api_version: ClassVar[str]
    kind: ClassVar[str]
    #: False for a cluster-scoped object (named ``<Kind> <name>`` in errors).
    namespaced: ClassVar[bool] = True
    #: How a failed read is worded after the object's name.
    get_error: ClassVar[str] = "get query error"
    #: The error for 0/0 weights (``where``, ``name``, ``namespace`` filled in); ``None``: no
    #: such check. Flagger's Gloo and Traefik routers name the object ``RoutingRule`` there.
    no_weights_error: ClassVar[str | None] = "{where} update failed: no valid weights"
    #: The logger of the provider's module.
    log: ClassVar[logging.Logger] = logging.getLogger(__name__)

    def __init__(self, kube: router_helpers.KubeClient, *, set_owner_refs: bool = True) -> None:
        self.kube = kube
        self.set_owner_refs = set_owner_refs

    # --- what a subclass provides ---------------------------------------------------------

    def check_supported(self, canary: canary_api.Canary) -> None:
        """Raise :class:`flagger.router_helpers.UnsupportedFeature` for what the provider
        cannot route (everything is routable unless a subclass says otherwise)."""

    def desired(self, canary: canary_api.Canary) -> JSON:
        """The object created when there is none."""
        raise NotImplementedError

    def plan(self, canary: canary_api.Canary, existing: JSON) -> JSON | None:
        """The object to write over ``existing``, or ``None`` when only the weights differ."""
        raise NotImplementedError

    def routed_spec(
        self, canary: canary_api.Canary, spec: JSON, primary_weight: int, canary_weight: int
    ) -> JSON:
        """The spec routing these weights, from the object's current ``spec``."""
        raise NotImplementedError

    def read_routes(self, canary: canary_api.Canary, spec: JSON) -> tuple[int, int, bool]:
        """The (primary, canary, mirrored) weights the object's ``spec`` routes."""
        raise NotImplementedError

    def check_weights(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int
    ) -> None:
        """Refuse to route nothing at all (0/0), as Flagger does (see :attr:`no_weights_error`)."""
        if self.no_weights_error is not None and primary_weight == 0 and canary_weight == 0:
            where, name = self.where(canary), self.name(canary)
            raise router_helpers.RouterError(
                self.no_weights_error.format(where=where, name=name, namespace=canary.namespace)
            )

    def name(self, canary: canary_api.Canary) -> str:
        """The object's name: the apex Service's."""
        return router_helpers.service_names(canary)[0]

    def where(self, canary: canary_api.Canary) -> str:
        """``<Kind> <name>.<namespace>`` (``<Kind> <name>`` when cluster-scoped)."""
        name = self.name(canary)
        return (
            f"{self.kind} {name}.{canary.namespace}" if self.namespaced else f"{self.kind} {name}"
        )

    # --- the router -----------------------------------------------------------------------

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create the object, or update it when more than its weights changed."""
        self.check_supported(canary)
        await router_helpers.create_or_update(
            self.kube,
            canary,
            await self.get(canary),
            self.where(canary),
            desired=lambda: self.desired(canary),
            plan=lambda found: self.plan(canary, found),
            log=self.log,
        )

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Route ``primary_weight``/``canary_weight`` percent (A/B: of matching requests)."""
        self.check_supported(canary)
        self.check_weights(canary, primary_weight, canary_weight)
        existing = await self.must_get(canary)
        spec = self.routed_spec(
            canary, dict(existing.get("spec") or {}), primary_weight, canary_weight
        )
        if spec != existing.get("spec"):
            await router_helpers.write(
                self.kube.replace, {**existing, "spec": spec}, f"{self.where(canary)} update error"
            )

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """The weights the object routes."""
        existing = await self.must_get(canary)
        return self.read_routes(canary, dict(existing.get("spec") or {}))

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Give a taken-over object back the spec it had."""
        existing = await self.get(canary)
        if existing is not None:
            await self.give_back(canary, existing)

    async def give_back(self, canary: canary_api.Canary, existing: JSON) -> bool:
        """Write back the spec kept when the object was taken over (warning when none was
        kept for an object that is not the Canary's); True when it wrote."""
        return await router_helpers.give_back(
            self.kube,
            canary,
            existing,
            router_helpers.original_spec(existing, self.kind, namespaced=self.namespaced),
            self.where(canary),
            log=None if router_helpers.controlled_by(existing, canary) else self.log,
        )

    async def get(self, canary: canary_api.Canary) -> JSON | None:
        """The object, or ``None`` when there is none."""
        namespace = canary.namespace if self.namespaced else None
        try:
            return await self.kube.get(self.api_version, self.kind, self.name(canary), namespace)
        except Exception as exc:
            raise router_helpers.RouterError(
                f"{self.where(canary)} {self.get_error}: {exc}"
            ) from exc

    async def must_get(self, canary: canary_api.Canary) -> JSON:
        """The object; a :class:`flagger.plugins.RouterError` when there is none."""
        found = await self.get(canary)
        if found is None:
            raise router_helpers.RouterError(f"{self.where(canary)} {self.get_error}: not found")
        return found
