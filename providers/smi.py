"""The SMI routers (``linkerd``, ``smi:v1alpha1``, ``smi:v1alpha2``, ``smi:v1alpha3``, ``osm``):
one weighted TrafficSplit.

For a canary whose apex Service is ``podinfo`` Flagger keeps TrafficSplit ``podinfo``
(``split.smi-spec.io``) with ``service`` = the first of ``spec.service.hosts`` (default the apex
name) and two backends, the canary first::

    backends: [{service: podinfo-canary, weight: 0}, {service: podinfo-primary, weight: 100}]

Which API version is written depends on the provider, as in Flagger's router factory:

========================  ===========  ==========================================
provider                  apiVersion   weight
========================  ===========  ==========================================
``linkerd``               v1alpha1     a ``resource.Quantity``: the string ``"100"``
``smi:v1alpha1[:mesh]``   v1alpha1     a ``resource.Quantity``: the string ``"100"``
``smi:v1alpha2[:mesh]``   v1alpha2     an integer
``osm``                   v1alpha2     an integer
``smi:v1alpha3[:mesh]``   v1alpha3     an integer
========================  ===========  ==========================================

With the mesh suffix ``istio`` (``smi:v1alpha1:istio``) and ``spec.service.gateways`` set, the
TrafficSplit carries the annotation ``VirtualService.v1alpha3.networking.istio.io/spec.gateways``.

A TrafficSplit splits by weight only: A/B testing (``analysis.match``), traffic mirroring
(``analysis.mirror``) and session affinity (``analysis.sessionAffinity``) raise
:class:`UnsupportedByProvider` instead of silently sending the canary's traffic elsewhere
(Flagger ignores them, and an A/B run then moves all traffic to the canary).

``reconcile`` writes only when the spec differs from the wanted one apart from the weights. A
TrafficSplit that exists already and is not the Canary's is taken over: before its spec is first
replaced it is kept in ``flagger.kubernetes.io/original-configuration`` (unless kubectl's
last-applied-configuration has it), and ``finalize`` writes it back. TrafficSplits Flagger
created need no revert: they are owned by the Canary and deleted with it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api

__all__ = [
    "GROUP",
    "KIND",
    "NAMES",
    "Flavor",
    "SmiRouter",
    "UnsupportedByProvider",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "flavor_for",
    "original_spec",
    "plan_traffic_split_update",
    "read_routes",
    "routed_spec",
    "traffic_split",
    "traffic_split_spec",
]

GROUP = "split.smi-spec.io"
KIND = "TrafficSplit"
#: The routing providers this module serves.
NAMES = ("linkerd", "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3", "osm")
ISTIO_GATEWAYS_ANNOTATION = "VirtualService.v1alpha3.networking.istio.io/spec.gateways"

#: Providers that can do what a TrafficSplit cannot, named in the errors.
AB_PROVIDERS = ("istio", "appmesh:v1beta2", "contour", "gloo", "nginx", "gatewayapi:v1")
MIRROR_PROVIDERS = ("istio", "gatewayapi:v1")
AFFINITY_PROVIDERS = ("istio", "gatewayapi:v1")
#: What a TrafficSplit cannot do: the providers that can, and what else to do.
REFUSALS = {
    router_helpers.AB_TESTING: router_helpers.Refusal(
        router_helpers.AB_TESTING,
        AB_PROVIDERS,
        "or remove analysis.match and use stepWeight for a weighted canary (a TrafficSplit "
        "routes by weight only)",
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


#: The Canary asks its routing provider for something the provider cannot do.
UnsupportedByProvider = router_helpers.UnsupportedFeature


@dataclasses.dataclass(frozen=True)
class Flavor:
    """How one provider writes its TrafficSplit: the provider name, the SMI version, whether
    weights are Quantity strings (v1alpha1), and the target mesh (``istio`` adds the gateways
    annotation)."""

    provider: str
    version: str
    target_mesh: str

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{self.version}"

    @property
    def quantity_weights(self) -> bool:
        return self.version == "v1alpha1"

    def weight(self, value: int) -> int | str:
        """A backend weight as this version serialises it."""
        return str(value) if self.quantity_weights else value


def flavor_for(provider: str) -> Flavor | None:
    """The TrafficSplit flavour of a provider name (Flagger's router factory), or ``None``."""
    if provider == "linkerd":
        return Flavor(provider, "v1alpha1", "linkerd")
    if provider == "osm":
        return Flavor(provider, "v1alpha2", "osm")
    for version in ("v1alpha1", "v1alpha2", "v1alpha3"):
        prefix = f"smi:{version}"
        if provider == prefix or provider.startswith(prefix + ":"):
            # Flagger trims "smi:<version>:"; a bare "smi:<version>" keeps its whole name.
            return Flavor(provider, version, provider.removeprefix(prefix + ":"))
    return None


# --- pure builders --------------------------------------------------------------------------


def check_supported(canary: canary_api.Canary, provider: str) -> None:
    """Raise :class:`UnsupportedByProvider` when the canary needs more than weighted routing."""
    router_helpers.refuse_first(
        canary, provider, [REFUSALS[feature] for feature in router_helpers.beyond_weights(canary)]
    )


def traffic_split_spec(
    canary: canary_api.Canary, flavor: Flavor, primary_weight: int = 100, canary_weight: int = 0
) -> JSON:
    """The TrafficSplit spec for these weights (the canary backend first, as Flagger writes)."""
    apex, primary, canary_name = router_helpers.service_names(canary)
    hosts = canary.spec.service.hosts if canary.spec.service is not None else None
    return {
        "service": hosts[0] if hosts else apex,
        "backends": [
            {"service": canary_name, "weight": flavor.weight(canary_weight)},
            {"service": primary, "weight": flavor.weight(primary_weight)},
        ],
    }


def traffic_split(canary: canary_api.Canary, flavor: Flavor, *, owner_refs: bool = True) -> JSON:
    """The TrafficSplit ``<svc>`` Flagger creates when there is none."""
    apex, _, _ = router_helpers.service_names(canary)
    metadata: JSON = {"name": apex, "namespace": canary.namespace}
    annotations = _annotations(canary, flavor)
    if annotations:
        metadata["annotations"] = annotations
    if owner_refs:
        metadata["ownerReferences"] = [router_helpers.owner_reference(canary)]
    return {
        "apiVersion": flavor.api_version,
        "kind": KIND,
        "metadata": metadata,
        "spec": traffic_split_spec(canary, flavor),
    }


def plan_traffic_split_update(
    canary: canary_api.Canary, flavor: Flavor, existing: JSON
) -> JSON | None:
    """The TrafficSplit to write over ``existing``, or ``None`` when its spec is what Flagger
    wants apart from the weights. Taking over someone else's TrafficSplit keeps its spec in the
    original-configuration annotation first."""
    want = traffic_split_spec(canary, flavor)
    owned = router_helpers.controlled_by(existing, canary, by_uid=True)
    return router_helpers.plan_update(existing, want, owned=owned, comparable=_without_weights)


def routed_spec(
    canary: canary_api.Canary,
    flavor: Flavor,
    spec: Mapping[str, Any],
    primary_weight: int,
    canary_weight: int,
) -> JSON:
    """``spec`` with its backends set to these weights (what ``set_routes`` writes)."""
    new = router_helpers.deep_copy(dict(spec))
    new["backends"] = traffic_split_spec(canary, flavor, primary_weight, canary_weight)["backends"]
    return new


def read_routes(canary: canary_api.Canary, spec: Mapping[str, Any]) -> tuple[int, int, bool]:
    """The (primary weight, canary weight, mirrored) a TrafficSplit spec routes; a TrafficSplit
    never mirrors. Raises :class:`RouterError` when neither backend has any weight."""
    apex, primary, canary_name = router_helpers.service_names(canary)
    weights = router_helpers.routed_weights(
        spec.get("backends") or [],
        primary,
        canary_name,
        name=lambda b: b.get("service"),
        weight=_as_int,
    )
    router_helpers.require_routes(
        f"TrafficSplit {apex}.{canary.namespace}", primary, canary_name, weights
    )
    return weights[0], weights[1], False


def original_spec(obj: Mapping[str, Any]) -> JSON | None:
    """The spec kept before Flagger took the object over (kubectl's last applied object or
    Flagger's annotation), or ``None`` when none was kept."""
    return router_helpers.original_spec(obj, KIND)


# --- the router -----------------------------------------------------------------------------


class SmiRouter:
    """Reconciles a canary's TrafficSplit and moves its weights."""

    def __init__(
        self, kube: router_helpers.KubeClient, flavor: Flavor, *, set_owner_refs: bool = True
    ) -> None:
        self.kube = kube
        self.flavor = flavor
        self.set_owner_refs = set_owner_refs

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create the TrafficSplit, or update it when its spec (apart from weights) changed."""
        check_supported(canary, self.flavor.provider)
        where = self._where(canary)
        existing = await self._get(canary, where, required=False)
        await router_helpers.create_or_update(
            self.kube,
            canary,
            existing,
            where,
            desired=lambda: traffic_split(canary, self.flavor, owner_refs=self.set_owner_refs),
            plan=lambda found: plan_traffic_split_update(canary, self.flavor, found),
            log=_log,
        )

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Set the backend weights; mirroring is refused by :func:`check_supported`."""
        check_supported(canary, self.flavor.provider)
        where = self._where(canary)
        existing = await self._get(canary, where, required=True)
        assert existing is not None
        spec = routed_spec(
            canary, self.flavor, existing.get("spec") or {}, primary_weight, canary_weight
        )
        if spec != existing.get("spec"):
            await router_helpers.write(
                self.kube.replace, {**existing, "spec": spec}, f"{where} update error"
            )

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """The weights the TrafficSplit currently routes."""
        existing = await self._get(canary, self._where(canary), required=True)
        assert existing is not None
        return read_routes(canary, existing.get("spec") or {})

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Give a taken-over TrafficSplit back its original spec (nothing to do otherwise)."""
        where = self._where(canary)
        existing = await self._get(canary, where, required=False)
        if existing is None:
            return
        if await router_helpers.give_back(
            self.kube, canary, existing, original_spec(existing), where
        ):
            _log.info("%s restored", where, extra={"canary": router_helpers.canary_id(canary)})

    def _where(self, canary: canary_api.Canary) -> str:
        apex, _, _ = router_helpers.service_names(canary)
        return f"TrafficSplit {apex}.{canary.namespace}"

    async def _get(self, canary: canary_api.Canary, where: str, *, required: bool) -> JSON | None:
        apex, _, _ = router_helpers.service_names(canary)
        try:
            found = await self.kube.get(self.flavor.api_version, KIND, apex, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(f"{where} get query error: {exc}") from exc
        if found is None and required:
            raise router_helpers.RouterError(f"{where} get query error: not found")
        return found


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``linkerd``, ``smi:v1alpha1``, ``smi:v1alpha2``, ``smi:v1alpha3``
    and ``osm`` routing providers, whose role rules are the TrafficSplits'."""
    registry.router(NAMES, flagger_router)
    registry.rules(
        "smi", plugins.route_rules("split.smi-spec.io", "trafficsplits"), aliases=("linkerd", "osm")
    )


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The SMI router for one of :data:`NAMES` (also ``smi:<version>:<mesh>``). With a separate
    mesh cluster (``-kubeconfig-service-mesh``) the TrafficSplit gets no owner reference."""
    flavor = flavor_for(name)
    if flavor is None:
        return None
    options = context.options
    remote_mesh = options.get("kubeconfig-service-mesh") or options.get("kubeconfig_service_mesh")
    return SmiRouter(context.mesh_kube, flavor, set_owner_refs=not remote_mesh)


# --- helpers --------------------------------------------------------------------------------


def _annotations(canary: canary_api.Canary, flavor: Flavor) -> dict[str, str]:
    gateways = canary.spec.service.gateways if canary.spec.service is not None else None
    if flavor.target_mesh == "istio" and gateways:
        return {ISTIO_GATEWAYS_ANNOTATION: json.dumps(list(gateways), separators=(",", ":"))}
    return {}


def _as_int(weight: Any) -> int:
    """A backend weight: an integer, or a Quantity string that is a whole number ("100");
    anything else (``"500m"``) reads as 0, as Flagger's ``Quantity.AsInt64``."""
    if isinstance(weight, bool):
        return 0
    if isinstance(weight, int):
        return weight
    if isinstance(weight, str):
        try:
            return int(weight)
        except ValueError:
            return 0
    return 0


def _without_weights(spec: Mapping[str, Any]) -> JSON:
    result = {k: v for k, v in spec.items() if k != "backends"}
    result["backends"] = [
        {k: v for k, v in b.items() if k != "weight"} for b in spec.get("backends") or []
    ]
    return result
