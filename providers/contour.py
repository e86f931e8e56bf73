"""The ``contour`` router: a weighted Contour HTTPProxy.

For a canary whose apex Service is ``podinfo`` in namespace ``test`` Flagger keeps the
HTTPProxy ``podinfo`` (``projectcontour.io/v1``; meant to be included by the user's root
HTTPProxy) with one route:

- condition ``prefix`` = the first ``spec.service.match`` URI prefix (default ``/``);
- services ``podinfo-primary`` and ``podinfo-canary`` on ``spec.service.port``, weighted, each
  setting ``l5d-dst-override: <svc>.test.svc.cluster.local:<port>`` so that Linkerd behind
  Contour routes to the chosen Service;
- ``timeoutPolicy`` (``response`` = ``spec.service.timeout``, ``idle: 5m``) and
  ``retryPolicy`` (``count`` = ``retries.attempts``, ``perTryTimeout``) when set.

**A/B testing** (``analysis.match``) adds a first route whose conditions are the prefix plus
each header condition (``exact``; ``prefix`` and ``suffix`` become ``contains``, as in
Flagger), followed by the default route to the primary. Header regexes, query parameters,
source labels, mirroring and session affinity cannot be expressed and are refused with
:class:`UnsupportedFeature`. Blue/green works through the weights.

The HTTPProxy carries ``spec.service.apex`` labels and annotations, Flux's opt-outs and, with
``-ingress-class``, ``projectcontour.io/ingress.class``. ``reconcile`` writes only when
something other than the weights changed and then keeps the weights; an HTTPProxy that exists
already and is not the Canary's is taken over, its spec kept in
``flagger.kubernetes.io/original-configuration`` for ``finalize`` to write back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flagger import object_router, plugins, router_helpers
from flagger.api import canary as canary_api

__all__ = [
    "API_VERSION",
    "INGRESS_CLASS_ANNOTATION",
    "NAME",
    "ContourRouter",
    "UnsupportedFeature",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "http_proxy",
    "http_proxy_spec",
    "original_spec",
    "plan_http_proxy_update",
    "read_routes",
]

NAME = "contour"
API_VERSION = "projectcontour.io/v1"
INGRESS_CLASS_ANNOTATION = "projectcontour.io/ingress.class"
LINKERD_HEADER = "l5d-dst-override"
IDLE_TIMEOUT = "5m"

MIRROR_PROVIDERS = router_helpers.MIRROR_PROVIDERS
AFFINITY_PROVIDERS = router_helpers.AFFINITY_PROVIDERS
REGEX_HEADER_PROVIDERS = (
    "istio",
    "appmesh",
    "appmesh:v1beta2",
    "gloo",
    "nginx",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
)
QUERY_PARAM_PROVIDERS = router_helpers.QUERY_PARAM_PROVIDERS
SOURCE_LABEL_PROVIDERS = router_helpers.SOURCE_LABEL_PROVIDERS

_log = logging.getLogger(__name__)
JSON = dict[str, Any]


class UnsupportedFeature(router_helpers.RouterError):
    """A Canary asks Contour for something an HTTPProxy route cannot express."""


def check_supported(canary: canary_api.Canary) -> None:
    """Raise :class:`UnsupportedFeature` when the canary uses what Flagger's Contour router
    cannot route."""
    analysis = canary.spec.effective_analysis
    if analysis is None:
        return
    wanted: list[tuple[str, Sequence[str]]] = []
    if analysis.mirror:
        wanted.append(("traffic mirroring (analysis.mirror)", MIRROR_PROVIDERS))
    if analysis.session_affinity is not None:
        wanted.append(("session affinity (analysis.sessionAffinity)", AFFINITY_PROVIDERS))
    for i, match in enumerate(analysis.match or []):
        for header, value in (match.headers or {}).items():
            if value.regex:
                wanted.append(
                    (
                        f"regex header matches (analysis.match[{i}].headers.{header}.regex)",
                        REGEX_HEADER_PROVIDERS,
                    )
                )
        if match.query_params:
            wanted.append(
                (
                    f"query parameter matches (analysis.match[{i}].queryParams)",
                    QUERY_PARAM_PROVIDERS,
                )
            )
        if match.source_labels:
            wanted.append(
                (f"source label matches (analysis.match[{i}].sourceLabels)", SOURCE_LABEL_PROVIDERS)
            )
    if wanted:
        feature, others = wanted[0]
        raise UnsupportedFeature(
            f"canary {router_helpers.canary_id(canary)}: "
            f"provider {NAME} does not support {feature}; "
            f"providers that do: {', '.join(others)}"
        )


# --- pure builders --------------------------------------------------------------------------


def http_proxy_spec(
    canary: canary_api.Canary, primary_weight: int = 100, canary_weight: int = 0
) -> JSON:
    """The HTTPProxy spec routing these weights (100/0 is what ``reconcile`` writes)."""
    if _has_ab(canary):
        return {
            "routes": [
                _route(canary, _ab_conditions(canary), primary_weight, canary_weight),
                _route(canary, [{"prefix": _prefix(canary)}], 100, 0),
            ]
        }
    return {
        "routes": [_route(canary, [{"prefix": _prefix(canary)}], primary_weight, canary_weight)]
    }


def http_proxy(
    canary: canary_api.Canary, *, ingress_class: str = "", owner_refs: bool = True
) -> JSON:
    """The HTTPProxy ``<svc>`` Flagger creates when there is none."""
    spec, meta = http_proxy_spec(canary), _apex_metadata(canary, ingress_class)
    proxy = router_helpers.new_object(canary, API_VERSION, "HTTPProxy", spec, meta, owner_refs)
    return {**proxy, "status": {"currentStatus": "valid", "description": "valid HTTPProxy"}}


def plan_http_proxy_update(
    canary: canary_api.Canary, existing: Mapping[str, Any], *, ingress_class: str = ""
) -> JSON | None:
    """The HTTPProxy to write over ``existing``, or ``None`` when only weights differ.

    The weights in effect are kept; an HTTPProxy that is not the Canary's keeps its spec in the
    original-configuration annotation before it is first replaced.
    """
    metadata = _apex_metadata(canary, ingress_class)
    weights = (_without_weights, _keep_weights)
    return router_helpers.plan_routed_update(
        canary, existing, http_proxy_spec(canary), weights, metadata
    )


def read_routes(canary: canary_api.Canary, spec: Mapping[str, Any]) -> tuple[int, int, bool]:
    """The (primary, canary, mirrored) weights of the first route (Flagger's ``GetRoutes``:
    the canary gets what the primary does not)."""
    apex, primary, _ = router_helpers.service_names(canary)
    routes = spec.get("routes") or []
    services = (routes[0].get("services") or []) if routes else []
    if len(services) < 2:
        raise router_helpers.RouterError(f"HTTPProxy {apex}.{canary.namespace} services not found")
    return router_helpers.primary_share(services, primary, name=lambda s: s.get("name"))


def original_spec(obj: Mapping[str, Any]) -> JSON | None:
    """The spec kept before Flagger took the HTTPProxy over, or ``None`` when none was kept."""
    return router_helpers.original_spec(obj, "HTTPProxy")


# --- the router -----------------------------------------------------------------------------


class ContourRouter(object_router.ObjectRouter):
    """Reconciles a canary's HTTPProxy and moves its weights."""

    api_version, kind, log = API_VERSION, "HTTPProxy", _log
    check_supported = staticmethod(check_supported)
    read_routes = staticmethod(read_routes)

    def __init__(
        self,
        kube: router_helpers.KubeClient,
        *,
        ingress_class: str = "",
        set_owner_refs: bool = True,
    ) -> None:
        super().__init__(kube, set_owner_refs=set_owner_refs)
        self.ingress_class = ingress_class

    def desired(self, canary: canary_api.Canary) -> JSON:
        return http_proxy(canary, ingress_class=self.ingress_class, owner_refs=self.set_owner_refs)

    def plan(self, canary: canary_api.Canary, existing: JSON) -> JSON | None:
        return plan_http_proxy_update(canary, existing, ingress_class=self.ingress_class)

    def routed_spec(
        self, canary: canary_api.Canary, spec: JSON, primary_weight: int, canary_weight: int
    ) -> JSON:
        return http_proxy_spec(canary, primary_weight, canary_weight)


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``contour`` routing provider."""
    registry.router(NAME, flagger_router)
    registry.rules(NAME, plugins.route_rules("projectcontour.io", "httpproxies"))


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The Contour router, with the daemon's ``-ingress-class``."""
    if name != NAME:
        return None
    options = context.options
    return ContourRouter(
        context.mesh_kube,
        ingress_class=str(options.get("ingress-class") or ""),
        set_owner_refs=not options.get("kubeconfig-service-mesh"),
    )


# --- helpers --------------------------------------------------------------------------------


def _has_ab(canary: canary_api.Canary) -> bool:
    analysis = canary.spec.effective_analysis
    return bool(analysis is not None and analysis.match)


def _prefix(canary: canary_api.Canary) -> str:
    match = router_helpers.service(canary).match or []
    if match and match[0].uri is not None and match[0].uri.prefix:
        return match[0].uri.prefix
    return "/"


def _ab_conditions(canary: canary_api.Canary) -> list[JSON]:
    """One condition per A/B header: the prefix and the header (Flagger's
    ``makeConditions``; ``prefix``/``suffix`` matches become ``contains``)."""
    analysis = canary.spec.effective_analysis
    conditions: list[JSON] = []
    for match in (analysis.match if analysis else None) or []:
        for name, value in (match.headers or {}).items():
            header: JSON = {"name": name}
            if value.prefix:
                header["contains"] = value.prefix
            elif value.suffix:
                header["contains"] = value.suffix
            elif value.exact:
                header["exact"] = value.exact
            conditions.append({"prefix": _prefix(canary), "header": header})
    return conditions


def _route(
    canary: canary_api.Canary, conditions: list[JSON], primary_weight: int, canary_weight: int
) -> JSON:
    svc = router_helpers.service(canary)
    _, primary, canary_name = router_helpers.service_names(canary)
    route: JSON = {"conditions": conditions}
    if svc.timeout:
        route["timeoutPolicy"] = {"response": svc.timeout, "idle": IDLE_TIMEOUT}
    if svc.retries is not None:
        retry: JSON = {"count": svc.retries.attempts or 0}
        if svc.retries.per_try_timeout:
            retry["perTryTimeout"] = svc.retries.per_try_timeout
        route["retryPolicy"] = retry
    route["services"] = [
        _backend(canary, primary, primary_weight),
        _backend(canary, canary_name, canary_weight),
    ]
    return route


def _backend(canary: canary_api.Canary, name: str, weight: int) -> JSON:
    port = router_helpers.service(canary).port
    backend: JSON = {"name": name, "port": port}
    if weight:
        backend["weight"] = weight
    backend["requestHeadersPolicy"] = {
        "set": [
            {
                "name": LINKERD_HEADER,
                "value": f"{name}.{canary.namespace}.svc.cluster.local:{port}",
            }
        ]
    }
    return backend


def _apex_metadata(
    canary: canary_api.Canary, ingress_class: str
) -> tuple[dict[str, str], dict[str, str]]:
    labels, annotations = router_helpers.apex_metadata(canary)
    if ingress_class:
        annotations[INGRESS_CLASS_ANNOTATION] = ingress_class
    return labels, annotations


def _without_weights(spec: Mapping[str, Any]) -> JSON:
    routes = []
    for route in spec.get("routes") or []:
        services = [
            {k: v for k, v in s.items() if k != "weight"} for s in route.get("services") or []
        ]
        routes.append({**route, "services": services})
    return {**spec, "routes": routes}


def _keep_weights(new: JSON, old: Mapping[str, Any]) -> None:
    """Give ``new`` the weights ``old`` routes, route by route and service by service."""
    old_routes = old.get("routes") or []
    for index, route in enumerate(new.get("routes") or []):
        if index >= len(old_routes):
            break
        weights = {s.get("name"): s.get("weight") for s in old_routes[index].get("services") or []}
        for service in route.get("services") or []:
            if service.get("name") not in weights:
                continue
            weight = weights[service["name"]]
            if weight:
                service["weight"] = weight
            else:
                service.pop("weight", None)
