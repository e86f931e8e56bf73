"""The ``apisix`` router: a weighted canary copy of the user's ApisixRoute.

The Canary names the user's ApisixRoute in ``spec.routeRef`` (``apisix.apache.org/v2``). For a
route ``podinfo`` whose HTTP route ``rule1`` has the single backend ``podinfo`` (the apex
Service), Flagger keeps a second ApisixRoute ``podinfo-podinfo-canary``
(``<routeRef>-<svc>-canary``) with the routeRef's labels, annotations and spec, except that
``spec.http`` holds only that HTTP route, with priority 10000 (so it wins over the original) and
the backends ``podinfo-primary`` and ``podinfo-canary`` (same port, resolve granularity and
subset), weighted. The user's route is never modified.

``reconcile`` fails with a clear error when the route is missing, has no ``spec.http``, has no
HTTP route with the apex backend, or that route has more than one backend. It writes only when
something other than the weights changed, keeping the weights in effect. An existing
``<routeRef>-<svc>-canary`` that is not the Canary's is taken over (its spec kept in
``flagger.kubernetes.io/original-configuration``), and ``finalize`` writes it back; a canary
route Flagger created is deleted by ``finalize`` so that traffic returns to the user's route.

An ApisixRoute backend list only splits by weight: canary releases and blue/green work; A/B
testing (``analysis.match``), mirroring and session affinity are refused with
:class:`UnsupportedFeature` (Flagger would silently send *all* traffic to the canary during an
A/B run).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api

__all__ = [
    "API_VERSION",
    "MAX_PRIORITY",
    "NAME",
    "ApisixRouter",
    "UnsupportedFeature",
    "canary_route",
    "canary_route_name",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "original_spec",
    "plan_canary_route_update",
    "read_routes",
    "routed_spec",
]

NAME = "apisix"
API_VERSION = "apisix.apache.org/v2"
MAX_PRIORITY = 10000


_log = logging.getLogger(__name__)
JSON = dict[str, Any]


class KubeClient(router_helpers.KubeClient, Protocol):
    """The Kube calls this router makes (it also deletes the canary route)."""

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> None: ...


#: A Canary asks APISIX for something a weighted ApisixRoute cannot do.
UnsupportedFeature = router_helpers.UnsupportedFeature


def check_supported(canary: canary_api.Canary) -> None:
    """Raise :class:`UnsupportedFeature` for A/B testing, mirroring or session affinity."""
    router_helpers.refuse_beyond_weights(canary, NAME)


# --- pure builders --------------------------------------------------------------------------


def _route_ref_name(canary: canary_api.Canary) -> str:
    ref = canary.spec.route_ref
    if ref is None or not ref.name:
        raise router_helpers.RouterError(
            f"canary {router_helpers.canary_id(canary)}: apisix route selector is empty "
            "(set spec.routeRef to the ApisixRoute to route through)"
        )
    return ref.name


def canary_route_name(canary: canary_api.Canary) -> str:
    """``<routeRef>-<svc>-canary``."""
    return f"{_route_ref_name(canary)}-{router_helpers.service_names(canary)[0]}-canary"


def _target_index(canary: canary_api.Canary, spec: Mapping[str, Any], backend: str) -> int:
    for index, http in enumerate(spec.get("http") or []):
        if any(b.get("serviceName") == backend for b in http.get("backends") or []):
            return index
    raise router_helpers.RouterError(
        f"Can not find {backend} backend on apisix route "
        f"{_route_ref_name(canary)}.{canary.namespace}"
    )


def canary_route(
    canary: canary_api.Canary, route_ref: Mapping[str, Any], *, owner_refs: bool = True
) -> JSON:
    """The canary ApisixRoute cloned from the routeRef object, all traffic on the primary."""
    ref_name = _route_ref_name(canary)
    where = f"APISIX route {ref_name}.{canary.namespace}"
    spec: JSON = router_helpers.deep_copy(dict(route_ref.get("spec") or {}))
    if not spec.get("http"):
        raise router_helpers.RouterError(f"{where}'s spec.http is empty")
    apex, primary, canary_name = router_helpers.service_names(canary)
    target = spec["http"][_target_index(canary, spec, apex)]
    backends = target.get("backends") or []
    if len(backends) != 1:
        raise router_helpers.RouterError(
            f"{where}'s http route {target.get('name')} only one http backend is supported"
        )
    target["priority"] = MAX_PRIORITY
    primary_backend = {**backends[0], "serviceName": primary, "weight": 100}
    canary_backend: JSON = {
        "serviceName": canary_name,
        "servicePort": primary_backend.get("servicePort"),
    }
    for key in ("resolveGranularity", "subset"):
        if primary_backend.get(key):
            canary_backend[key] = primary_backend[key]
    canary_backend["weight"] = 0
    target["backends"] = [primary_backend, canary_backend]
    spec["http"] = [target]
    ref_meta = route_ref.get("metadata") or {}
    meta = (ref_meta.get("labels"), ref_meta.get("annotations"))
    return router_helpers.new_object(
        canary, API_VERSION, "ApisixRoute", spec, meta, owner_refs, name=canary_route_name(canary)
    )


def plan_canary_route_update(
    canary: canary_api.Canary, existing: Mapping[str, Any], desired: Mapping[str, Any]
) -> JSON | None:
    """The canary route to write over ``existing`` so its spec is ``desired``'s, or ``None``
    when only backend weights differ (the weights in effect are kept)."""
    weights = (_without_weights, _keep_weights)
    return router_helpers.plan_routed_update(
        canary, existing, dict(desired.get("spec") or {}), weights
    )


def routed_spec(
    canary: canary_api.Canary, spec: Mapping[str, Any], primary_weight: int, canary_weight: int
) -> JSON:
    """The canary route's ``spec`` with these backend weights."""
    _, primary, canary_name = router_helpers.service_names(canary)
    new: JSON = router_helpers.deep_copy(dict(spec))
    http = new["http"][_target_index(canary, new, primary)]
    for backend in http.get("backends") or []:
        if backend.get("serviceName") == primary:
            backend["weight"] = primary_weight
        elif backend.get("serviceName") == canary_name:
            backend["weight"] = canary_weight
    return new


def read_routes(canary: canary_api.Canary, spec: Mapping[str, Any]) -> tuple[int, int, bool]:
    """The (primary, canary, mirrored) weights: the primary's, and the rest to the canary."""
    _, primary, _ = router_helpers.service_names(canary)
    http = (spec.get("http") or [])[_target_index(canary, spec, primary)]
    return router_helpers.primary_share(
        http.get("backends") or [], primary, name=lambda b: b.get("serviceName")
    )


def original_spec(obj: Mapping[str, Any]) -> JSON | None:
    """The spec kept before Flagger took the canary route over, or ``None``."""
    return router_helpers.original_spec(obj, "APISIX route")


# --- the router -----------------------------------------------------------------------------


class ApisixRouter:
    """Keeps a canary's weighted copy of its ApisixRoute."""

    def __init__(self, kube: KubeClient, *, set_owner_refs: bool = True) -> None:
        self.kube = kube
        self.set_owner_refs = set_owner_refs

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create the canary route from the routeRef, or update it when more than its weights
        changed."""
        check_supported(canary)
        ref_name = _route_ref_name(canary)
        route_ref = await self._get(canary, ref_name)
        if route_ref is None:
            raise router_helpers.RouterError(
                f"APISIX route {ref_name}.{canary.namespace} get query error: not found "
                "(spec.routeRef)"
            )
        desired = canary_route(canary, route_ref, owner_refs=self.set_owner_refs)
        name = desired["metadata"]["name"]
        existing = await self._get(canary, name)
        if existing is None:
            await router_helpers.write(
                self.kube.create, desired, f"APISIX route {name}.{canary.namespace} create error"
            )
            _log.info(
                "APISIX route %s.%s created",
                name,
                canary.namespace,
                extra={"canary": router_helpers.canary_id(canary)},
            )
            return
        updated = plan_canary_route_update(canary, existing, desired)
        if updated is not None:
            await router_helpers.write(
                self.kube.replace, updated, f"APISIX route {name}.{canary.namespace} update error"
            )
            _log.info(
                "Apisix route %s updated", name, extra={"canary": router_helpers.canary_id(canary)}
            )

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Set the weights of the canary route's backends."""
        check_supported(canary)
        apex, _, _ = router_helpers.service_names(canary)
        if primary_weight == 0 and canary_weight == 0:
            raise router_helpers.RouterError(
                f"RoutingRule {apex}.{canary.namespace} update failed: no valid weights"
            )
        existing = await self._must_get(canary)
        spec = routed_spec(canary, existing.get("spec") or {}, primary_weight, canary_weight)
        if spec != existing.get("spec"):
            await router_helpers.write(
                self.kube.replace,
                {**existing, "spec": spec},
                f"apisix route {apex}.{canary.namespace} update error",
            )

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """The weights of the canary route's backends."""
        existing = await self._must_get(canary)
        return read_routes(canary, existing.get("spec") or {})

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Delete the canary route Flagger created, or give a taken-over one its spec back."""
        name = canary_route_name(canary)
        existing = await self._get(canary, name)
        if existing is None:
            return
        stored = original_spec(existing)
        if stored is not None:
            await router_helpers.give_back(
                self.kube, canary, existing, stored, f"APISIX route {name}.{canary.namespace}"
            )
            return
        if router_helpers.controlled_by(existing, canary):
            try:
                await self.kube.delete(API_VERSION, "ApisixRoute", name, canary.namespace)
            except Exception as exc:
                raise router_helpers.RouterError(
                    f"APISIX route {name}.{canary.namespace} delete error: {exc}"
                ) from exc

    async def _get(self, canary: canary_api.Canary, name: str) -> JSON | None:
        try:
            return await self.kube.get(API_VERSION, "ApisixRoute", name, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(
                f"APISIX route {name}.{canary.namespace} get query error: {exc}"
            ) from exc

    async def _must_get(self, canary: canary_api.Canary) -> JSON:
        name = canary_route_name(canary)
        found = await self._get(canary, name)
        if found is None:
            raise router_helpers.RouterError(
                f"apisix route {name}.{canary.namespace} query error: not found"
            )
        return found


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``apisix`` routing provider."""
    registry.router(NAME, flagger_router)
    registry.rules(NAME, plugins.route_rules("apisix.apache.org", "apisixroutes"))


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The APISIX router."""
    if name != NAME:
        return None
    return ApisixRouter(
        context.mesh_kube, set_owner_refs=not context.options.get("kubeconfig-service-mesh")
    )


# --- helpers --------------------------------------------------------------------------------


def _without_weights(spec: Mapping[str, Any]) -> JSON:
    http = []
    for route in spec.get("http") or []:
        backends = [
            {k: v for k, v in b.items() if k != "weight"} for b in route.get("backends") or []
        ]
        http.append({**route, "backends": backends})
    return {**spec, "http": http}


def _keep_weights(new: JSON, old: Mapping[str, Any]) -> None:
    """Give the backends of ``new`` the weights they have in ``old`` (where they have one)."""
    weights = {
        b.get("serviceName"): b.get("weight")
        for http in old.get("http") or []
        for b in http.get("backends") or []
    }
    for http in new.get("http") or []:
        for backend in http.get("backends") or []:
            if weights.get(backend.get("serviceName")) is not None:
                backend["weight"] = weights[backend["serviceName"]]
