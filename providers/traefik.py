"""The ``traefik`` router: a weighted TraefikService.

For a canary whose apex Service is ``podinfo`` in namespace ``test`` Flagger keeps the
TraefikService ``podinfo`` (``traefik.io/v1alpha1``; the user's IngressRoute points at it)
whose ``weighted.services`` are ``podinfo-primary`` (and, while it has weight,
``podinfo-canary``) in ``test`` on ``spec.service.port``. Flagger moved from the
``traefik.containo.us`` group to ``traefik.io`` (Traefik v3 serves only the latter) and no
longer writes the old group; neither does this router.

The TraefikService carries ``spec.service.apex`` labels and annotations plus Flux's opt-outs.
``reconcile`` writes only when something other than the weights changed and then keeps the
weights in effect; an existing TraefikService that is not the Canary's is taken over, its spec
kept in ``flagger.kubernetes.io/original-configuration`` for ``finalize`` to write back.

A TraefikService only splits by weight: canary releases and blue/green work; A/B testing
(``analysis.match``), mirroring and session affinity are refused with
:class:`UnsupportedFeature` (Flagger would silently send *all* traffic to the canary during an
A/B run).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flagger import object_router, plugins, router_helpers
from flagger.api import canary as canary_api

__all__ = [
    "API_VERSION",
    "NAME",
    "TraefikRouter",
    "UnsupportedFeature",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "original_spec",
    "plan_traefik_service_update",
    "read_routes",
    "traefik_service",
    "traefik_service_spec",
]

NAME = "traefik"
API_VERSION = "traefik.io/v1alpha1"


_log = logging.getLogger(__name__)
JSON = dict[str, Any]


#: A Canary asks Traefik for something a weighted TraefikService cannot do.
UnsupportedFeature = router_helpers.UnsupportedFeature


def check_supported(canary: canary_api.Canary) -> None:
    """Raise :class:`UnsupportedFeature` for A/B testing, mirroring or session affinity."""
    router_helpers.refuse_beyond_weights(canary, NAME)


# --- pure builders --------------------------------------------------------------------------


def traefik_service_spec(
    canary: canary_api.Canary, primary_weight: int = 100, canary_weight: int = 0
) -> JSON:
    """The spec routing these weights; the canary is listed only while it has weight."""
    _, primary, canary_name = router_helpers.service_names(canary)
    services = [_backend(canary, primary, primary_weight)]
    if canary_weight > 0:
        services.append(_backend(canary, canary_name, canary_weight))
    return {"weighted": {"services": services}}


def traefik_service(canary: canary_api.Canary, *, owner_refs: bool = True) -> JSON:
    """The TraefikService ``<svc>`` Flagger creates when there is none."""
    spec, meta = traefik_service_spec(canary), router_helpers.apex_metadata(canary)
    return router_helpers.new_object(canary, API_VERSION, "TraefikService", spec, meta, owner_refs)


def plan_traefik_service_update(
    canary: canary_api.Canary, existing: Mapping[str, Any]
) -> JSON | None:
    """The TraefikService to write over ``existing``, or ``None`` when only weights differ.

    As Flagger, a TraefikService listing two services is compared with primary and canary;
    the weights in effect are kept.
    """
    _, _, canary_name = router_helpers.service_names(canary)
    old: JSON = dict(existing.get("spec") or {})
    old_services = ((old.get("weighted") or {}).get("services")) or []
    want = traefik_service_spec(canary)
    if len(old_services) == 2:
        want["weighted"]["services"].append(_backend(canary, canary_name, 100))
    metadata = router_helpers.apex_metadata(canary)
    weights = (_without_weights, _keep_weights)
    return router_helpers.plan_routed_update(canary, existing, want, weights, metadata)


def read_routes(canary: canary_api.Canary, spec: Mapping[str, Any]) -> tuple[int, int, bool]:
    """The (primary, canary, mirrored) weights: the primary's, and the rest to the canary."""
    apex, primary, _ = router_helpers.service_names(canary)
    services = ((spec.get("weighted") or {}).get("services")) or []
    if len(services) < 1:
        raise router_helpers.RouterError(
            f"TraefikService {apex}.{canary.namespace} services not found"
        )
    return router_helpers.primary_share(services, primary, name=lambda s: s.get("name"))


def original_spec(obj: Mapping[str, Any]) -> JSON | None:
    """The spec kept before Flagger took the TraefikService over, or ``None``."""
    return router_helpers.original_spec(obj, "TraefikService")


# --- the router -----------------------------------------------------------------------------


class TraefikRouter(object_router.ObjectRouter):
    """Reconciles a canary's TraefikService and moves its weights."""

    api_version, kind, log = API_VERSION, "TraefikService", _log
    get_error = "query error"
    no_weights_error = "RoutingRule {name}.{namespace} update failed: no valid weights"
    check_supported = staticmethod(check_supported)
    plan = staticmethod(plan_traefik_service_update)

    def desired(self, canary: canary_api.Canary) -> JSON:
        return traefik_service(canary, owner_refs=self.set_owner_refs)

    def routed_spec(
        self, canary: canary_api.Canary, spec: JSON, primary_weight: int, canary_weight: int
    ) -> JSON:
        """The TraefikService's spec with only its weighted services replaced."""
        routed = router_helpers.deep_copy(spec)
        routed.setdefault("weighted", {})["services"] = traefik_service_spec(
            canary, primary_weight, canary_weight
        )["weighted"]["services"]
        return routed

    def read_routes(self, canary: canary_api.Canary, spec: JSON) -> tuple[int, int, bool]:
        return read_routes(canary, spec)


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``traefik`` routing provider."""
    registry.router(NAME, flagger_router)
    registry.rules(NAME, plugins.route_rules("traefik.io", "traefikservices"))


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The Traefik router."""
    if name != NAME:
        return None
    return TraefikRouter(
        context.mesh_kube, set_owner_refs=not context.options.get("kubeconfig-service-mesh")
    )


# --- helpers --------------------------------------------------------------------------------


def _backend(canary: canary_api.Canary, name: str, weight: int) -> JSON:
    backend: JSON = {
        "name": name,
        "namespace": canary.namespace,
        "port": router_helpers.service(canary).port,
    }
    if weight:
        backend["weight"] = weight
    return backend


def _without_weights(spec: Mapping[str, Any]) -> JSON:
    weighted = dict(spec.get("weighted") or {})
    weighted["services"] = [
        {k: v for k, v in s.items() if k != "weight"} for s in weighted.get("services") or []
    ]
    return {**spec, "weighted": weighted}


def _keep_weights(new: JSON, old: Mapping[str, Any]) -> None:
    """Give the services of ``new`` the weights they have in ``old`` (where they have one)."""
    weights = {
        s.get("name"): s.get("weight") for s in ((old.get("weighted") or {}).get("services")) or []
    }
    for service in new["weighted"]["services"]:
        if weights.get(service["name"]):
            service["weight"] = weights[service["name"]]
