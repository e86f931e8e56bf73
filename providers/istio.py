"""The ``istio`` router: DestinationRules and a weighted VirtualService.

For a canary whose apex Service is ``podinfo`` Flagger keeps (``networking.istio.io/v1beta1``):

- DestinationRules ``podinfo-primary`` and ``podinfo-canary`` (host = their name) carrying
  ``spec.service.trafficPolicy``;
- VirtualService ``podinfo`` with ``hosts`` (``spec.service.hosts`` plus the apex name unless
  it or ``*`` is listed) and ``gateways`` (default ``mesh``); one HTTP route with
  ``spec.service`` ``match``, ``rewrite``, ``timeout``, ``retries``, ``corsPolicy``, ``headers``
  and the weighted destinations ``podinfo-primary`` / ``podinfo-canary``.

Variations, as Flagger builds them:

- **A/B testing** (``analysis.match``): two routes, the first with the A/B conditions (merged
  with ``service.match``) and both destinations, the second the default route to the primary.
- **Mirroring**: ``mirror: {host: podinfo-canary}`` and ``mirrorPercentage`` (``mirrorWeight``).
- **Session affinity**: while the canary gets traffic its responses set a cookie
  (``analysis.sessionAffinity``), and a ``sticky-route`` sends requests carrying that cookie to
  the canary; when the weight returns to zero the cookie is expired. The cookie lives in the
  Canary status (``sessionAffinityCookie``): :meth:`IstioRouter.set_routes` updates
  ``canary.status`` in place and the caller persists it.
- **Delegation**: a delegate VirtualService has no hosts and no gateways.
- **TCP** (``appProtocol: tcp``): a TCP route with the ports of ``service.match``.

A VirtualService that exists already is taken over: before its spec is first replaced it is
saved in ``flagger.kubernetes.io/original-configuration`` (unless kubectl's
last-applied-configuration has it), and ``finalize`` writes it back. ``reconcile`` ignores
weights, mirroring and session-affinity routes when it decides whether anything changed, and
writes only when something did.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flagger import plugins, router_helpers
from flagger.api import analysis as analysis_api
from flagger.api import canary as canary_api
from flagger.api import status as status_api

__all__ = [
    "API_VERSION",
    "NAME",
    "IstioRouter",
    "build_cookie",
    "destination_rule",
    "flagger_register",
    "flagger_router",
    "original_spec",
    "plan_virtual_service_update",
    "read_routes",
    "routed_spec",
    "virtual_service",
    "virtual_service_spec",
]

NAME = "istio"
API_VERSION = "networking.istio.io/v1beta1"
STICKY_ROUTE = "sticky-route"
STICKY_PRIMARY_ROUTE = "sticky-route-primary"
COOKIE_HEADER = "Cookie"
SET_COOKIE_HEADER = "Set-Cookie"

_log = logging.getLogger(__name__)
JSON = dict[str, Any]
CookieValue = Callable[[], str]


def random_cookie_value() -> str:
    """Ten random letters, as Flagger's session-affinity cookie values."""
    return "".join(secrets.choice(string.ascii_letters) for _ in range(10))


# --- pure builders --------------------------------------------------------------------------


def destination_rule(canary: canary_api.Canary, name: str, *, owner_refs: bool = True) -> JSON:
    """The DestinationRule ``name`` (``<svc>-primary`` or ``<svc>-canary``)."""
    spec = _destination_rule_spec(canary, name)
    return router_helpers.new_object(
        canary, API_VERSION, "DestinationRule", spec, owner_refs=owner_refs, name=name
    )


def virtual_service_spec(canary: canary_api.Canary) -> JSON:
    """The VirtualService spec with all traffic on the primary (what ``reconcile`` writes)."""
    svc = router_helpers.service(canary)
    apex, primary, canary_name = router_helpers.service_names(canary)
    if svc.delegation and (svc.hosts or svc.gateways):
        raise router_helpers.RouterError(
            f"VirtualService {apex}.{canary.namespace} cannot have hosts and gateways "
            "when delegation enabled"
        )
    hosts = list(svc.hosts or [])
    if not any(h in (apex, "*") for h in hosts):
        hosts.append(apex)
    gateways = svc.effective_gateways
    if svc.delegation:
        hosts, gateways = [], []
    spec: JSON = {"hosts": hosts}
    if gateways:
        spec["gateways"] = gateways
    route = [_destination(canary, primary, 100), _destination(canary, canary_name, 0)]
    if _is_tcp(canary):
        spec["tcp"] = [_tcp_route(canary, route)]
        return spec
    analysis = canary.spec.effective_analysis
    if analysis is not None and analysis.match:
        spec["http"] = [
            _http_route(canary, _ab_match(canary), route),
            _http_route(canary, _service_match(canary), [_destination(canary, primary, 100)]),
        ]
    else:
        spec["http"] = [_http_route(canary, _service_match(canary), route)]
    return spec


def virtual_service(canary: canary_api.Canary, *, owner_refs: bool = True) -> JSON:
    """The VirtualService ``<svc>`` Flagger creates when there is none."""
    meta = router_helpers.apex_metadata(canary)
    spec = virtual_service_spec(canary)
    return router_helpers.new_object(canary, API_VERSION, "VirtualService", spec, meta, owner_refs)


def plan_virtual_service_update(canary: canary_api.Canary, existing: JSON) -> JSON | None:
    """The VirtualService to write over ``existing``, or ``None`` when nothing changed.

    Weights, mirroring and (with session affinity) the sticky routes and per-destination
    headers are not compared: they belong to ``set_routes``. When the spec is replaced on an
    object without kubectl's last-applied-configuration, the spec being replaced is kept in the
    original-configuration annotation, unless one is kept already.
    """
    want_spec = virtual_service_spec(canary)
    labels, annotations = router_helpers.apex_metadata(canary)
    meta: JSON = existing.get("metadata") or {}
    current_annotations: dict[str, str] = dict(meta.get("annotations") or {})
    current_labels: dict[str, str] = dict(meta.get("labels") or {})
    for key in (router_helpers.KUBECTL_ANNOTATION, router_helpers.CONFIG_ANNOTATION):
        if key in current_annotations:
            annotations[key] = current_annotations[key]
    current_spec: JSON = router_helpers.deep_copy(existing.get("spec") or {})
    if router_helpers.service(canary).delegation:
        current_spec["hosts"] = []
        current_spec.pop("gateways", None)
    spec_changed = _comparable(canary, want_spec) != _comparable(canary, current_spec)
    if not spec_changed and labels == current_labels and annotations == current_annotations:
        return None
    updated = router_helpers.deep_copy(existing)
    updated["spec"] = want_spec
    updated_meta = updated.setdefault("metadata", {})
    updated_meta["labels"] = labels
    if spec_changed:
        # Istio keeps the replaced spec even on a VirtualService the Canary owns (as Flagger).
        router_helpers.save_original_spec(annotations, current_spec, owned=False)
    updated_meta["annotations"] = annotations
    return updated


def routed_spec(
    canary: canary_api.Canary,
    spec: JSON,
    primary_weight: int,
    canary_weight: int,
    mirrored: bool,
    *,
    cookie_value: CookieValue = random_cookie_value,
) -> JSON:
    """``spec`` with the routes for these weights (what ``set_routes`` writes).

    With session affinity this updates the cookies in ``canary.status``.
    """
    _, primary, canary_name = router_helpers.service_names(canary)
    new = router_helpers.deep_copy(spec)
    route = [
        _destination(canary, primary, primary_weight),
        _destination(canary, canary_name, canary_weight),
    ]
    if _is_tcp(canary):
        new["tcp"] = [_tcp_route(canary, route)]
        return new

    weighted = _http_route(canary, _service_match(canary), route)
    http = [weighted]
    analysis = canary.spec.effective_analysis
    affinity = analysis.session_affinity if analysis is not None else None
    if affinity is not None:
        http = _sticky_routes(canary, affinity, weighted, canary_weight, cookie_value)
    if mirrored:
        http[0]["mirror"] = {"host": canary_name}
        if analysis is not None and analysis.mirror_weight and analysis.mirror_weight > 0:
            http[0]["mirrorPercentage"] = {"value": analysis.mirror_weight}
    if analysis is not None and analysis.match:
        http = [
            _http_route(
                canary,
                _ab_match(canary),
                [
                    _destination(canary, primary, primary_weight),
                    _destination(canary, canary_name, canary_weight),
                ],
            ),
            _http_route(
                canary, _service_match(canary), [_destination(canary, primary, primary_weight)]
            ),
        ]
    new["http"] = http
    return new


def read_routes(canary: canary_api.Canary, spec: Mapping[str, Any]) -> tuple[int, int, bool]:
    """The (primary weight, canary weight, mirrored) a VirtualService spec routes.

    Raises :class:`RouterError` when neither destination has any weight.
    """
    apex, primary, canary_name = router_helpers.service_names(canary)
    mirrored = False
    routes = spec.get("tcp") if _is_tcp(canary) else spec.get("http")
    chosen: Mapping[str, Any] = {}
    for candidate in routes or []:
        if any(_host(d) == canary_name for d in candidate.get("route") or []):
            chosen = candidate
    primary_weight, canary_weight = router_helpers.routed_weights(
        chosen.get("route") or [], primary, canary_name, name=_host
    )
    if not _is_tcp(canary):
        mirrored = bool((chosen.get("mirror") or {}).get("host"))
        analysis = canary.spec.effective_analysis
        if analysis is not None and analysis.session_affinity is not None:
            for candidate in spec.get("http") or []:
                with_headers = [
                    d for d in candidate.get("route") or [] if d.get("headers") is not None
                ]
                primary_weight, canary_weight = router_helpers.routed_weights(
                    with_headers,
                    primary,
                    canary_name,
                    name=_host,
                    start=(primary_weight, canary_weight),
                )
    router_helpers.require_routes(
        f"VirtualService {apex}.{canary.namespace}",
        primary,
        canary_name,
        (primary_weight, canary_weight),
    )
    return primary_weight, canary_weight, mirrored


def original_spec(obj: Mapping[str, Any]) -> JSON | None:
    """The spec kept before Flagger took the object over, or ``None`` when none was kept."""
    return router_helpers.original_spec(obj, "VirtualService")


def build_cookie(affinity: analysis_api.SessionAffinity, cookie: str) -> str:
    """The ``Set-Cookie`` value for ``name=value`` with the configured attributes."""
    parts = [cookie, f"Max-Age={affinity.effective_max_age}"]
    if affinity.domain:
        parts.append(f"Domain={affinity.domain}")
    if affinity.http_only:
        parts.append("HttpOnly")
    if affinity.partitioned:
        parts.append("Partitioned")
    if affinity.path:
        parts.append(f"Path={affinity.path}")
    if affinity.same_site:
        parts.append(f"SameSite={affinity.same_site}")
    if affinity.secure:
        parts.append("Secure")
    return "; ".join(parts)


# --- the router -----------------------------------------------------------------------------


class IstioRouter:
    """Reconciles a canary's DestinationRules and VirtualService and moves its weights."""

    def __init__(self, kube: router_helpers.KubeClient, *, set_owner_refs: bool = True) -> None:
        self.kube = kube
        self.set_owner_refs = set_owner_refs

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create or update ``<svc>-canary``, ``<svc>-primary`` and the VirtualService."""
        _, primary, canary_name = router_helpers.service_names(canary)
        for name in (canary_name, primary):
            await self._reconcile_destination_rule(canary, name)
        await self._reconcile_virtual_service(canary)

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Route ``primary_weight``/``canary_weight`` percent (and mirror when asked)."""
        existing = await self._get_virtual_service(canary)
        updated = dict(existing)
        updated["spec"] = routed_spec(
            canary, existing.get("spec") or {}, primary_weight, canary_weight, mirrored
        )
        if updated["spec"] != existing.get("spec"):
            apex, _, _ = router_helpers.service_names(canary)
            await router_helpers.write(
                self.kube.replace,
                updated,
                f"VirtualService {apex}.{canary.namespace} update failed",
            )

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """The weights and mirroring the VirtualService currently routes."""
        existing = await self._get_virtual_service(canary)
        return read_routes(canary, existing.get("spec") or {})

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Give the VirtualService back the spec it had before Flagger took it over."""
        apex, _, _ = router_helpers.service_names(canary)
        existing = await self.kube.get(API_VERSION, "VirtualService", apex, canary.namespace)
        if existing is None:
            return
        await router_helpers.give_back(
            self.kube,
            canary,
            existing,
            original_spec(existing),
            f"VirtualService {apex}.{canary.namespace}",
            log=_log,
        )

    async def _reconcile_destination_rule(self, canary: canary_api.Canary, name: str) -> None:
        where = f"DestinationRule {name}.{canary.namespace}"
        try:
            existing = await self.kube.get(API_VERSION, "DestinationRule", name, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(f"{where} get query error: {exc}") from exc
        want = _destination_rule_spec(canary, name)
        await router_helpers.create_or_update(
            self.kube,
            canary,
            existing,
            where,
            desired=lambda: destination_rule(canary, name, owner_refs=self.set_owner_refs),
            plan=lambda found: None if found.get("spec") == want else {**found, "spec": want},
            log=_log,
        )

    async def _reconcile_virtual_service(self, canary: canary_api.Canary) -> None:
        apex, _, _ = router_helpers.service_names(canary)
        where = f"VirtualService {apex}.{canary.namespace}"
        try:
            existing = await self.kube.get(API_VERSION, "VirtualService", apex, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(f"{where} get query error {exc}") from exc
        await router_helpers.create_or_update(
            self.kube,
            canary,
            existing,
            where,
            desired=lambda: virtual_service(canary, owner_refs=self.set_owner_refs),
            plan=lambda found: plan_virtual_service_update(canary, found),
            log=_log,
        )

    async def _get_virtual_service(self, canary: canary_api.Canary) -> JSON:
        apex, _, _ = router_helpers.service_names(canary)
        where = f"VirtualService {apex}.{canary.namespace}"
        try:
            found = await self.kube.get(API_VERSION, "VirtualService", apex, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(f"{where} get query error {exc}") from exc
        if found is None:
            raise router_helpers.RouterError(f"{where} get query error not found")
        return found


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``istio`` routing provider."""
    registry.router(NAME, flagger_router)
    registry.rules(
        NAME, plugins.route_rules("networking.istio.io", "virtualservices", "destinationrules")
    )


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The Istio router. With a separate mesh cluster (``-kubeconfig-service-mesh``) the objects
    get no owner references, since the Canary lives in another cluster."""
    if name != NAME:
        return None
    options = context.options
    remote_mesh = options.get("kubeconfig-service-mesh") or options.get("kubeconfig_service_mesh")
    return IstioRouter(context.mesh_kube, set_owner_refs=not remote_mesh)


# --- helpers --------------------------------------------------------------------------------


def _is_tcp(canary: canary_api.Canary) -> bool:
    return (router_helpers.service(canary).app_protocol or "").lower() == "tcp"


def _host(dest: Mapping[str, Any]) -> str:
    return str((dest.get("destination") or {}).get("host") or "")


def _destination_rule_spec(canary: canary_api.Canary, name: str) -> JSON:
    spec: JSON = {"host": name}
    policy = router_helpers.service(canary).traffic_policy
    if policy is not None:
        spec["trafficPolicy"] = policy.to_dict()
    return spec


def _destination(canary: canary_api.Canary, host: str, weight: int) -> JSON:
    """A weighted destination; it names the port when port discovery is on and the route
    serves an ingress gateway or is a delegate (Flagger's ``makeDestination``)."""
    svc = router_helpers.service(canary)
    destination: JSON = {"host": host}
    gateways = svc.gateways or []
    if svc.port_discovery and ((gateways and gateways[0] != "mesh") or svc.delegation):
        destination["port"] = {"number": svc.port}
    return {"destination": destination, "weight": weight}


def _service_match(canary: canary_api.Canary) -> list[JSON]:
    return [m.to_dict() for m in router_helpers.service(canary).match or []]


def _ab_match(canary: canary_api.Canary) -> list[JSON]:
    analysis = canary.spec.effective_analysis
    conditions = [m.to_dict() for m in (analysis.match if analysis else None) or []]
    return _merge_match(conditions, _service_match(canary))


def _merge_match(conditions: Sequence[JSON], defaults: Sequence[JSON]) -> list[JSON]:
    """Each condition combined with each ``service.match`` entry: the entry's fields with the
    condition's headers and source labels (Flagger's ``mergeMatchConditions``)."""
    if not defaults:
        return [router_helpers.deep_copy(c) for c in conditions]
    merged: list[JSON] = []
    for condition in conditions:
        for default in defaults:
            entry = router_helpers.deep_copy(default)
            for key in ("headers", "sourceLabels"):
                if condition.get(key) is not None:
                    entry[key] = router_helpers.deep_copy(condition[key])
            merged.append(entry)
    return merged


def _http_route(canary: canary_api.Canary, match: list[JSON], route: list[JSON]) -> JSON:
    """An HTTP route with the ``spec.service`` settings Flagger copies onto every route."""
    svc = router_helpers.service(canary)
    http: JSON = {}
    if match:
        http["match"] = match
    http["route"] = route
    if svc.rewrite is not None:
        http["rewrite"] = {
            k: v for k, v in (("uri", svc.rewrite.uri), ("authority", svc.rewrite.authority)) if v
        }
    if svc.timeout:
        http["timeout"] = svc.timeout
    if svc.retries is not None:
        http["retries"] = {"attempts": 0, **svc.retries.to_dict()}
    if svc.cors_policy is not None:
        cors = svc.cors_policy.to_dict()
        if not cors.get("allowCredentials"):
            cors.pop("allowCredentials", None)
        http["corsPolicy"] = cors
    if svc.headers is not None:
        http["headers"] = svc.headers.to_dict()
    return http


def _tcp_route(canary: canary_api.Canary, route: list[JSON]) -> JSON:
    tcp: JSON = {}
    match = [{"port": m.port} if m.port else {} for m in router_helpers.service(canary).match or []]
    if match:
        tcp["match"] = match
    tcp["route"] = route
    return tcp


def _cookie_match(canary: canary_api.Canary, cookie: str) -> list[JSON]:
    name, _, value = cookie.partition("=")
    condition = {"headers": {COOKIE_HEADER: {"regex": f".*{name}.*{value}.*"}}}
    return _merge_match([condition], _service_match(canary))


def _add_response_header(holder: JSON, value: str) -> None:
    headers = holder.setdefault("headers", {})
    response = headers.setdefault("response", {})
    response.setdefault("add", {})[SET_COOKIE_HEADER] = value


def _sticky_routes(
    canary: canary_api.Canary,
    affinity: analysis_api.SessionAffinity,
    weighted: JSON,
    canary_weight: int,
    cookie_value: CookieValue,
) -> list[JSON]:
    """The session-affinity routes followed by the weighted route; updates the status cookies.

    While the canary has weight, responses from each side set its cookie and requests that
    carry a cookie stick to that side. At weight zero the canary cookie is expired.
    """
    _, primary, canary_name = router_helpers.service_names(canary)
    if canary.status is None:
        canary.status = status_api.CanaryStatus()
    status = canary.status
    sticky = {"name": STICKY_ROUTE, **router_helpers.deep_copy(weighted)}
    if canary_weight != 0:
        if not status.session_affinity_cookie:
            status.session_affinity_cookie = f"{affinity.cookie_name}={cookie_value()}"
        routes = [sticky]
        if affinity.primary_cookie_name and not status.primary_session_affinity_cookie:
            status.primary_session_affinity_cookie = (
                f"{affinity.primary_cookie_name}={cookie_value()}"
            )
        for dest in weighted["route"]:
            if _host(dest) == canary_name:
                _add_response_header(dest, build_cookie(affinity, status.session_affinity_cookie))
            elif _host(dest) == primary and affinity.primary_cookie_name:
                primary_cookie = status.primary_session_affinity_cookie or ""
                _add_response_header(dest, build_cookie(affinity, primary_cookie))
        sticky["match"] = _cookie_match(canary, status.session_affinity_cookie)
        sticky["route"] = [_destination(canary, primary, 0), _destination(canary, canary_name, 100)]
        if affinity.primary_cookie_name and status.primary_session_affinity_cookie:
            to_primary = {"name": STICKY_PRIMARY_ROUTE, **router_helpers.deep_copy(weighted)}
            for dest in to_primary["route"]:
                dest.pop("headers", None)
            to_primary["match"] = _cookie_match(canary, status.primary_session_affinity_cookie)
            to_primary["route"] = [
                _destination(canary, primary, 100),
                _destination(canary, canary_name, 0),
            ]
            routes.append(to_primary)
        return [*routes, weighted]

    if status.session_affinity_cookie:
        status.previous_session_affinity_cookie = status.session_affinity_cookie
    previous = status.previous_session_affinity_cookie
    if previous:
        sticky["match"] = _cookie_match(canary, previous)
        _add_response_header(sticky, f"{previous}; Max-Age=-1")
    status.session_affinity_cookie = None
    status.primary_session_affinity_cookie = None
    return [sticky, weighted]


def _comparable(canary: canary_api.Canary, spec: Mapping[str, Any]) -> JSON:
    """A spec without what ``set_routes`` owns: weights, mirroring, and with session affinity
    the sticky routes and per-destination headers. Empty fields count as absent."""
    analysis = canary.spec.effective_analysis
    affinity = analysis is not None and analysis.session_affinity is not None
    result: JSON = {}
    for key in ("hosts", "gateways", "http", "tcp"):
        routes = spec.get(key)
        if not routes:
            continue
        if key in ("hosts", "gateways"):
            result[key] = list(routes)
            continue
        cleaned = []
        for route in routes:
            if affinity and route.get("name") in (STICKY_ROUTE, STICKY_PRIMARY_ROUTE):
                continue
            route = {k: v for k, v in route.items() if k not in ("mirror", "mirrorPercentage")}
            dests = []
            for dest in route.get("route") or []:
                dest = {k: v for k, v in dest.items() if k != "weight"}
                if affinity:
                    dest.pop("headers", None)
                dests.append(dest)
            route["route"] = dests
            cleaned.append(route)
        result[key] = cleaned
    for key, value in spec.items():
        if key not in ("hosts", "gateways", "http", "tcp") and value:
            result[key] = value
    return result
