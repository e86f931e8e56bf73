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

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api

__all__ = [
    "API_VERSION",
    "NAME",
    "TraefikRouter",
    "UnsupportedFeature",
    "check_supported",
    "flagger_provides",
    "flagger_router",
    "original_spec",
    "plan_traefik_service_update",
    "read_routes",
    "traefik_service",
    "traefik_service_spec",
]

NAME = "traefik"
API_VERSION = "traefik.io/v1alpha1"

AB_PROVIDERS = (
    "istio",
    "appmesh",
    "appmesh:v1beta2",
    "contour",
    "gloo",
    "nginx",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
)
MIRROR_PROVIDERS = ("istio", "gatewayapi:v1", "gatewayapi:v1beta1")
AFFINITY_PROVIDERS = ("istio", "gatewayapi:v1", "gatewayapi:v1beta1")

_log = logging.getLogger(__name__)
JSON = dict[str, Any]


#: A Canary asks Traefik for something a weighted TraefikService cannot do.
UnsupportedFeature = router_helpers.UnsupportedFeature
#: The providers named in the error, for what a TraefikService cannot do.
ALTERNATIVES = {
    router_helpers.AB_TESTING: AB_PROVIDERS,
    router_helpers.MIRRORING: MIRROR_PROVIDERS,
    router_helpers.SESSION_AFFINITY: AFFINITY_PROVIDERS,
}


def check_supported(canary: canary_api.Canary) -> None:
    """Raise :class:`UnsupportedFeature` for A/B testing, mirroring or session affinity."""
    router_helpers.refuse_first(
        canary,
        NAME,
        [
            router_helpers.Refusal(feature, ALTERNATIVES[feature])
            for feature in router_helpers.beyond_weights(canary)
        ],
    )


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
    apex, _, _ = router_helpers.service_names(canary)
    labels, annotations = router_helpers.apex_metadata(canary)
    metadata: JSON = {
        "name": apex,
        "namespace": canary.namespace,
        "labels": labels,
        "annotations": annotations,
    }
    if not labels:
        del metadata["labels"]
    if owner_refs:
        metadata["ownerReferences"] = [router_helpers.owner_reference(canary)]
    return {
        "apiVersion": API_VERSION,
        "kind": "TraefikService",
        "metadata": metadata,
        "spec": traefik_service_spec(canary),
    }


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
    labels, annotations = router_helpers.apex_metadata(canary)
    return router_helpers.plan_update(
        existing,
        want,
        owned=router_helpers.controlled_by(existing, canary),
        comparable=_without_weights,
        keep=_keep_weights,
        annotations=annotations,
        labels=labels,
    )


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


class TraefikRouter:
    """Reconciles a canary's TraefikService and moves its weights."""

    def __init__(self, kube: router_helpers.KubeClient, *, set_owner_refs: bool = True) -> None:
        self.kube = kube
        self.set_owner_refs = set_owner_refs

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create the TraefikService, or update it when more than its weights changed."""
        check_supported(canary)
        where = self._where(canary)
        existing = await self._get(canary)
        await router_helpers.create_or_update(
            self.kube,
            canary,
            existing,
            where,
            desired=lambda: traefik_service(canary, owner_refs=self.set_owner_refs),
            plan=lambda found: plan_traefik_service_update(canary, found),
            log=_log,
        )

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Route ``primary_weight``/``canary_weight`` percent."""
        check_supported(canary)
        apex, _, _ = router_helpers.service_names(canary)
        if primary_weight == 0 and canary_weight == 0:
            raise router_helpers.RouterError(
                f"RoutingRule {apex}.{canary.namespace} update failed: no valid weights"
            )
        existing = await self._must_get(canary)
        spec = router_helpers.deep_copy(dict(existing.get("spec") or {}))
        spec.setdefault("weighted", {})["services"] = traefik_service_spec(
            canary, primary_weight, canary_weight
        )["weighted"]["services"]
        if spec != existing.get("spec"):
            await router_helpers.write(
                self.kube.replace, {**existing, "spec": spec}, f"{self._where(canary)} update error"
            )

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """The weights the TraefikService routes."""
        existing = await self._must_get(canary)
        return read_routes(canary, existing.get("spec") or {})

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Give a taken-over TraefikService back the spec it had."""
        existing = await self._get(canary)
        if existing is None:
            return
        await router_helpers.give_back(
            self.kube,
            canary,
            existing,
            original_spec(existing),
            self._where(canary),
            log=None if router_helpers.controlled_by(existing, canary) else _log,
        )

    async def _get(self, canary: canary_api.Canary) -> JSON | None:
        apex, _, _ = router_helpers.service_names(canary)
        try:
            return await self.kube.get(API_VERSION, "TraefikService", apex, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(f"{self._where(canary)} query error: {exc}") from exc

    async def _must_get(self, canary: canary_api.Canary) -> JSON:
        found = await self._get(canary)
        if found is None:
            raise router_helpers.RouterError(f"{self._where(canary)} query error: not found")
        return found

    @staticmethod
    def _where(canary: canary_api.Canary) -> str:
        return f"TraefikService {router_helpers.service_names(canary)[0]}.{canary.namespace}"


@plugins.hookimpl
def flagger_provides() -> list[plugins.Provided]:
    """This module serves the ``traefik`` routing provider."""
    return [plugins.Provided(plugins.Kind.ROUTER, NAME)]


@plugins.hookimpl
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
