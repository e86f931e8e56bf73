"""The ``kuma`` router: one cluster-scoped, weighted TrafficRoute.

Kuma names a Service's traffic by its ``kuma.io/service`` tag, ``<svc>_<namespace>_svc_<port>``.
For a canary whose apex Service is ``podinfo`` in ``test`` on port 9898 Flagger keeps the
TrafficRoute ``podinfo`` (``kuma.io/v1alpha1``, **cluster-scoped**, so the name is not qualified
by namespace) in the mesh named by the Canary's ``kuma.io/mesh`` annotation (default
``default``, the top-level ``mesh`` field)::

    spec:
      sources: [{match: {kuma.io/service: "*"}}]
      destinations: [{match: {kuma.io/service: podinfo_test_svc_9898}}]
      conf:
        split:
        - {weight: 100, destination: {kuma.io/service: podinfo-primary_test_svc_9898}}
        - {weight: 0, destination: {kuma.io/service: podinfo-canary_test_svc_9898}}

The TrafficRoute is annotated with ``spec.service.apex.annotations`` (when there are none, with
``<port>.service.kuma.io: http``) plus Flux's opt-outs, and owned by the Canary.

A TrafficRoute splits by weight only: A/B testing (``analysis.match``), traffic mirroring
(``analysis.mirror``) and session affinity (``analysis.sessionAffinity``) raise
:class:`UnsupportedByProvider`.

``reconcile`` writes only when the spec differs from the wanted one apart from the weights.
A TrafficRoute that exists already and is not the Canary's is taken over: its spec is first
kept in ``flagger.kubernetes.io/original-configuration`` (unless kubectl's
last-applied-configuration has it), and ``finalize`` writes it back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flagger import object_router, plugins, router_helpers
from flagger.api import canary as canary_api

__all__ = [
    "API_VERSION",
    "KIND",
    "NAME",
    "KumaRouter",
    "UnsupportedByProvider",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "original_spec",
    "plan_traffic_route_update",
    "read_routes",
    "routed_spec",
    "service_tag",
    "traffic_route",
    "traffic_route_spec",
]

NAME = "kuma"
API_VERSION = "kuma.io/v1alpha1"
KIND = "TrafficRoute"
SERVICE_TAG = "kuma.io/service"
MESH_ANNOTATION = "kuma.io/mesh"
DEFAULT_MESH = "default"

AB_PROVIDERS = ("istio", "appmesh:v1beta2", "contour", "gloo", "nginx", "gatewayapi:v1")
MIRROR_PROVIDERS = ("istio", "gatewayapi:v1")
AFFINITY_PROVIDERS = ("istio", "gatewayapi:v1")
#: What a TrafficRoute cannot do: the providers that can, and what else to do.
REFUSALS = {
    router_helpers.AB_TESTING: router_helpers.Refusal(
        router_helpers.AB_TESTING,
        AB_PROVIDERS,
        "or remove analysis.match and use stepWeight for a weighted canary (a TrafficRoute "
        "splits by weight only)",
    ),
    router_helpers.MIRRORING: router_helpers.Refusal(
        router_helpers.MIRRORING, MIRROR_PROVIDERS, "or remove analysis.mirror"
    ),
    router_helpers.SESSION_AFFINITY: router_helpers.Refusal(
        router_helpers.SESSION_AFFINITY, AFFINITY_PROVIDERS, "or remove analysis.sessionAffinity"
    ),
}

_log = logging.getLogger(__name__)
JSON = dict[str, Any]


#: The Canary asks the ``kuma`` provider for something it cannot do.
UnsupportedByProvider = router_helpers.UnsupportedFeature


# --- pure builders --------------------------------------------------------------------------


def service_tag(canary: canary_api.Canary, service: str) -> str:
    """Kuma's ``kuma.io/service`` tag of a Service of the canary: ``<svc>_<ns>_svc_<port>``."""
    port = canary.spec.service.port if canary.spec.service is not None else 0
    return f"{service}_{canary.namespace}_svc_{port}"


def check_supported(canary: canary_api.Canary) -> None:
    """Raise :class:`UnsupportedByProvider` when the canary needs more than weighted routing."""
    router_helpers.refuse_first(
        canary, NAME, [REFUSALS[feature] for feature in router_helpers.beyond_weights(canary)]
    )


def traffic_route_spec(
    canary: canary_api.Canary, primary_weight: int = 100, canary_weight: int = 0
) -> JSON:
    """The TrafficRoute spec for these weights (the primary split first, as Flagger writes)."""
    apex, _, _ = router_helpers.service_names(canary)
    return {
        "sources": [{"match": {SERVICE_TAG: "*"}}],
        "destinations": [{"match": {SERVICE_TAG: service_tag(canary, apex)}}],
        "conf": _conf(canary, primary_weight, canary_weight),
    }


def traffic_route(canary: canary_api.Canary, *, owner_refs: bool = True) -> JSON:
    """The TrafficRoute ``<svc>`` Flagger creates when there is none."""
    apex, _, _ = router_helpers.service_names(canary)
    svc = canary.spec.service
    custom = svc.apex.annotations if svc is not None and svc.apex is not None else None
    if custom is None:
        custom = {f"{svc.port if svc is not None else 0}.service.kuma.io": "http"}
    metadata: JSON = {"name": apex, "annotations": router_helpers.filter_metadata(custom)}
    if owner_refs:
        metadata["ownerReferences"] = [router_helpers.owner_reference(canary)]
    annotations = canary.metadata.get("annotations") or {}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "mesh": str(annotations.get(MESH_ANNOTATION, DEFAULT_MESH)),
        "spec": traffic_route_spec(canary),
    }


def plan_traffic_route_update(canary: canary_api.Canary, existing: JSON) -> JSON | None:
    """The TrafficRoute to write over ``existing``, or ``None`` when its spec is what Flagger
    wants apart from the weights. Taking over someone else's TrafficRoute keeps its spec in the
    original-configuration annotation first."""
    want = traffic_route_spec(canary)
    owned = router_helpers.controlled_by(existing, canary, by_uid=True)
    return router_helpers.plan_update(existing, want, owned=owned, comparable=_without_weights)


def routed_spec(
    canary: canary_api.Canary, spec: Mapping[str, Any], primary_weight: int, canary_weight: int
) -> JSON:
    """``spec`` with its split set to these weights (what ``set_routes`` writes)."""
    new = router_helpers.deep_copy(dict(spec))
    new["conf"] = _conf(canary, primary_weight, canary_weight)
    return new


def read_routes(canary: canary_api.Canary, spec: Mapping[str, Any]) -> tuple[int, int, bool]:
    """The (primary weight, canary weight, mirrored) of a TrafficRoute spec. As Flagger reads
    it, the canary gets what the primary does not. Raises :class:`RouterError` when the split
    has no primary destination."""
    apex, primary, canary_name = router_helpers.service_names(canary)
    primary_weight = canary_weight = 0
    for split in (spec.get("conf") or {}).get("split") or []:
        tag = str((split.get("destination") or {}).get(SERVICE_TAG) or "")
        if tag.split("_")[0] == primary:
            primary_weight = int(split.get("weight") or 0)
            canary_weight = 100 - primary_weight
    router_helpers.require_routes(
        f"TrafficRoute {apex}", primary, canary_name, (primary_weight, canary_weight)
    )
    return primary_weight, canary_weight, False


def original_spec(obj: Mapping[str, Any]) -> JSON | None:
    """The spec kept before Flagger took the TrafficRoute over, or ``None``."""
    return router_helpers.original_spec(obj, KIND, namespaced=False)


# --- the router -----------------------------------------------------------------------------


class KumaRouter(object_router.ObjectRouter):
    """Reconciles a canary's TrafficRoute (cluster-scoped) and moves its weights; mirroring is
    refused by :func:`check_supported`."""

    api_version, kind, log, namespaced = API_VERSION, KIND, _log, False
    no_weights_error = None
    check_supported = staticmethod(check_supported)
    plan = staticmethod(plan_traffic_route_update)

    def desired(self, canary: canary_api.Canary) -> JSON:
        return traffic_route(canary, owner_refs=self.set_owner_refs)

    def routed_spec(
        self, canary: canary_api.Canary, spec: JSON, primary_weight: int, canary_weight: int
    ) -> JSON:
        return routed_spec(canary, spec, primary_weight, canary_weight)

    def read_routes(self, canary: canary_api.Canary, spec: JSON) -> tuple[int, int, bool]:
        return read_routes(canary, spec)

    async def give_back(self, canary: canary_api.Canary, existing: JSON) -> bool:
        """Give a taken-over TrafficRoute back its original spec, saying so."""
        where = self.where(canary)
        restored = await router_helpers.give_back(
            self.kube, canary, existing, original_spec(existing), where
        )
        if restored:
            _log.info("%s restored", where, extra={"canary": router_helpers.canary_id(canary)})
        return restored


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``kuma`` routing provider."""
    registry.router(NAME, flagger_router)
    registry.rules(NAME, plugins.route_rules("kuma.io", "trafficroutes"))


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The Kuma router (no owner reference with a separate mesh cluster)."""
    if name != NAME:
        return None
    options = context.options
    remote_mesh = options.get("kubeconfig-service-mesh") or options.get("kubeconfig_service_mesh")
    return KumaRouter(context.mesh_kube, set_owner_refs=not remote_mesh)


# --- helpers --------------------------------------------------------------------------------


def _conf(canary: canary_api.Canary, primary_weight: int, canary_weight: int) -> JSON:
    _, primary, canary_name = router_helpers.service_names(canary)
    return {
        "split": [
            {"weight": primary_weight, "destination": {SERVICE_TAG: service_tag(canary, primary)}},
            {
                "weight": canary_weight,
                "destination": {SERVICE_TAG: service_tag(canary, canary_name)},
            },
        ]
    }


def _without_weights(spec: Mapping[str, Any]) -> JSON:
    result = {k: v for k, v in spec.items() if k != "conf"}
    conf = dict(spec.get("conf") or {})
    conf["split"] = [{k: v for k, v in s.items() if k != "weight"} for s in conf.get("split") or []]
    result["conf"] = conf
    return result
