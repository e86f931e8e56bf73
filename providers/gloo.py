"""The ``gloo`` router: Gloo Edge Upstreams and a weighted RouteTable.

For a canary whose apex Service is ``podinfo`` in namespace ``test`` on port 9898 Flagger keeps:

- Upstreams (``gloo.solo.io/v1``) ``test-podinfo-primaryupstream-9898`` and
  ``test-podinfo-canaryupstream-9898`` pointing at the ``podinfo-primary`` resp.
  ``podinfo-canary`` Service (``kube``: name, namespace, port and the Service's selector). With
  ``spec.upstreamRef`` the referenced Upstream is a configuration template: its ``labels``,
  ``sslConfig``, ``circuitBreakers``, ``connectionConfig``, ``loadBalancerConfig``,
  ``useHttp2``, the window sizes and ``httpProxyHostName`` are copied. Like Flagger, an Upstream
  is created once and never updated; its metadata labels are the template's ``labels`` kept by
  ``-include-label-prefix`` (``*`` keeps all; unset keeps none);
- RouteTable (``gateway.solo.io/v1``) ``podinfo`` with one route: ``inheritablePathMatchers``
  and a ``multi`` destination splitting between the two Upstreams by weight (a weight of 0 is
  omitted, as Gloo's protobuf JSON does).

**A/B testing** (``analysis.match``) puts the header conditions in the route's ``matchers``
(``exact`` as a value, ``regex`` as a regex value): the RouteTable then only carries matching
requests, and the user's VirtualService keeps a route to the primary for the rest. Prefix and
suffix header matches, query parameters, source labels, mirroring and session affinity are
refused with :class:`UnsupportedFeature`.

The RouteTable carries ``spec.service.apex`` labels and annotations plus Flux's opt-outs;
``reconcile`` writes only when something other than the weights changed and keeps the weights;
an existing RouteTable that is not the Canary's is taken over, its spec kept in
``flagger.kubernetes.io/original-configuration`` for ``finalize`` to write back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from flagger import object_router, plugins, router_helpers
from flagger.api import canary as canary_api

__all__ = [
    "GATEWAY_API_VERSION",
    "GLOO_API_VERSION",
    "NAME",
    "GlooRouter",
    "UnsupportedFeature",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "include_labels_by_prefix",
    "original_spec",
    "plan_route_table_update",
    "read_routes",
    "route_table",
    "route_table_spec",
    "upstream",
    "upstream_names",
]

NAME = "gloo"
GLOO_API_VERSION = "gloo.solo.io/v1"
GATEWAY_API_VERSION = "gateway.solo.io/v1"
TOOLKIT_MARKER = "toolkit.fluxcd.io"
#: Upstream spec fields copied from the ``upstreamRef`` template.
TEMPLATE_FIELDS = (
    "labels",
    "sslConfig",
    "circuitBreakers",
    "connectionConfig",
    "loadBalancerConfig",
    "useHttp2",
    "initialStreamWindowSize",
    "initialConnectionWindowSize",
    "httpProxyHostName",
)

MIRROR_PROVIDERS = router_helpers.MIRROR_PROVIDERS
AFFINITY_PROVIDERS = router_helpers.AFFINITY_PROVIDERS
AFFIX_HEADER_PROVIDERS = (
    "istio",
    "appmesh",
    "appmesh:v1beta2",
    "contour",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
)
QUERY_PARAM_PROVIDERS = router_helpers.QUERY_PARAM_PROVIDERS
SOURCE_LABEL_PROVIDERS = router_helpers.SOURCE_LABEL_PROVIDERS

_log = logging.getLogger(__name__)
JSON = dict[str, Any]


#: A Canary asks Gloo for something Flagger's RouteTable cannot express.
UnsupportedFeature = router_helpers.UnsupportedFeature


def check_supported(canary: canary_api.Canary) -> None:
    """Raise :class:`UnsupportedFeature` when the canary uses what the Gloo router cannot do."""
    analysis = canary.spec.effective_analysis
    if analysis is None:
        return
    wanted: list[router_helpers.Refusal] = []
    if analysis.mirror:
        wanted.append(router_helpers.Refusal(router_helpers.MIRRORING, MIRROR_PROVIDERS))
    if analysis.session_affinity is not None:
        wanted.append(router_helpers.Refusal(router_helpers.SESSION_AFFINITY, AFFINITY_PROVIDERS))
    for i, match in enumerate(analysis.match or []):
        for header, value in (match.headers or {}).items():
            for kind in ("prefix", "suffix"):
                if getattr(value, kind):
                    wanted.append(
                        router_helpers.Refusal(
                            f"{kind} header matches (analysis.match[{i}].headers.{header}.{kind})",
                            AFFIX_HEADER_PROVIDERS,
                        )
                    )
        if match.query_params:
            wanted.append(
                router_helpers.Refusal(
                    f"query parameter matches (analysis.match[{i}].queryParams)",
                    QUERY_PARAM_PROVIDERS,
                )
            )
        if match.source_labels:
            wanted.append(
                router_helpers.Refusal(
                    f"source label matches (analysis.match[{i}].sourceLabels)",
                    SOURCE_LABEL_PROVIDERS,
                )
            )
    router_helpers.refuse_first(canary, NAME, wanted)


# --- pure builders --------------------------------------------------------------------------


def upstream_names(canary: canary_api.Canary) -> tuple[str, str]:
    """The primary and canary Upstream names: ``<ns>-<svc>-{primary,canary}upstream-<port>``."""
    apex, _, _ = router_helpers.service_names(canary)
    port = router_helpers.service(canary).port
    return (
        f"{canary.namespace}-{apex}-primaryupstream-{port}",
        f"{canary.namespace}-{apex}-canaryupstream-{port}",
    )


def include_labels_by_prefix(
    labels: Mapping[str, str] | None, prefixes: Iterable[str]
) -> dict[str, str]:
    """Labels whose key starts with a non-empty prefix (``*`` keeps all), without Flux's keys
    (Flagger's router ``includeLabelsByPrefix``)."""
    wanted = tuple(prefixes)
    return {
        key: value
        for key, value in (labels or {}).items()
        if TOOLKIT_MARKER not in key and any(p == "*" or (p and key.startswith(p)) for p in wanted)
    }


def upstream(
    canary: canary_api.Canary,
    name: str,
    service: Mapping[str, Any],
    template: Mapping[str, Any] | None = None,
    *,
    include_label_prefixes: Iterable[str] = (),
    owner_refs: bool = True,
) -> JSON:
    """The Upstream ``name`` for the Service ``service``, configured like ``template``."""
    spec: JSON = {}
    template_spec = (template or {}).get("spec") or {}
    for key in TEMPLATE_FIELDS:
        if template_spec.get(key):
            spec[key] = router_helpers.deep_copy({key: template_spec[key]})[key]
    kube: JSON = {
        "serviceName": (service.get("metadata") or {}).get("name"),
        "serviceNamespace": canary.namespace,
        "servicePort": router_helpers.service(canary).port,
    }
    selector = (service.get("spec") or {}).get("selector")
    if selector:
        kube["selector"] = dict(selector)
    spec["kube"] = kube
    labels = include_labels_by_prefix(spec.get("labels"), include_label_prefixes)
    return router_helpers.new_object(
        canary, GLOO_API_VERSION, "Upstream", spec, (labels, None), owner_refs, name=name
    )


def route_table_spec(
    canary: canary_api.Canary, primary_weight: int = 100, canary_weight: int = 0
) -> JSON:
    """The RouteTable spec routing these weights (100/0 is what ``reconcile`` writes)."""
    primary_name, canary_name = upstream_names(canary)
    route: JSON = {}
    matchers = _matchers(canary)
    if matchers:
        route["matchers"] = matchers
    route["inheritablePathMatchers"] = True
    route["routeAction"] = {
        "multi": {
            "destinations": [
                _destination(canary, primary_name, primary_weight),
                _destination(canary, canary_name, canary_weight),
            ]
        }
    }
    return {"routes": [route]}


def route_table(canary: canary_api.Canary, *, owner_refs: bool = True) -> JSON:
    """The RouteTable ``<svc>`` Flagger creates when there is none."""
    meta = router_helpers.apex_metadata(canary)
    spec = route_table_spec(canary)
    return router_helpers.new_object(
        canary, GATEWAY_API_VERSION, "RouteTable", spec, meta, owner_refs
    )


def plan_route_table_update(canary: canary_api.Canary, existing: Mapping[str, Any]) -> JSON | None:
    """The RouteTable to write over ``existing``, or ``None`` when only weights differ (the
    weights in effect are kept)."""
    metadata = router_helpers.apex_metadata(canary)
    weights = (_without_weights, _keep_weights)
    return router_helpers.plan_routed_update(
        canary, existing, route_table_spec(canary), weights, metadata
    )


def read_routes(canary: canary_api.Canary, spec: Mapping[str, Any]) -> tuple[int, int, bool]:
    """The (primary, canary, mirrored) weights of the first route's destinations."""
    apex, _, _ = router_helpers.service_names(canary)
    primary_name, _ = upstream_names(canary)
    destinations = _destinations(spec)
    if len(destinations) < 2:
        raise router_helpers.RouterError(
            f"RouteTable {apex}.{canary.namespace} destinations not found"
        )
    return router_helpers.primary_share(destinations, primary_name, name=_upstream_name)


def original_spec(obj: Mapping[str, Any]) -> JSON | None:
    """The spec kept before Flagger took the RouteTable over, or ``None``."""
    return router_helpers.original_spec(obj, "RouteTable")


# --- the router -----------------------------------------------------------------------------


class GlooRouter(object_router.ObjectRouter):
    """Creates a canary's Upstreams and reconciles its RouteTable."""

    api_version, kind, log = GATEWAY_API_VERSION, "RouteTable", _log
    no_weights_error = "RoutingRule {name}.{namespace} update failed: no valid weights"
    check_supported = staticmethod(check_supported)
    plan = staticmethod(plan_route_table_update)

    def __init__(
        self,
        kube: router_helpers.KubeClient,
        *,
        set_owner_refs: bool = True,
        include_label_prefixes: Iterable[str] = (),
        services: router_helpers.KubeClient | None = None,
    ) -> None:
        super().__init__(kube, set_owner_refs=set_owner_refs)
        # core Services live in the main cluster (Flagger's kubeClient), Gloo objects in the
        # mesh cluster (its glooClient)
        self.services = services if services is not None else kube
        self.include_label_prefixes = tuple(include_label_prefixes)

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create the Upstreams when missing, then create or update the RouteTable."""
        check_supported(canary)
        _, primary, canary_name = router_helpers.service_names(canary)
        primary_upstream, canary_upstream = upstream_names(canary)
        for name, svc_name, label in (
            (primary_upstream, primary, "primary"),
            (canary_upstream, canary_name, "canary"),
        ):
            try:
                await self._ensure_upstream(canary, name, svc_name)
            except router_helpers.RouterError as exc:
                raise router_helpers.RouterError(
                    f"error creating flagger {label} upstream: {exc}"
                ) from exc
        await super().reconcile(canary)

    def desired(self, canary: canary_api.Canary) -> JSON:
        return route_table(canary, owner_refs=self.set_owner_refs)

    def routed_spec(
        self, canary: canary_api.Canary, spec: JSON, primary_weight: int, canary_weight: int
    ) -> JSON:
        return route_table_spec(canary, primary_weight, canary_weight)

    def read_routes(self, canary: canary_api.Canary, spec: JSON) -> tuple[int, int, bool]:
        return read_routes(canary, spec)

    async def _ensure_upstream(self, canary: canary_api.Canary, name: str, svc_name: str) -> None:
        ns = canary.namespace
        service = await self._read("v1", "Service", svc_name, ns, "service")
        if service is None:
            raise router_helpers.RouterError(f"service {svc_name}.{ns} get query error: not found")
        if await self._read(GLOO_API_VERSION, "Upstream", name, ns, "upstream") is not None:
            return
        template = None
        ref = canary.spec.upstream_ref
        if ref is not None:
            template = await self._read(
                GLOO_API_VERSION, "Upstream", ref.name, ref.namespace or ns, "config upstream"
            )
            if template is None:
                raise router_helpers.RouterError(
                    f"config upstream {ref.name}.{ref.namespace or ns} get query error: "
                    "not found (spec.upstreamRef)"
                )
        desired = upstream(
            canary,
            name,
            service,
            template,
            include_label_prefixes=self.include_label_prefixes,
            owner_refs=self.set_owner_refs,
        )
        await router_helpers.write(
            self.kube.create, desired, f"upstream {name}.{ns} create query error"
        )
        _log.info(
            "Upstream %s.%s created", name, ns, extra={"canary": router_helpers.canary_id(canary)}
        )

    async def _read(
        self, api_version: str, kind: str, name: str, namespace: str, what: str
    ) -> JSON | None:
        client = self.services if api_version == "v1" else self.kube
        try:
            return await client.get(api_version, kind, name, namespace)
        except Exception as exc:
            raise router_helpers.RouterError(
                f"{what} {name}.{namespace} get query error: {exc}"
            ) from exc


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``gloo`` routing provider."""
    registry.router(NAME, flagger_router)
    registry.rules(
        NAME,
        plugins.route_rules("gloo.solo.io", "upstreams")
        + plugins.route_rules("gateway.solo.io", "routetables"),
    )


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The Gloo router (Flagger also accepts ``gloo:<anything>``)."""
    if name != NAME and not name.startswith(f"{NAME}:"):
        return None
    options = context.options
    prefixes = options.get("include-label-prefix") or ()
    if isinstance(prefixes, str):
        prefixes = tuple(p.strip() for p in prefixes.split(","))
    return GlooRouter(
        context.mesh_kube,
        set_owner_refs=not options.get("kubeconfig-service-mesh"),
        include_label_prefixes=prefixes,
        services=context.kube,
    )


# --- helpers --------------------------------------------------------------------------------


def _destination(canary: canary_api.Canary, name: str, weight: int) -> JSON:
    dest: JSON = {"destination": {"upstream": {"name": name, "namespace": canary.namespace}}}
    if weight:
        dest["weight"] = weight
    return dest


def _matchers(canary: canary_api.Canary) -> list[JSON]:
    """``analysis.match`` headers as one Gloo matcher (Flagger's ``getMatchers``)."""
    analysis = canary.spec.effective_analysis
    headers: list[JSON] = []
    for match in (analysis.match if analysis else None) or []:
        for name, value in (match.headers or {}).items():
            header: JSON = {"name": name}
            if value.regex:
                header.update(value=value.regex, regex=True)
            elif value.exact:
                header["value"] = value.exact
            headers.append(header)
    return [{"headers": headers}] if headers else []


def _destinations(spec: Mapping[str, Any]) -> list[JSON]:
    routes = spec.get("routes") or []
    if not routes:
        return []
    return list(((routes[0].get("routeAction") or {}).get("multi") or {}).get("destinations") or [])


def _without_weights(spec: Mapping[str, Any]) -> JSON:
    routes = []
    for route in spec.get("routes") or []:
        route = router_helpers.deep_copy(dict(route))
        for dest in ((route.get("routeAction") or {}).get("multi") or {}).get("destinations") or []:
            dest.pop("weight", None)
        routes.append(route)
    return {**spec, "routes": routes}


def _upstream_name(dest: Mapping[str, Any]) -> Any:
    return ((dest.get("destination") or {}).get("upstream") or {}).get("name")


def _keep_weights(new: JSON, old: Mapping[str, Any]) -> None:
    """Give ``new`` the weights ``old`` routes, Upstream by Upstream."""
    weights = {_upstream_name(d): d.get("weight") for d in _destinations(old)}
    for dest in _destinations(new):
        name = dest["destination"]["upstream"]["name"]
        if name in weights:
            if weights[name]:
                dest["weight"] = weights[name]
            else:
                dest.pop("weight", None)
