"""The Gateway API routers (``gatewayapi:v1``, ``gatewayapi:v1beta1``): one weighted HTTPRoute.

For a canary whose apex Service is ``podinfo`` Flagger keeps the HTTPRoute ``podinfo``
(``gateway.networking.k8s.io/v1`` or ``/v1beta1``) with:

- ``parentRefs``: ``spec.service.gatewayRefs``, with Gateway API's defaults ``group:
  gateway.networking.k8s.io`` and ``kind: Gateway`` filled in (Flagger's CRD has the API server
  inject them; ours injects no defaults, so the router does);
- ``hostnames``: ``spec.service.hosts``;
- one rule: ``matches`` from ``spec.service.match`` (URI exact/prefix/regex, method, headers and
  query parameters exact/regex; default ``PathPrefix /``) and ``backendRefs`` to
  ``podinfo-primary`` and ``podinfo-canary`` (``group: ""``, ``kind: Service``, the service
  port, the weight).

``gatewayapi:v1`` also writes, as Flagger's ``GatewayAPIRouter`` does:

- ``filters``: request and response header modifiers (``spec.service.headers``; add/set sorted
  by name), a ``URLRewrite`` (``spec.service.rewrite``: ``authority`` → hostname, ``uri`` →
  ``ReplacePrefixMatch`` or, with ``type: ReplaceFullPath``, the full path), a ``CORS`` filter
  (``spec.service.corsPolicy``) and a ``RequestMirror`` per static ``spec.service.mirror``;
- ``timeouts``: ``request`` from ``spec.service.timeout``, ``backendRequest`` from
  ``spec.service.backendTimeout``.

Variations:

- **A/B testing** (``analysis.match``): the first rule matches the A/B conditions merged into
  each ``service.match`` entry and carries both backends; a second rule sends the rest to the
  primary.
- **Blue/green mirroring** (``analysis.mirror`` with ``iterations``, v1 only): ``set_routes``
  with ``mirrored`` adds a ``RequestMirror`` filter to ``podinfo-canary``.
- **Session affinity** (``analysis.sessionAffinity``): while the canary has weight, its
  backendRef sets the cookie (``Set-Cookie`` response header) and a first rule sends requests
  carrying it (``Cookie`` header regex) to the canary; with ``primaryCookieName`` (v1) the
  primary backend sets its own cookie and a second rule sticks those requests to the primary.
  At weight 0 the previous cookie is expired. Cookies live in ``canary.status``, which
  :meth:`GatewayAPIRouter.set_routes` updates in place for the caller to persist.

``gatewayapi:v1beta1`` writes what Flagger's ``GatewayAPIV1Beta1Router`` does: no filters, no
timeouts, no mirroring and no primary cookie. A Canary asking it for those raises
:class:`UnsupportedByProvider` naming ``gatewayapi:v1``, rather than silently dropping them.

``reconcile`` compares the HTTPRoute as Flagger does (weights ignored; with session affinity the
sticky rules and per-backend filters; while a mirrored run is in progress the rule filters) and
writes only when something changed. Annotations other controllers put on the route are kept
(v1). A route that exists already and is not the Canary's is taken over: its spec is first kept
in ``flagger.kubernetes.io/original-configuration`` (unless kubectl's last-applied-configuration
has it), and ``finalize`` writes it back. ``get_routes`` refuses to read weights while a parent
Gateway has not accepted the current generation of the route (v1), as Flagger does.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flagger import plugins, router_helpers
from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.api import durations
from flagger.api import istio_types as istio_api
from flagger.api import status as status_api

from . import istio

__all__ = [
    "GROUP",
    "KIND",
    "NAMES",
    "V1",
    "V1BETA1",
    "Flavor",
    "GatewayAPIRouter",
    "UnsupportedByProvider",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "flavor_for",
    "http_route",
    "http_route_spec",
    "original_spec",
    "parent_refs",
    "plan_http_route_update",
    "read_routes",
    "routed_spec",
]

GROUP = "gateway.networking.k8s.io"
KIND = "HTTPRoute"
GATEWAY_KIND = "Gateway"
COOKIE_HEADER = "Cookie"
SET_COOKIE_HEADER = "Set-Cookie"
REGEX = "RegularExpression"
#: Phases during which a mirrored run keeps its RequestMirror filter (reconcile ignores it).
_MIRROR_PHASES = frozenset(
    {
        status_api.CanaryPhase.WAITING,
        status_api.CanaryPhase.PROGRESSING,
        status_api.CanaryPhase.WAITING_PROMOTION,
    }
)

_log = logging.getLogger(__name__)
JSON = dict[str, Any]
CookieValue = Callable[[], str]


#: The Canary asks its Gateway API provider for something it cannot do.
UnsupportedByProvider = router_helpers.UnsupportedFeature


@dataclasses.dataclass(frozen=True)
class Flavor:
    """One Gateway API provider: its name, the HTTPRoute version, and whether it writes what
    Flagger's v1 router adds (filters, timeouts, mirroring, primary cookie, parent readiness)."""

    provider: str
    version: str
    full: bool

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{self.version}"


V1 = Flavor("gatewayapi:v1", "v1", True)
V1BETA1 = Flavor("gatewayapi:v1beta1", "v1beta1", False)
#: The routing providers this module serves.
NAMES = (V1.provider, V1BETA1.provider)


def flavor_for(provider: str) -> Flavor | None:
    """The flavour for a provider name, by prefix as Flagger's factory matches it (a bare
    ``gatewayapi`` is not one of them)."""
    if provider.startswith(V1BETA1.provider):
        return V1BETA1
    if provider.startswith(V1.provider):
        return V1
    return None


#: Ten random letters, as Flagger's session-affinity cookie values.
random_cookie_value = istio.random_cookie_value


# --- what a canary may ask ------------------------------------------------------------------


def check_supported(canary: canary_api.Canary, flavor: Flavor) -> None:
    """Raise :class:`RouterError` when the HTTPRoute cannot be built for this canary: no
    ``gatewayRefs``, or (v1beta1) a setting only ``gatewayapi:v1`` applies."""
    svc = router_helpers.service(canary)
    who = f"canary {router_helpers.canary_id(canary)}"
    if not svc.gateway_refs:
        raise router_helpers.RouterError(
            f"{who}: GatewayRefs must be specified when using Gateway API as a provider. "
            f"Add spec.service.gatewayRefs (the Gateways the HTTPRoute attaches to) for "
            f"provider {flavor.provider}"
        )
    if flavor.full:
        return
    analysis = canary.spec.effective_analysis
    wanted = [
        ("request/response headers (service.headers)", svc.headers is not None),
        ("URL rewrite (service.rewrite)", svc.rewrite is not None),
        ("CORS (service.corsPolicy)", svc.cors_policy is not None),
        ("request mirrors (service.mirror)", bool(svc.mirror)),
        ("timeouts (service.timeout)", bool(svc.timeout)),
        ("backend timeouts (service.backendTimeout)", bool(svc.backend_timeout)),
        (router_helpers.MIRRORING, bool(analysis and analysis.mirror)),
        (
            "a primary session cookie (analysis.sessionAffinity.primaryCookieName)",
            bool(
                analysis
                and analysis.session_affinity
                and analysis.session_affinity.primary_cookie_name
            ),
        ),
    ]
    router_helpers.refuse_first(
        canary,
        flavor.provider,
        [
            router_helpers.Refusal(feature, (V1.provider,), "or remove the setting")
            for feature, asked in wanted
            if asked
        ],
    )


# --- pure builders --------------------------------------------------------------------------


def parent_refs(canary: canary_api.Canary) -> list[JSON]:
    """``spec.service.gatewayRefs`` as HTTPRoute parentRefs, with Gateway API's defaults."""
    refs: list[JSON] = []
    for ref in router_helpers.service(canary).gateway_refs or []:
        entry: JSON = {
            "group": GROUP if ref.group is None else ref.group,
            "kind": GATEWAY_KIND if ref.kind is None else ref.kind,
            "name": ref.name,
        }
        if ref.namespace is not None:
            entry["namespace"] = ref.namespace
        if ref.section_name is not None:
            entry["sectionName"] = ref.section_name
        if ref.port is not None:
            entry["port"] = ref.port
        refs.append(entry)
    return refs


def http_route_spec(canary: canary_api.Canary, flavor: Flavor) -> JSON:
    """The HTTPRoute spec with all traffic on the primary (what ``reconcile`` writes)."""
    check_supported(canary, flavor)
    _, primary, canary_name = router_helpers.service_names(canary)
    port = router_helpers.service(canary).port
    matches = _service_matches(canary)
    rules = [
        _rule(
            canary,
            flavor,
            matches,
            [_backend_ref(primary, 100, port), _backend_ref(canary_name, 0, port)],
        )
    ]
    _add_ab_rule(canary, flavor, rules, matches)
    return _spec(canary, rules)


def http_route(canary: canary_api.Canary, flavor: Flavor, *, owner_refs: bool = True) -> JSON:
    """The HTTPRoute ``<svc>`` Flagger creates when there is none."""
    spec, meta = http_route_spec(canary, flavor), router_helpers.apex_metadata(canary)
    return router_helpers.new_object(canary, flavor.api_version, KIND, spec, meta, owner_refs)


def plan_http_route_update(
    canary: canary_api.Canary, flavor: Flavor, existing: JSON
) -> JSON | None:
    """The HTTPRoute to write over ``existing``, or ``None`` when nothing Flagger manages changed.

    The spec is compared without what ``set_routes`` owns. Labels become the apex labels;
    annotations the apex annotations plus Flux's opt-outs, keeping (v1) those other controllers
    added, and always the kept original configuration. The spec is left alone when only the
    metadata changed, so an update does not reset the weights of a running analysis.
    """
    want = http_route_spec(canary, flavor)
    labels, annotations = router_helpers.apex_metadata(canary)
    meta: JSON = existing.get("metadata") or {}
    current_annotations: dict[str, str] = dict(meta.get("annotations") or {})
    current_labels: dict[str, str] = dict(meta.get("labels") or {})
    for key, value in current_annotations.items():
        keep = (
            key in (router_helpers.KUBECTL_ANNOTATION, router_helpers.CONFIG_ANNOTATION)
            or flavor.full
        )
        if keep and key not in annotations:
            annotations[key] = value
    current_spec: JSON = existing.get("spec") or {}
    spec_changed = _comparable(canary, flavor, want) != _comparable(canary, flavor, current_spec)
    if not spec_changed and labels == current_labels and annotations == current_annotations:
        return None
    updated = router_helpers.deep_copy(existing)
    updated_meta = updated.setdefault("metadata", {})
    updated_meta["labels"] = labels
    if spec_changed:
        updated["spec"] = want
        router_helpers.save_original_spec(
            annotations,
            current_spec,
            owned=router_helpers.controlled_by(existing, canary, by_uid=True),
            held=current_annotations,
        )
    updated_meta["annotations"] = annotations
    return updated


def routed_spec(
    canary: canary_api.Canary,
    flavor: Flavor,
    primary_weight: int,
    canary_weight: int,
    mirrored: bool,
    *,
    cookie_value: CookieValue = random_cookie_value,
) -> JSON:
    """The HTTPRoute spec for these weights (what ``set_routes`` writes; it replaces the whole
    spec, as Flagger does). With session affinity this updates the cookies in
    ``canary.status``."""
    check_supported(canary, flavor)
    _, primary, canary_name = router_helpers.service_names(canary)
    port = router_helpers.service(canary).port
    matches = _service_matches(canary)
    analysis = canary.spec.effective_analysis
    weighted = _rule(
        canary,
        flavor,
        matches,
        [
            _backend_ref(primary, primary_weight, port),
            _backend_ref(canary_name, canary_weight, port),
        ],
    )
    if mirrored and flavor.full and analysis is not None and (analysis.iterations or 0) > 0:
        mirror = _mirror_filter(_backend_ref(canary_name, None, port))
        weighted.setdefault("filters", []).append(mirror)
    rules = [weighted]
    if analysis is not None and analysis.session_affinity is not None:
        rules = _sticky_rules(canary, flavor, analysis, weighted, canary_weight, cookie_value)
    _add_ab_rule(canary, flavor, rules, matches)
    return _spec(canary, rules)


def read_routes(
    canary: canary_api.Canary, flavor: Flavor, route: Mapping[str, Any]
) -> tuple[int, int, bool]:
    """The (primary weight, canary weight, mirrored) an HTTPRoute routes, read as Flagger reads
    it: the last rule with two backends (with session affinity, the rule whose backends carry
    filters), mirrored when a rule mirrors to the canary. For v1, raises :class:`RouterError`
    while a parent has not accepted the route's current generation."""
    _, primary, canary_name = router_helpers.service_names(canary)
    spec: Mapping[str, Any] = route.get("spec") or {}
    if flavor.full:
        _check_parents(canary, route)
    analysis = canary.spec.effective_analysis
    affinity = analysis is not None and analysis.session_affinity is not None
    primary_weight = canary_weight = 0
    mirrored = False
    weighted: Mapping[str, Any] | None = None
    for rule in spec.get("rules") or []:
        backends = rule.get("backendRefs") or []
        if affinity and any(b.get("filters") for b in backends):
            weighted = rule
        if len(backends) == 2:
            primary_weight, canary_weight = _weights(
                backends, primary, canary_name, (primary_weight, canary_weight)
            )
        for item in rule.get("filters") or []:
            target = ((item.get("requestMirror") or {}).get("backendRef") or {}).get("name")
            if item.get("type") == "RequestMirror" and target == canary_name:
                mirrored = True
    if weighted is not None:
        primary_weight, canary_weight = _weights(
            weighted.get("backendRefs") or [], primary, canary_name, (primary_weight, canary_weight)
        )
    return primary_weight, canary_weight, mirrored


def original_spec(obj: Mapping[str, Any]) -> JSON | None:
    """The spec kept before Flagger took the HTTPRoute over, or ``None`` when none was kept."""
    return router_helpers.original_spec(obj, KIND)


# --- the router -----------------------------------------------------------------------------


class GatewayAPIRouter:
    """Reconciles a canary's HTTPRoute and moves its weights."""

    def __init__(
        self,
        kube: router_helpers.KubeClient,
        flavor: Flavor = V1,
        *,
        set_owner_refs: bool = True,
        cookie_value: CookieValue = random_cookie_value,
    ) -> None:
        self.kube = kube
        self.flavor = flavor
        self.set_owner_refs = set_owner_refs
        self.cookie_value = cookie_value

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create the HTTPRoute, or update it when what Flagger manages changed."""
        where = _where(canary)
        existing = await self._get(canary, required=False)
        await router_helpers.create_or_update(
            self.kube,
            canary,
            existing,
            where,
            desired=lambda: http_route(canary, self.flavor, owner_refs=self.set_owner_refs),
            plan=lambda found: plan_http_route_update(canary, self.flavor, found),
            log=_log,
            update_error="update error while reconciling",
        )

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Route ``primary_weight``/``canary_weight`` percent (and mirror when asked)."""
        existing = await self._get(canary, required=True)
        assert existing is not None
        spec = routed_spec(
            canary,
            self.flavor,
            primary_weight,
            canary_weight,
            mirrored,
            cookie_value=self.cookie_value,
        )
        if spec != existing.get("spec"):
            await router_helpers.write(
                self.kube.replace,
                {**existing, "spec": spec},
                f"{_where(canary)} update error while setting weights",
            )

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """The weights and mirroring the HTTPRoute currently routes."""
        existing = await self._get(canary, required=True)
        assert existing is not None
        return read_routes(canary, self.flavor, existing)

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Give a taken-over HTTPRoute back its original spec (nothing to do otherwise)."""
        existing = await self._get(canary, required=False)
        if existing is None:
            return
        if await router_helpers.give_back(
            self.kube, canary, existing, original_spec(existing), _where(canary)
        ):
            _log.info(
                "%s restored", _where(canary), extra={"canary": router_helpers.canary_id(canary)}
            )

    async def _get(self, canary: canary_api.Canary, *, required: bool) -> JSON | None:
        apex, _, _ = router_helpers.service_names(canary)
        try:
            found = await self.kube.get(self.flavor.api_version, KIND, apex, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(f"{_where(canary)} get error: {exc}") from exc
        if found is None and required:
            raise router_helpers.RouterError(f"{_where(canary)} get error: not found")
        return found


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``gatewayapi:v1`` and ``gatewayapi:v1beta1``."""
    registry.router(NAMES, flagger_router)
    registry.rules("gatewayapi", plugins.route_rules("gateway.networking.k8s.io", "httproutes"))


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The Gateway API router for ``gatewayapi:v1*`` names (no owner references with a separate
    mesh cluster, ``-kubeconfig-service-mesh``)."""
    flavor = flavor_for(name)
    if flavor is None:
        return None
    options = context.options
    remote_mesh = options.get("kubeconfig-service-mesh") or options.get("kubeconfig_service_mesh")
    return GatewayAPIRouter(context.mesh_kube, flavor, set_owner_refs=not remote_mesh)


# --- helpers --------------------------------------------------------------------------------


def _where(canary: canary_api.Canary) -> str:
    apex, _, _ = router_helpers.service_names(canary)
    return f"HTTPRoute {apex}.{canary.namespace}"


def _spec(canary: canary_api.Canary, rules: list[JSON]) -> JSON:
    spec: JSON = {"parentRefs": parent_refs(canary)}
    hosts = router_helpers.service(canary).hosts
    if hosts:
        spec["hostnames"] = list(hosts)
    spec["rules"] = rules
    return spec


def _backend_ref(name: str, weight: int | None, port: int) -> JSON:
    ref: JSON = {"group": "", "kind": "Service", "name": name, "port": port}
    if weight is not None:
        ref["weight"] = weight
    return ref


def _rule(
    canary: canary_api.Canary, flavor: Flavor, matches: list[JSON], backends: list[JSON]
) -> JSON:
    rule: JSON = {"matches": copy.deepcopy(matches)}
    if flavor.full:
        filters = _filters(canary, flavor.provider)
        if filters:
            rule["filters"] = filters
    rule["backendRefs"] = backends
    if flavor.full:
        timeouts = _timeouts(canary)
        if timeouts:
            rule["timeouts"] = timeouts
    return rule


def _add_ab_rule(
    canary: canary_api.Canary, flavor: Flavor, rules: list[JSON], matches: list[JSON]
) -> None:
    """A/B testing: the first rule gets the merged A/B conditions and a default rule sends the
    rest to the primary."""
    analysis = canary.spec.effective_analysis
    if analysis is None or not analysis.match:
        return
    _, primary, _ = router_helpers.service_names(canary)
    conditions = _map_matches(canary, analysis.match, "analysis.match")
    rules[0]["matches"] = _merge_matches(conditions, matches)
    rules.append(
        _rule(
            canary,
            flavor,
            matches,
            [_backend_ref(primary, 100, router_helpers.service(canary).port)],
        )
    )


def _service_matches(canary: canary_api.Canary) -> list[JSON]:
    matches = _map_matches(canary, router_helpers.service(canary).match or [], "service.match")
    return matches or [{"path": {"type": "PathPrefix", "value": "/"}}]


def _unsupported_match(canary: canary_api.Canary, field: str, what: str, given: Any) -> None:
    raise router_helpers.RouterError(
        f"canary {router_helpers.canary_id(canary)}: "
        "Invalid request matching selectors: Gateway API "
        f"doesn't support the specified {what} matching selector in {field}: {given}; "
        "use exact or regex"
    )


def _string_match(
    canary: canary_api.Canary,
    field: str,
    what: str,
    name: str,
    match: istio_api.StringMatch | istio_api.HeaderMatch,
) -> JSON:
    if match.exact:
        return {"type": "Exact", "name": name, "value": match.exact}
    if match.regex:
        return {"type": REGEX, "name": name, "value": match.regex}
    _unsupported_match(canary, field, what, {name: match.to_dict()})
    raise AssertionError("unreachable")


def _map_matches(
    canary: canary_api.Canary,
    requested: Sequence[istio_api.HTTPMatchRequest | istio_api.CanaryMatch],
    field: str,
) -> list[JSON]:
    """Istio-style match conditions as HTTPRouteMatches (Flagger's ``mapRouteMatches``)."""
    found: list[JSON] = []
    for request in requested:
        match: JSON = {}
        if isinstance(request, istio_api.HTTPMatchRequest):
            if request.uri is not None:
                if request.uri.regex:
                    match["path"] = {"type": REGEX, "value": request.uri.regex}
                elif request.uri.exact:
                    match["path"] = {"type": "Exact", "value": request.uri.exact}
                elif request.uri.prefix:
                    match["path"] = {"type": "PathPrefix", "value": request.uri.prefix}
                else:
                    _unsupported_match(canary, field, "path", request.uri.to_dict())
            if request.method is not None:
                if not request.method.exact:
                    _unsupported_match(canary, field, "method", request.method.to_dict())
                match["method"] = request.method.exact
        headers = [
            _string_match(canary, field, "header", name, value)
            for name, value in (request.headers or {}).items()
        ]
        if headers:
            match["headers"] = headers
        params = [
            _string_match(canary, field, "query", name, value)
            for name, value in (request.query_params or {}).items()
        ]
        if params:
            match["queryParams"] = params
        if match:
            found.append(match)
    return found


def _merge_matches(conditions: list[JSON], defaults: list[JSON]) -> list[JSON]:
    """Each A/B condition combined with each service match: the service match with the
    condition's headers and query parameters (Flagger's ``mergeMatchConditions``)."""
    if not conditions:
        return copy.deepcopy(defaults)
    if not defaults:
        return copy.deepcopy(conditions)
    merged: list[JSON] = []
    for condition in conditions:
        for default in defaults:
            entry = router_helpers.deep_copy(default)
            for key in ("headers", "queryParams"):
                if condition.get(key):
                    entry[key] = copy.deepcopy(condition[key])
            merged.append(entry)
    return merged


def _header_list(values: Mapping[str, str] | None) -> list[JSON]:
    return [{"name": k, "value": v} for k, v in sorted((values or {}).items())]


def _header_filter(kind: str, key: str, ops: istio_api.HeaderOperations) -> JSON:
    modifier: JSON = {}
    if ops.set:
        modifier["set"] = _header_list(ops.set)
    if ops.add:
        modifier["add"] = _header_list(ops.add)
    if ops.remove:
        modifier["remove"] = list(ops.remove)
    return {"type": kind, key: modifier}


def _filters(canary: canary_api.Canary, provider: str) -> list[JSON]:
    """The rule filters of ``gatewayapi:v1`` (Flagger's ``makeFilters``), in Flagger's order:
    request headers, response headers, URL rewrite, then CORS and the static mirrors."""
    svc = router_helpers.service(canary)
    filters: list[JSON] = []
    if svc.headers is not None:
        if svc.headers.request is not None:
            filters.append(
                _header_filter(
                    "RequestHeaderModifier", "requestHeaderModifier", svc.headers.request
                )
            )
        if svc.headers.response is not None:
            filters.append(
                _header_filter(
                    "ResponseHeaderModifier", "responseHeaderModifier", svc.headers.response
                )
            )
    if svc.rewrite is not None:
        rewrite: JSON = {}
        if svc.rewrite.authority:
            rewrite["hostname"] = svc.rewrite.authority
        if svc.rewrite.uri:
            if svc.rewrite.type == "ReplaceFullPath":
                rewrite["path"] = {"type": "ReplaceFullPath", "replaceFullPath": svc.rewrite.uri}
            else:
                rewrite["path"] = {
                    "type": "ReplacePrefixMatch",
                    "replacePrefixMatch": svc.rewrite.uri,
                }
        filters.append({"type": "URLRewrite", "urlRewrite": rewrite})
    if svc.cors_policy is not None:
        filters.append({"type": "CORS", "cors": _cors(canary, provider, svc.cors_policy)})
    for mirror in svc.mirror or []:
        ref = mirror.backend_ref
        backend: JSON = {
            "group": "" if ref.group is None else ref.group,
            "kind": "Service" if ref.kind is None else ref.kind,
            "name": ref.name,
        }
        if ref.namespace is not None:
            backend["namespace"] = ref.namespace
        if ref.port is not None:
            backend["port"] = ref.port
        filters.append(_mirror_filter(backend))
    return filters


def _mirror_filter(backend: JSON) -> JSON:
    return {"type": "RequestMirror", "requestMirror": {"backendRef": backend}}


def _cors(canary: canary_api.Canary, provider: str, policy: istio_api.CorsPolicy) -> JSON:
    """An Istio CorsPolicy as a Gateway API ``HTTPCORSFilter``. Gateway API origins are exact
    (with ``*`` wildcards), so prefix and regex origins cannot be expressed."""
    origins = list(policy.allow_origin or [])
    for origin in policy.allow_origins or []:
        if origin.exact is None:
            raise UnsupportedByProvider(
                canary,
                provider,
                f"the CORS origin {origin.to_dict()} in service.corsPolicy.allowOrigins",
                "Gateway API CORS origins must be exact (or use * wildcards)",
            )
        origins.append(origin.exact)
    cors: JSON = {}
    if origins:
        cors["allowOrigins"] = origins
    if policy.allow_credentials is not None:
        cors["allowCredentials"] = policy.allow_credentials
    for key, values in (
        ("allowMethods", policy.allow_methods),
        ("allowHeaders", policy.allow_headers),
        ("exposeHeaders", policy.expose_headers),
    ):
        if values:
            cors[key] = list(values)
    if policy.max_age:
        try:
            cors["maxAge"] = int(durations.parse_duration(policy.max_age))
        except ValueError as exc:
            raise router_helpers.RouterError(
                f"canary {router_helpers.canary_id(canary)}: service.corsPolicy.maxAge: {exc}"
            ) from exc
    return cors


def _timeouts(canary: canary_api.Canary) -> JSON:
    svc = router_helpers.service(canary)
    timeouts: JSON = {}
    if svc.timeout:
        timeouts["request"] = svc.timeout
    if svc.backend_timeout:
        timeouts["backendRequest"] = svc.backend_timeout
    return timeouts


def _cookie_match(canary: canary_api.Canary, cookie: str) -> list[JSON]:
    name, _, value = cookie.partition("=")
    condition = {
        "headers": [{"type": REGEX, "name": COOKIE_HEADER, "value": f".*{name}.*{value}.*"}]
    }
    return _merge_matches(
        [condition],
        _map_matches(canary, router_helpers.service(canary).match or [], "service.match"),
    )


def _set_cookie(value: str) -> JSON:
    return {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"add": [{"name": SET_COOKIE_HEADER, "value": value}]},
    }


def _sticky_rules(
    canary: canary_api.Canary,
    flavor: Flavor,
    analysis: analysis_api.CanaryAnalysis,
    weighted: JSON,
    canary_weight: int,
    cookie_value: CookieValue,
) -> list[JSON]:
    """The session-affinity rules followed by the weighted rule (Flagger's
    ``getSessionAffinityRouteRules``); updates the cookies in ``canary.status``."""
    affinity = analysis.session_affinity
    assert affinity is not None
    _, primary, canary_name = router_helpers.service_names(canary)
    port = router_helpers.service(canary).port
    if canary.status is None:
        canary.status = status_api.CanaryStatus()
    status = canary.status
    sticky = router_helpers.deep_copy(weighted)
    if canary_weight != 0:
        if not status.session_affinity_cookie:
            status.session_affinity_cookie = f"{affinity.cookie_name}={cookie_value()}"
        for ref in weighted["backendRefs"]:
            if ref["name"] == canary_name:
                cookie = istio.build_cookie(affinity, status.session_affinity_cookie)
                ref.setdefault("filters", []).append(_set_cookie(cookie))
        primary_cookie_name = affinity.primary_cookie_name if flavor.full else None
        if primary_cookie_name:
            if not status.primary_session_affinity_cookie:
                status.primary_session_affinity_cookie = f"{primary_cookie_name}={cookie_value()}"
            max_age = _interval_seconds(canary, analysis)
            for ref in weighted["backendRefs"]:
                if ref["name"] == primary:
                    ref.setdefault("filters", []).append(
                        _set_cookie(f"{status.primary_session_affinity_cookie}; Max-Age={max_age}")
                    )
        sticky["matches"] = _cookie_match(canary, status.session_affinity_cookie)
        sticky["backendRefs"] = [
            _backend_ref(primary, 0, port),
            _backend_ref(canary_name, 100, port),
        ]
        if primary_cookie_name and status.primary_session_affinity_cookie:
            to_primary = router_helpers.deep_copy(weighted)
            for ref in to_primary["backendRefs"]:
                ref.pop("filters", None)
            to_primary["matches"] = _cookie_match(canary, status.primary_session_affinity_cookie)
            to_primary["backendRefs"] = [
                _backend_ref(primary, 100, port),
                _backend_ref(canary_name, 0, port),
            ]
            return [sticky, to_primary, weighted]
        return [sticky, weighted]

    if status.session_affinity_cookie:
        status.previous_session_affinity_cookie = status.session_affinity_cookie
    previous = status.previous_session_affinity_cookie
    if previous:
        sticky["matches"] = _cookie_match(canary, previous)
        sticky.setdefault("filters", []).append(_set_cookie(f"{previous}; Max-Age=-1"))
    status.session_affinity_cookie = None
    status.primary_session_affinity_cookie = None
    return [sticky, weighted]


def _interval_seconds(canary: canary_api.Canary, analysis: analysis_api.CanaryAnalysis) -> int:
    try:
        return int(durations.parse_duration(analysis.interval or ""))
    except ValueError as exc:
        raise router_helpers.RouterError(
            f"canary {router_helpers.canary_id(canary)}: failed to parse canary interval: {exc}"
        ) from exc


def _weights(
    backends: Iterable[Mapping[str, Any]], primary: str, canary_name: str, start: tuple[int, int]
) -> tuple[int, int]:
    return router_helpers.routed_weights(
        backends, primary, canary_name, name=lambda b: b.get("name"), start=start
    )


def _check_parents(canary: canary_api.Canary, route: Mapping[str, Any]) -> None:
    apex, _, _ = router_helpers.service_names(canary)
    generation = int((route.get("metadata") or {}).get("generation") or 0)
    parents = (route.get("status") or {}).get("parents") or []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        for parent in parents:
            if parent.get("parentRef") != ref:
                continue
            for condition in parent.get("conditions") or []:
                observed = int(condition.get("observedGeneration") or 0)
                if condition.get("type") == "Accepted" and (
                    condition.get("status") != "True" or observed < generation
                ):
                    raise router_helpers.RouterError(
                        f"HTTPRoute {apex}.{canary.namespace} parent {ref.get('name')} is not "
                        f"ready (status: {condition.get('status')}, observed generation: "
                        f"{observed}, current generation: {generation})"
                    )


def _prune_empty(value: Any) -> Any:
    """Drop empty lists, maps and nulls, as Flagger's comparison treats them as absent."""
    if isinstance(value, Mapping):
        pruned = {k: _prune_empty(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_prune_empty(v) for v in value]
    return value


def _comparable(canary: canary_api.Canary, flavor: Flavor, spec: Mapping[str, Any]) -> JSON:
    """A spec without what ``set_routes`` owns: weights; with session affinity the sticky rules
    and per-backend filters; while a mirrored run is in progress (v1), the rule filters."""
    analysis = canary.spec.effective_analysis
    affinity = analysis.session_affinity if analysis is not None else None
    phase = canary.status.effective_phase if canary.status is not None else None
    ignore_filters = bool(
        flavor.full and analysis is not None and analysis.mirror and phase in _MIRROR_PHASES
    )
    cookie_names = []
    if affinity is not None:
        cookie_names.append(affinity.cookie_name)
        if flavor.full:
            cookie_names.append(affinity.primary_cookie_name or "")
    result = router_helpers.deep_copy(dict(spec))
    rules = []
    for rule in result.get("rules") or []:
        if cookie_names and _is_sticky(rule, cookie_names):
            continue
        if ignore_filters:
            rule.pop("filters", None)
        for ref in rule.get("backendRefs") or []:
            ref.pop("weight", None)
            if affinity is not None:
                ref.pop("filters", None)
        rules.append(rule)
    result["rules"] = rules
    pruned: JSON = _prune_empty(result)
    return pruned


def _is_sticky(rule: Mapping[str, Any], cookie_names: Sequence[str]) -> bool:
    for match in rule.get("matches") or []:
        for header in match.get("headers") or []:
            if (
                header.get("type") == REGEX
                and header.get("name") == COOKIE_HEADER
                and any(n in str(header.get("value") or "") for n in cookie_names)
            ):
                return True
    return False
