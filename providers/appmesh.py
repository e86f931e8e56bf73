"""The ``appmesh`` and ``appmesh:v1beta2`` routers: AWS App Mesh virtual nodes, routers and
services.

For a canary whose apex Service is ``podinfo`` in namespace ``test`` Flagger keeps:

``appmesh`` (``appmesh.k8s.aws/v1beta1``, the old App Mesh controller; ``spec.service.meshName``
is required):

- VirtualNodes ``podinfo`` (the apex; DNS ``podinfo-primary.test``), ``podinfo-primary``
  (``podinfo-primary.test``) and ``podinfo-canary`` (``podinfo-canary.test``), each with
  ``meshName``, one listener on ``spec.service.port`` and the ``spec.service.backends`` as
  virtual-service backends;
- VirtualServices ``podinfo.test`` and ``podinfo-canary.test``, each with an inline virtual
  router (``podinfo`` resp. ``podinfo-canary``) whose route sends 0 resp. 100 percent to
  ``podinfo-canary`` and the rest to ``podinfo-primary``.

``appmesh:v1beta2`` (``appmesh.k8s.aws/v1beta2``, the current controller; the mesh is chosen by
the namespace's labels, so no ``meshName``):

- VirtualNodes ``podinfo-primary`` and ``podinfo-canary`` (DNS
  ``<name>.test.svc.cluster.local.``) selecting the pods ``<label>: podinfo-primary`` resp.
  ``<label>: podinfo`` (``<label>`` is the target's first ``-selector-labels`` key), listening
  on the container port (``targetPort`` when it is a number) with the ``spec.service.timeout``;
- VirtualRouters ``podinfo`` and ``podinfo-canary`` (weights as above, plus per-route timeout);
- VirtualServices ``podinfo`` and ``podinfo-canary`` provided by the router of the same name.

Both versions: the protocol is ``grpc`` when ``portName`` contains ``grpc`` (else ``http``); the
route matches the first ``spec.service.match`` URI prefix (default ``/``); ``retries`` become a
retry policy (default one retry on ``gateway-error`` with a 250ms per-try timeout); with
``spec.service.hosts`` the apex VirtualService carries the App Mesh gateway annotations.
**A/B testing** (``analysis.match`` headers) makes the apex router two routes: ``podinfo-a``
(priority 10, the header conditions, both targets) and ``podinfo-b`` (priority 20, primary only).
Blue/green works through the weights; mirroring and session affinity are not available on App
Mesh and are refused with :class:`UnsupportedFeature`.

``set_routes`` rewrites the weighted targets of the apex route; ``reconcile`` writes only when
something other than the weights changed, and then keeps the weights. Objects that exist already
and are not the Canary's are taken over: their spec is kept in
``flagger.kubernetes.io/original-configuration`` before it is first replaced, and ``finalize``
writes it back (Flagger's own ``Finalize`` is a no-op; objects Flagger created are owned by the
Canary and go with it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api
from flagger.api import durations

__all__ = [
    "API_V1BETA1",
    "API_V1BETA2",
    "NAME",
    "NAME_V1BETA2",
    "AppMeshRouter",
    "AppMeshV1beta2Router",
    "UnsupportedFeature",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "original_spec",
    "plan_update",
    "read_routes_v1beta1",
    "read_routes_v1beta2",
    "routed_v1beta1",
    "routed_v1beta2",
    "v1beta1_virtual_node",
    "v1beta1_virtual_service",
    "v1beta2_virtual_node",
    "v1beta2_virtual_router",
    "v1beta2_virtual_service",
]

NAME = "appmesh"
NAME_V1BETA2 = "appmesh:v1beta2"
API_V1BETA1 = "appmesh.k8s.aws/v1beta1"
API_V1BETA2 = "appmesh.k8s.aws/v1beta2"
SVC_SUFFIX = "svc.cluster.local."
GATEWAY_EXPOSE = "gateway.appmesh.k8s.aws/expose"
GATEWAY_DOMAIN = "gateway.appmesh.k8s.aws/domain"
GATEWAY_TIMEOUT = "gateway.appmesh.k8s.aws/timeout"
GATEWAY_RETRIES = "gateway.appmesh.k8s.aws/retries"
#: Fields the v1beta2 controller fills in; Flagger leaves them as they are.
CONTROLLER_FIELDS = ("awsName", "meshRef")
DEFAULT_SELECTOR_LABEL = "app"

#: Which providers can do what this one cannot (for the error message).
AB_PROVIDERS = router_helpers.AB_PROVIDERS
MIRROR_PROVIDERS = router_helpers.MIRROR_PROVIDERS
AFFINITY_PROVIDERS = router_helpers.AFFINITY_PROVIDERS
QUERY_PARAM_PROVIDERS = router_helpers.QUERY_PARAM_PROVIDERS
SOURCE_LABEL_PROVIDERS = router_helpers.SOURCE_LABEL_PROVIDERS

_log = logging.getLogger(__name__)
JSON = dict[str, Any]


#: A Canary asks App Mesh for something it cannot route (mirroring, session affinity,
#: A/B conditions other than headers).
UnsupportedFeature = router_helpers.UnsupportedFeature


def check_supported(canary: canary_api.Canary, provider: str) -> None:
    """Raise :class:`UnsupportedFeature` when the canary uses what App Mesh cannot do."""
    analysis = canary.spec.effective_analysis
    if analysis is None:
        return
    wanted: list[router_helpers.Refusal] = []
    if analysis.mirror:
        wanted.append(router_helpers.Refusal(router_helpers.MIRRORING, MIRROR_PROVIDERS))
    if analysis.session_affinity is not None:
        wanted.append(router_helpers.Refusal(router_helpers.SESSION_AFFINITY, AFFINITY_PROVIDERS))
    for i, match in enumerate(analysis.match or []):
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
    router_helpers.refuse_first(canary, provider, wanted)


# --- shared pure helpers --------------------------------------------------------------------


def _protocol(canary: canary_api.Canary) -> str:
    return "grpc" if "grpc" in (router_helpers.service(canary).port_name or "") else "http"


def _route_prefix(canary: canary_api.Canary) -> str:
    """App Mesh matches URI prefixes only: the first ``service.match`` prefix, else ``/``."""
    match = router_helpers.service(canary).match or []
    if match and match[0].uri is not None and match[0].uri.prefix:
        return match[0].uri.prefix
    return "/"


def _has_ab(canary: canary_api.Canary) -> bool:
    analysis = canary.spec.effective_analysis
    return bool(analysis is not None and analysis.match)


def _millis(text: str | None) -> int | None:
    """A Go duration in whole milliseconds, ``None`` when absent or invalid (as Flagger
    silently drops a duration it cannot parse)."""
    if not text:
        return None
    try:
        nanos = durations.parse_duration_nanos(text)
    except ValueError:
        return None
    return int(nanos / 1_000_000)


def _retry_settings(canary: canary_api.Canary) -> tuple[int, int, list[str]] | None:
    """(per-try timeout ms, attempts, events) of ``service.retries`` with Flagger's defaults."""
    retries = router_helpers.service(canary).retries
    if retries is None:
        return None
    timeout = _millis(retries.per_try_timeout)
    attempts = retries.attempts if retries.attempts and retries.attempts > 0 else 1
    events = retries.retry_on.split(",") if retries.retry_on else ["gateway-error"]
    return (250 if timeout is None else timeout), attempts, events


def _header_matches(canary: canary_api.Canary) -> list[JSON]:
    """``analysis.match`` headers as App Mesh route headers (Flagger's ``makeHeaders``)."""
    analysis = canary.spec.effective_analysis
    headers: list[JSON] = []
    for match in (analysis.match if analysis else None) or []:
        for name, value in (match.headers or {}).items():
            method = {
                k: v
                for k, v in (
                    ("exact", value.exact),
                    ("prefix", value.prefix),
                    ("regex", value.regex),
                    ("suffix", value.suffix),
                )
                if v
            }
            headers.append({"name": name, "match": method})
    return headers


def _gateway_annotations(canary: canary_api.Canary) -> dict[str, str]:
    """App Mesh gateway annotations for the apex VirtualService when ``hosts`` are set."""
    svc = router_helpers.service(canary)
    domains = "".join(f"{host}," for host in svc.hosts or [])
    if not domains:
        return {}
    found = {GATEWAY_EXPOSE: "true", GATEWAY_DOMAIN: domains}
    if svc.timeout:
        found[GATEWAY_TIMEOUT] = svc.timeout
    if svc.retries is not None and svc.retries.attempts and svc.retries.attempts > 0:
        found[GATEWAY_RETRIES] = str(svc.retries.attempts)
    return found


def _metadata(
    canary: canary_api.Canary,
    name: str,
    owner_refs: bool,
    annotations: Mapping[str, str] | None = None,
) -> JSON:
    meta: JSON = {"name": name, "namespace": canary.namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner_refs:
        meta["ownerReferences"] = [router_helpers.owner_reference(canary)]
    return meta


# --- v1beta1 builders -----------------------------------------------------------------------


def _v1beta1_retry_policy(canary: canary_api.Canary) -> JSON | None:
    settings = _retry_settings(canary)
    if settings is None:
        return None
    timeout, attempts, events = settings
    return {"perRetryTimeoutMillis": timeout, "maxRetries": attempts, "httpRetryEvents": events}


def v1beta1_virtual_node(
    canary: canary_api.Canary, name: str, host: str, *, owner_refs: bool = True
) -> JSON:
    """A v1beta1 VirtualNode ``name`` discovered by DNS at ``host``."""
    svc = router_helpers.service(canary)
    spec: JSON = {
        "meshName": svc.mesh_name or "",
        "listeners": [{"portMapping": {"port": svc.port, "protocol": _protocol(canary)}}],
        "serviceDiscovery": {"dns": {"hostName": host}},
    }
    if svc.backends:
        spec["backends"] = [{"virtualService": {"virtualServiceName": b}} for b in svc.backends]
    return {
        "apiVersion": API_V1BETA1,
        "kind": "VirtualNode",
        "metadata": _metadata(canary, name, owner_refs),
        "spec": spec,
    }


def _v1beta1_http(
    canary: canary_api.Canary, targets: list[JSON], headers: list[JSON] | None = None
) -> JSON:
    match: JSON = {"prefix": _route_prefix(canary)}
    if headers:
        match["headers"] = headers
    http: JSON = {"match": match, "action": {"weightedTargets": targets}}
    policy = _v1beta1_retry_policy(canary)
    if policy is not None:
        http["retryPolicy"] = policy
    return http


def _v1beta1_targets(apex: str, canary_weight: int, primary_weight: int) -> list[JSON]:
    return [
        {"virtualNodeName": f"{apex}-canary", "weight": canary_weight},
        {"virtualNodeName": f"{apex}-primary", "weight": primary_weight},
    ]


def v1beta1_virtual_service_spec(canary: canary_api.Canary, canary_weight: int) -> JSON:
    """The spec of VirtualService ``<apex>.<ns>`` (``canary_weight`` 0) or
    ``<apex>-canary.<ns>`` (``canary_weight`` 100)."""
    svc = router_helpers.service(canary)
    apex, _, _ = router_helpers.service_names(canary)
    router = apex if canary_weight == 0 else f"{apex}-canary"
    routes: list[JSON] = [
        {
            "name": router,
            "http": _v1beta1_http(
                canary, _v1beta1_targets(apex, canary_weight, 100 - canary_weight)
            ),
        }
    ]
    if _has_ab(canary) and canary_weight == 0:
        routes = [
            {
                "name": f"{apex}-a",
                "priority": 10,
                "http": _v1beta1_http(
                    canary, _v1beta1_targets(apex, 0, 100), _header_matches(canary)
                ),
            },
            {
                "name": f"{apex}-b",
                "priority": 20,
                "http": _v1beta1_http(
                    canary, [{"virtualNodeName": f"{apex}-primary", "weight": 100}]
                ),
            },
        ]
    return {
        "meshName": svc.mesh_name or "",
        "virtualRouter": {
            "name": router,
            "listeners": [{"portMapping": {"port": svc.port, "protocol": _protocol(canary)}}],
        },
        "routes": routes,
    }


def v1beta1_virtual_service(
    canary: canary_api.Canary, canary_weight: int, *, owner_refs: bool = True
) -> JSON:
    """The v1beta1 VirtualService Flagger creates for the apex (0) or canary (100) host."""
    apex, _, canary_name = router_helpers.service_names(canary)
    name = f"{apex if canary_weight == 0 else canary_name}.{canary.namespace}"
    annotations = _gateway_annotations(canary) if canary_weight == 0 else None
    return {
        "apiVersion": API_V1BETA1,
        "kind": "VirtualService",
        "metadata": _metadata(canary, name, owner_refs, annotations),
        "spec": v1beta1_virtual_service_spec(canary, canary_weight),
    }


def routed_v1beta1(
    canary: canary_api.Canary, spec: Mapping[str, Any], primary_weight: int, canary_weight: int
) -> JSON:
    """``spec`` of the apex VirtualService with the first route's weights set."""
    apex, _, _ = router_helpers.service_names(canary)
    new = router_helpers.deep_copy(dict(spec))
    routes = new.get("routes") or []
    if not routes or not isinstance(routes[0].get("http"), dict):
        raise router_helpers.RouterError(
            f"VirtualService routes {apex}.{canary.namespace} not found"
        )
    routes[0]["http"]["action"] = {
        "weightedTargets": _v1beta1_targets(apex, canary_weight, primary_weight)
    }
    return new


def read_routes_v1beta1(
    canary: canary_api.Canary, spec: Mapping[str, Any]
) -> tuple[int, int, bool]:
    """The weights the apex VirtualService routes (Flagger's ``GetRoutes``)."""
    apex, _, _ = router_helpers.service_names(canary)
    name = f"{apex}.{canary.namespace}"
    routes = spec.get("routes") or []
    targets = (
        ((routes[0].get("http") or {}).get("action") or {}).get("weightedTargets")
        if routes
        else None
    ) or []
    return _weights(targets, "virtualNodeName", apex, "VirtualService", name)


# --- v1beta2 builders -----------------------------------------------------------------------


def _container_port(canary: canary_api.Canary) -> int:
    svc = router_helpers.service(canary)
    if isinstance(svc.target_port, int) and svc.target_port > 0:
        return svc.target_port
    return svc.port


def _duration_ms(canary: canary_api.Canary) -> JSON | None:
    millis = _millis(router_helpers.service(canary).timeout)
    return None if millis is None else {"unit": "ms", "value": millis}


def _v1beta2_retry_policy(canary: canary_api.Canary) -> JSON | None:
    settings = _retry_settings(canary)
    if settings is None:
        return None
    timeout, attempts, events = settings
    return {
        "httpRetryEvents": events,
        "perRetryTimeout": {"unit": "ms", "value": timeout},
        "maxRetries": attempts,
    }


def v1beta2_virtual_node(
    canary: canary_api.Canary,
    name: str,
    pod_selector: str,
    host: str,
    label: str,
    *,
    owner_refs: bool = True,
) -> JSON:
    """A v1beta2 VirtualNode ``name`` for the pods ``<label>: <pod_selector>``."""
    svc = router_helpers.service(canary)
    listener: JSON = {
        "portMapping": {"port": _container_port(canary), "protocol": _protocol(canary)}
    }
    timeout = _duration_ms(canary)
    if timeout is not None:
        listener["timeout"] = {"http": {"perRequest": timeout}}
    spec: JSON = {
        "listeners": [listener],
        "serviceDiscovery": {"dns": {"hostname": host}},
        "podSelector": {"matchLabels": {label: pod_selector}},
    }
    backends: list[JSON] = []
    for backend in svc.backends or []:
        if backend.startswith("arn:aws"):
            backends.append({"virtualService": {"virtualServiceARN": backend}})
        else:
            backends.append({"virtualService": {"virtualServiceRef": {"name": backend}}})
    if backends:
        spec["backends"] = backends
    return {
        "apiVersion": API_V1BETA2,
        "kind": "VirtualNode",
        "metadata": _metadata(canary, name, owner_refs),
        "spec": spec,
    }


def _v1beta2_targets(apex: str, canary_weight: int, primary_weight: int) -> list[JSON]:
    return [
        {"virtualNodeRef": {"name": f"{apex}-canary"}, "weight": canary_weight},
        {"virtualNodeRef": {"name": f"{apex}-primary"}, "weight": primary_weight},
    ]


def _v1beta2_http(
    canary: canary_api.Canary, targets: list[JSON], headers: list[JSON] | None = None
) -> JSON:
    match: JSON = {"prefix": _route_prefix(canary)}
    if headers:
        match["headers"] = headers
    http: JSON = {"match": match, "action": {"weightedTargets": targets}}
    timeout = _duration_ms(canary)
    if timeout is not None:
        http["timeout"] = {"perRequest": timeout}
    policy = _v1beta2_retry_policy(canary)
    if policy is not None:
        http["retryPolicy"] = policy
    return http


def v1beta2_virtual_router_spec(canary: canary_api.Canary, canary_weight: int) -> JSON:
    """The spec of VirtualRouter ``<apex>`` (``canary_weight`` 0) or ``<apex>-canary`` (100)."""
    apex, _, _ = router_helpers.service_names(canary)
    route_name = apex if canary_weight == 0 else f"{apex}-canary"
    routes: list[JSON] = [
        {
            "name": route_name,
            "httpRoute": _v1beta2_http(
                canary, _v1beta2_targets(apex, canary_weight, 100 - canary_weight)
            ),
        }
    ]
    if _has_ab(canary) and canary_weight == 0:
        routes = [
            {
                "name": f"{apex}-a",
                "priority": 10,
                "httpRoute": _v1beta2_http(
                    canary, _v1beta2_targets(apex, 0, 100), _header_matches(canary)
                ),
            },
            {
                "name": f"{apex}-b",
                "priority": 20,
                "httpRoute": _v1beta2_http(
                    canary, [{"virtualNodeRef": {"name": f"{apex}-primary"}, "weight": 100}]
                ),
            },
        ]
    return {
        "listeners": [
            {"portMapping": {"port": _container_port(canary), "protocol": _protocol(canary)}}
        ],
        "routes": routes,
    }


def v1beta2_virtual_router(
    canary: canary_api.Canary, canary_weight: int, *, owner_refs: bool = True
) -> JSON:
    """The v1beta2 VirtualRouter Flagger creates for the apex (0) or canary (100)."""
    apex, _, canary_name = router_helpers.service_names(canary)
    name = apex if canary_weight == 0 else canary_name
    return {
        "apiVersion": API_V1BETA2,
        "kind": "VirtualRouter",
        "metadata": _metadata(canary, name, owner_refs),
        "spec": v1beta2_virtual_router_spec(canary, canary_weight),
    }


def v1beta2_virtual_service(
    canary: canary_api.Canary, canary_weight: int, *, owner_refs: bool = True
) -> JSON:
    """The v1beta2 VirtualService provided by the VirtualRouter of the same name."""
    apex, _, canary_name = router_helpers.service_names(canary)
    name = apex if canary_weight == 0 else canary_name
    annotations = _gateway_annotations(canary) if canary_weight == 0 else None
    return {
        "apiVersion": API_V1BETA2,
        "kind": "VirtualService",
        "metadata": _metadata(canary, name, owner_refs, annotations),
        "spec": {"provider": {"virtualRouter": {"virtualRouterRef": {"name": name}}}},
    }


def routed_v1beta2(
    canary: canary_api.Canary, spec: Mapping[str, Any], primary_weight: int, canary_weight: int
) -> JSON:
    """``spec`` of the apex VirtualRouter with the first route's weights set."""
    apex, _, _ = router_helpers.service_names(canary)
    new = router_helpers.deep_copy(dict(spec))
    routes = new.get("routes") or []
    if not routes or not isinstance(routes[0].get("httpRoute"), dict):
        raise router_helpers.RouterError(f"VirtualRouter routes {apex} not found")
    routes[0]["httpRoute"]["action"] = {
        "weightedTargets": _v1beta2_targets(apex, canary_weight, primary_weight)
    }
    return new


def read_routes_v1beta2(
    canary: canary_api.Canary, spec: Mapping[str, Any]
) -> tuple[int, int, bool]:
    """The weights the apex VirtualRouter routes (Flagger's ``GetRoutes``)."""
    apex, _, _ = router_helpers.service_names(canary)
    routes = spec.get("routes") or []
    targets = (
        ((routes[0].get("httpRoute") or {}).get("action") or {}).get("weightedTargets")
        if routes
        else None
    ) or []
    flat = [
        {"name": (t.get("virtualNodeRef") or {}).get("name"), "weight": t.get("weight")}
        for t in targets
    ]
    return _weights(flat, "name", apex, "VirtualRouter", apex)


def _weights(
    targets: Sequence[Mapping[str, Any]], key: str, apex: str, kind: str, name: str
) -> tuple[int, int, bool]:
    if len(targets) != 2:
        raise router_helpers.RouterError(f"{kind} routes {name} not found")
    primary, canary = router_helpers.require_routes(
        f"{kind} {name}",
        f"{apex}-primary",
        f"{apex}-canary",
        router_helpers.routed_weights(
            targets, f"{apex}-primary", f"{apex}-canary", name=lambda t: t.get(key)
        ),
    )
    return primary, canary, False


# --- updates, takeover and revert -----------------------------------------------------------


def _without_weights(spec: Any) -> Any:
    """``spec`` with every weighted target's weight removed (what ``set_routes`` owns)."""
    if isinstance(spec, dict):
        return {
            k: (
                [{kk: vv for kk, vv in t.items() if kk != "weight"} for t in v]
                if k == "weightedTargets" and isinstance(v, list)
                else _without_weights(v)
            )
            for k, v in spec.items()
        }
    if isinstance(spec, list):
        return [_without_weights(item) for item in spec]
    return spec


def plan_update(
    canary: canary_api.Canary,
    existing: Mapping[str, Any],
    want_spec: JSON,
    *,
    comparable: Callable[[Any], Any] = _without_weights,
    keep: Callable[[JSON, Mapping[str, Any]], None] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> JSON | None:
    """The object to write over ``existing`` so that its spec is ``want_spec`` (compared through
    ``comparable``), or ``None`` when nothing changed.

    ``keep(new_spec, old_spec)`` carries over what ``reconcile`` must not reset (weights,
    controller-owned fields); ``annotations`` are set on top of the existing ones. An object that
    is not the Canary's keeps the spec it had in ``flagger.kubernetes.io/original-configuration``
    (unless kubectl's last-applied-configuration or an earlier copy holds it already).
    """
    return router_helpers.plan_update(
        existing,
        want_spec,
        owned=router_helpers.controlled_by(existing, canary),
        comparable=comparable,
        keep=keep,
        annotations=annotations,
    )


def original_spec(obj: Mapping[str, Any]) -> JSON | None:
    """The spec kept before Flagger took the object over, or ``None`` when none was kept."""
    return router_helpers.original_spec(obj, str(obj.get("kind")))


def _keep_first_action(route_key: str) -> Callable[[JSON, Mapping[str, Any]], None]:
    """Keep the first route's action (its weights) of the spec being replaced, as Flagger's
    ``vrClone.Spec.Routes[0].HTTPRoute.Action = virtualRouter.Spec.Routes[0]...``."""

    def keep(new: JSON, old: Mapping[str, Any]) -> None:
        old_routes = old.get("routes") or []
        new_routes = new.get("routes") or []
        action = (
            (old_routes[0].get(route_key) or {}).get("action")
            if old_routes and isinstance(old_routes[0], dict)
            else None
        )
        if action and new_routes and isinstance(new_routes[0].get(route_key), dict):
            new_routes[0][route_key]["action"] = router_helpers.deep_copy(action)

    return keep


def _keep_controller_fields(new: JSON, old: Mapping[str, Any]) -> None:
    for key in CONTROLLER_FIELDS:
        if key in old:
            new[key] = old[key]


def _without_controller_fields(spec: Any) -> Any:
    if isinstance(spec, dict):
        spec = {k: v for k, v in spec.items() if k not in CONTROLLER_FIELDS}
    return _without_weights(spec)


# --- the routers ----------------------------------------------------------------------------


class _Base:
    """I/O shared by both App Mesh versions."""

    api_version = API_V1BETA2
    provider = NAME_V1BETA2

    def __init__(self, kube: Any, *, set_owner_refs: bool = True) -> None:
        self.kube = kube
        self.set_owner_refs = set_owner_refs

    async def _get(self, kind: str, name: str, namespace: str) -> JSON | None:
        try:
            found: JSON | None = await self.kube.get(self.api_version, kind, name, namespace)
        except Exception as exc:
            raise router_helpers.RouterError(f"{kind} {name} get query error: {exc}") from exc
        return found

    async def _must_get(self, kind: str, name: str, namespace: str) -> JSON:
        found = await self._get(kind, name, namespace)
        if found is None:
            raise router_helpers.RouterError(f"{kind} {name} get query error: not found")
        return found

    async def _ensure(
        self,
        canary: canary_api.Canary,
        desired: JSON,
        *,
        comparable: Callable[[Any], Any] = _without_weights,
        keep: Callable[[JSON, Mapping[str, Any]], None] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> bool:
        """Create ``desired`` or bring the existing object's spec to it; True when created."""
        kind, name = desired["kind"], desired["metadata"]["name"]
        existing = await self._get(kind, name, canary.namespace)
        if existing is None:
            await router_helpers.write(
                self.kube.create, desired, f"{kind} {name}.{canary.namespace} create error"
            )
            _log.info(
                "%s %s.%s created",
                kind,
                name,
                canary.namespace,
                extra={"canary": router_helpers.canary_id(canary)},
            )
            return True
        updated = plan_update(
            canary,
            existing,
            desired["spec"],
            comparable=comparable,
            keep=keep,
            annotations=annotations,
        )
        if updated is not None:
            await router_helpers.write(self.kube.replace, updated, f"{kind} {name} update error")
            _log.info(
                "%s %s updated", kind, name, extra={"canary": router_helpers.canary_id(canary)}
            )
        return False

    async def _revert(self, canary: canary_api.Canary, kind: str, name: str) -> None:
        existing = await self._get(kind, name, canary.namespace)
        if existing is None:
            return
        await router_helpers.give_back(
            self.kube,
            canary,
            existing,
            original_spec(existing),
            f"{kind} {name}.{canary.namespace}",
            log=None if router_helpers.controlled_by(existing, canary) else _log,
        )


class AppMeshRouter(_Base):
    """The ``appmesh`` (v1beta1) router: three VirtualNodes and two VirtualServices."""

    api_version = API_V1BETA1
    provider = NAME

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create or update the VirtualNodes and the apex and canary VirtualServices."""
        check_supported(canary, self.provider)
        if not router_helpers.service(canary).mesh_name:
            raise router_helpers.RouterError(
                f"canary {router_helpers.canary_id(canary)}: mesh name cannot be empty "
                "(set spec.service.meshName for the appmesh provider)"
            )
        apex, primary, canary_name = router_helpers.service_names(canary)
        ns = canary.namespace
        own = self.set_owner_refs
        for name, host in (
            (apex, f"{primary}.{ns}"),
            (primary, f"{primary}.{ns}"),
            (canary_name, f"{canary_name}.{ns}"),
        ):
            await self._ensure(
                canary,
                v1beta1_virtual_node(canary, name, host, owner_refs=own),
                comparable=lambda spec: spec,
            )
        for weight in (0, 100):
            desired = v1beta1_virtual_service(canary, weight, owner_refs=own)
            await self._ensure(
                canary,
                desired,
                keep=_keep_first_action("http"),
                annotations=desired["metadata"].get("annotations"),
            )

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Set the weights of the apex VirtualService's first route."""
        check_supported(canary, self.provider)
        existing = await self._must_get("VirtualService", self._apex(canary), canary.namespace)
        spec = routed_v1beta1(canary, existing.get("spec") or {}, primary_weight, canary_weight)
        if spec != existing.get("spec"):
            await router_helpers.write(
                self.kube.replace,
                {**existing, "spec": spec},
                f"VirtualService {self._apex(canary)} update error",
            )

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """The weights of the apex VirtualService's first route."""
        existing = await self._must_get("VirtualService", self._apex(canary), canary.namespace)
        return read_routes_v1beta1(canary, existing.get("spec") or {})

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Give taken-over objects back the spec they had."""
        apex, primary, canary_name = router_helpers.service_names(canary)
        for name in (apex, primary, canary_name):
            await self._revert(canary, "VirtualNode", name)
        for name in (apex, canary_name):
            await self._revert(canary, "VirtualService", f"{name}.{canary.namespace}")

    @staticmethod
    def _apex(canary: canary_api.Canary) -> str:
        return f"{router_helpers.service_names(canary)[0]}.{canary.namespace}"


class AppMeshV1beta2Router(_Base):
    """The ``appmesh:v1beta2`` router: two VirtualNodes, two VirtualRouters and two
    VirtualServices. ``selector_labels`` are ``-selector-labels``: the first one found in the
    target's ``matchLabels`` selects the virtual nodes' pods."""

    def __init__(
        self,
        kube: Any,
        *,
        set_owner_refs: bool = True,
        selector_labels: Sequence[str] = (DEFAULT_SELECTOR_LABEL,),
        workloads: Any = None,
    ) -> None:
        super().__init__(kube, set_owner_refs=set_owner_refs)
        self.selector_labels = tuple(selector_labels) or (DEFAULT_SELECTOR_LABEL,)
        # the target lives in the main cluster (Flagger's kubeClient); App Mesh objects in
        # the mesh cluster (its appmeshClient)
        self.workloads = workloads if workloads is not None else kube

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create or update the VirtualNodes, VirtualRouters and VirtualServices."""
        check_supported(canary, self.provider)
        _, primary, canary_name = router_helpers.service_names(canary)
        ns, target = canary.namespace, canary.spec.target_ref.name
        label = await self._selector_label(canary)
        own = self.set_owner_refs
        for name, pods in ((primary, f"{target}-primary"), (canary_name, target)):
            node = v1beta2_virtual_node(
                canary, name, pods, f"{name}.{ns}.{SVC_SUFFIX}", label, owner_refs=own
            )
            await self._ensure(
                canary, node, comparable=_without_controller_fields, keep=_keep_controller_fields
            )

        def keep(new: JSON, old: Mapping[str, Any]) -> None:
            _keep_first_action("httpRoute")(new, old)
            _keep_controller_fields(new, old)

        for weight in (0, 100):
            await self._ensure(
                canary,
                v1beta2_virtual_router(canary, weight, owner_refs=own),
                comparable=_without_controller_fields,
                keep=keep,
            )
            service = v1beta2_virtual_service(canary, weight, owner_refs=own)
            if await self._get("VirtualService", service["metadata"]["name"], ns) is None:
                await router_helpers.write(
                    self.kube.create,
                    service,
                    f"VirtualService {service['metadata']['name']} create error",
                )
                _log.info(
                    "VirtualService %s created",
                    service["metadata"]["name"],
                    extra={"canary": router_helpers.canary_id(canary)},
                )

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Set the weights of the apex VirtualRouter's first route."""
        check_supported(canary, self.provider)
        apex, _, _ = router_helpers.service_names(canary)
        existing = await self._must_get("VirtualRouter", apex, canary.namespace)
        spec = routed_v1beta2(canary, existing.get("spec") or {}, primary_weight, canary_weight)
        if spec != existing.get("spec"):
            await router_helpers.write(
                self.kube.replace, {**existing, "spec": spec}, f"VirtualRouter {apex} update error"
            )

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """The weights of the apex VirtualRouter's first route."""
        apex, _, _ = router_helpers.service_names(canary)
        existing = await self._must_get("VirtualRouter", apex, canary.namespace)
        return read_routes_v1beta2(canary, existing.get("spec") or {})

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Give taken-over objects back the spec they had."""
        apex, primary, canary_name = router_helpers.service_names(canary)
        for name in (primary, canary_name):
            await self._revert(canary, "VirtualNode", name)
        for name in (apex, canary_name):
            await self._revert(canary, "VirtualRouter", name)

    async def _selector_label(self, canary: canary_api.Canary) -> str:
        """The first ``-selector-labels`` key in the target's selector (Flagger's
        ``GetMetadata``), else the first configured label."""
        ref = canary.spec.target_ref
        try:
            target = await self.workloads.get(ref.api_version, ref.kind, ref.name, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(
                f"{ref.kind} {ref.name}.{canary.namespace} get query error: {exc}"
            ) from exc
        selector = ((target or {}).get("spec") or {}).get("selector") or {}
        labels = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
        for label in self.selector_labels:
            if label in (labels or {}):
                return label
        return self.selector_labels[0]


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``appmesh`` and ``appmesh:v1beta2`` routing providers."""
    registry.router((NAME, NAME_V1BETA2), flagger_router)
    registry.rules(
        NAME,
        plugins.route_rules("appmesh.k8s.aws", "virtualnodes", "virtualrouters", "virtualservices"),
    )


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The App Mesh routers; with ``-kubeconfig-service-mesh`` the objects get no owner
    references (the Canary lives in another cluster)."""
    options = context.options
    own = not options.get("kubeconfig-service-mesh")
    if name == NAME:
        return AppMeshRouter(context.mesh_kube, set_owner_refs=own)
    if name == NAME_V1BETA2:
        labels = options.get("selector-labels") or (DEFAULT_SELECTOR_LABEL,)
        if isinstance(labels, str):
            labels = tuple(p.strip() for p in labels.split(",") if p.strip())
        return AppMeshV1beta2Router(
            context.mesh_kube, set_owner_refs=own, selector_labels=labels, workloads=context.kube
        )
    return None
