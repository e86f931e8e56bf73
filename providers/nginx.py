"""The ``nginx`` router: a canary Ingress driven by ingress-nginx's canary annotations.

For a canary with ``ingressRef: {name: podinfo}`` whose apex Service is ``podinfo``, Flagger
(``pkg/router/ingress.go``) keeps one object, in ``networking.k8s.io/v1``:

- Ingress ``podinfo-canary``: a clone of the Ingress ``podinfo`` (its spec and labels) in which
  every path whose backend is the Service ``podinfo`` points at ``podinfo-canary`` instead. It
  is owned by the Canary. Its annotations are the original's without kubectl's
  last-applied-configuration and without any ``<prefix>/canary*`` key, plus Flux's opt-outs and
  ``<prefix>/canary: "true"``, ``<prefix>/canary-weight: "0"``, where ``<prefix>`` is the daemon's
  ``-ingress-annotations-prefix`` (default ``nginx.ingress.kubernetes.io``).

The original Ingress is never written, so there is nothing to take over or give back:
``finalize`` does nothing and Kubernetes deletes the canary Ingress with the Canary. A canary
Ingress that exists already (made by someone else) gets its spec rewritten and its metadata kept.

Routing, as ``set_routes`` writes it on the canary Ingress:

- **canary** (and blue/green, which is a canary at weight 100): ``<prefix>/canary-weight``;
- **A/B testing** (``analysis.match``): ``canary-by-header`` with ``canary-by-header-value``
  (``exact``) or ``canary-by-header-pattern`` (``regex``), and ``canary-by-cookie`` for a
  ``cookie`` header with ``exact``;
- at weight 0 the annotations are reset (``canary: "true"``, ``canary-weight: "0"``, no A/B keys).

``get_routes`` reads the weight back; with A/B conditions the presence of ``canary-by-header`` or
``canary-by-cookie`` means all matching traffic is on the canary (0/100).

What NGINX cannot do is an error naming the Canary, the provider and the feature
(:class:`UnsupportedRequest`): no ``ingressRef``, traffic mirroring, session affinity, A/B
conditions other than one header (exact or regex) and one cookie (exact). Flagger ignores
these silently; here the Canary gets an event instead of a rollout that routes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api

__all__ = [
    "DEFAULT_PREFIX",
    "INGRESS_API_VERSION",
    "NAME",
    "AbConditions",
    "NginxRouter",
    "UnsupportedRequest",
    "ab_conditions",
    "build_canary_ingress",
    "canary_ingress_name",
    "canary_ingress_spec",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "header_annotations",
    "plan_canary_ingress_update",
    "read_routes",
    "reset_annotations",
    "routed_annotations",
]

NAME = "nginx"
INGRESS_API_VERSION = "networking.k8s.io/v1"
DEFAULT_PREFIX = "nginx.ingress.kubernetes.io"
COOKIE = "cookie"

_log = logging.getLogger(__name__)
JSON = dict[str, Any]


#: A Canary asks a routing provider for something it cannot do: the message names the Canary,
#: the provider and the feature, and says what to change.
UnsupportedRequest = router_helpers.UnsupportedFeature


# --- pure builders --------------------------------------------------------------------------


def canary_ingress_name(canary: canary_api.Canary) -> str:
    """``<ingressRef.name>-canary``."""
    return f"{_ingress_ref(canary, NAME)}-canary"


def annotation(prefix: str, suffix: str) -> str:
    """``<prefix>/<suffix>`` (Flagger's ``GetAnnotationWithPrefix``)."""
    return f"{prefix}/{suffix}"


AbConditions = tuple[str, str, str, str]
"""(cookie, header, header value, header regex); empty strings for what is not set."""


def check_supported(canary: canary_api.Canary, provider: str = NAME) -> None:
    """Raise :class:`UnsupportedRequest` for what an ingress canary cannot route."""
    _ingress_ref(canary, provider)
    analysis = canary.spec.effective_analysis
    if analysis is None:
        return
    if analysis.mirror:
        raise UnsupportedRequest(
            canary,
            provider,
            router_helpers.MIRRORING,
            "remove analysis.mirror (blue/green runs without it) or use istio or gatewayapi",
        )
    if analysis.session_affinity is not None:
        raise UnsupportedRequest(
            canary,
            provider,
            router_helpers.SESSION_AFFINITY,
            "remove analysis.sessionAffinity or use istio or gatewayapi",
        )
    ab_conditions(canary, provider)


def ab_conditions(canary: canary_api.Canary, provider: str = NAME) -> AbConditions:
    """The A/B conditions of ``analysis.match`` as ingress-nginx can express them.

    As Flagger reads them: a header named ``cookie`` gives the cookie name (its ``exact``),
    any other header the header name with its ``exact`` value or ``regex`` pattern. Conditions
    NGINX has no annotation for raise :class:`UnsupportedRequest`.
    """
    analysis = canary.spec.effective_analysis
    cookie = header = value = regex = ""
    headers_seen: set[str] = set()
    cookies_seen: set[str] = set()
    for match in (analysis.match if analysis else None) or []:
        if match.query_params or match.source_labels:
            raise UnsupportedRequest(
                canary,
                provider,
                "A/B matching on query parameters or source labels",
                "match on one header (exact or regex) and/or the cookie header (exact)",
            )
        for name, condition in (match.headers or {}).items():
            if condition.prefix is not None or condition.suffix is not None:
                raise UnsupportedRequest(
                    canary,
                    provider,
                    f"prefix or suffix matching of header {name!r}",
                    "use exact or regex",
                )
            if name == COOKIE:
                if condition.exact is None:
                    raise UnsupportedRequest(
                        canary,
                        provider,
                        "cookie matching other than exact",
                        "give the cookie name as headers.cookie.exact",
                    )
                cookies_seen.add(condition.exact)
                cookie = condition.exact
                continue
            headers_seen.add(name)
            header, value, regex = name, condition.exact or "", condition.regex or ""
    for what, seen in (("headers", headers_seen), ("cookies", cookies_seen)):
        if len(seen) > 1:
            raise UnsupportedRequest(
                canary,
                provider,
                f"A/B matching on several {what} ({', '.join(sorted(seen))})",
                "ingress-nginx routes by one header and one cookie; keep one of each",
            )
    return cookie, header, value, regex


def canary_ingress_spec(canary: canary_api.Canary, ingress: Mapping[str, Any]) -> JSON:
    """The original Ingress's spec with every backend ``<svc>`` turned into ``<svc>-canary``."""
    apex, _, canary_service = router_helpers.service_names(canary)
    spec = router_helpers.deep_copy(dict(ingress.get("spec") or {}))
    found = False
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service")
            if service is not None and service.get("name") == apex:
                service["name"] = canary_service
                found = True
    if not found:
        name = (ingress.get("metadata") or {}).get("name")
        raise router_helpers.RouterError(f"backend {apex} not found in ingress {name}")
    return spec


def reset_annotations(annotations: Mapping[str, str] | None, prefix: str) -> dict[str, str]:
    """The annotations of a canary Ingress with no traffic (Flagger's ``makeAnnotations``):
    Flux's opt-outs added, kubectl's last-applied-configuration and every ``<prefix>/canary*``
    key dropped, then ``canary: "true"`` and ``canary-weight: "0"``."""
    canary_key = annotation(prefix, "canary")
    result = {
        k: v
        for k, v in router_helpers.filter_metadata(annotations).items()
        if canary_key not in k and router_helpers.KUBECTL_ANNOTATION not in k
    }
    result[canary_key] = "true"
    result[annotation(prefix, "canary-weight")] = "0"
    return result


def header_annotations(
    annotations: Mapping[str, str] | None, prefix: str, conditions: AbConditions
) -> dict[str, str]:
    """The annotations of a canary Ingress routing by header and cookie (Flagger's
    ``makeHeaderAnnotations``).

    Flagger drops the entries whose *value* mentions ``<prefix>/canary`` (not the key), so the
    ``canary-weight`` written by :func:`reset_annotations` stays; this does the same.
    """
    cookie, header, value, regex = conditions
    canary_key = annotation(prefix, "canary")
    result = {
        k: v for k, v in router_helpers.filter_metadata(annotations).items() if canary_key not in v
    }
    result[canary_key] = "true"
    for suffix, setting in (
        ("canary-by-cookie", cookie),
        ("canary-by-header", header),
        ("canary-by-header-value", value),
        ("canary-by-header-pattern", regex),
    ):
        if setting:
            result[annotation(prefix, suffix)] = setting
    return result


def routed_annotations(
    canary: canary_api.Canary,
    annotations: Mapping[str, str] | None,
    prefix: str,
    canary_weight: int,
) -> dict[str, str]:
    """The canary Ingress annotations for ``canary_weight`` (Flagger's ``SetRoutes``)."""
    analysis = canary.spec.effective_analysis
    if analysis is not None and analysis.match:
        result = header_annotations(annotations, prefix, ab_conditions(canary))
    else:
        result = dict(annotations or {})
        result[annotation(prefix, "canary-weight")] = str(canary_weight)
    if canary_weight > 0:
        result[annotation(prefix, "canary")] = "true"
        return result
    return reset_annotations(result, prefix)


def read_routes(
    canary: canary_api.Canary, annotations: Mapping[str, str] | None, prefix: str
) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) as the canary Ingress routes them (Flagger's ``GetRoutes``)."""
    found = annotations or {}
    analysis = canary.spec.effective_analysis
    if (
        analysis is not None
        and analysis.match
        and (
            annotation(prefix, "canary-by-cookie") in found
            or annotation(prefix, "canary-by-header") in found
        )
    ):
        return 0, 100, False
    raw = found.get(annotation(prefix, "canary-weight"))
    weight = 0
    if raw is not None:
        try:
            weight = int(raw)
        except ValueError as exc:
            raise router_helpers.RouterError(f"failed to convert {raw} to int: {exc}") from exc
    return 100 - weight, weight, False


def build_canary_ingress(
    canary: canary_api.Canary, ingress: Mapping[str, Any], prefix: str
) -> JSON:
    """The canary Ingress Flagger creates from the original ``ingress``."""
    meta = ingress.get("metadata") or {}
    metadata: JSON = {
        "name": canary_ingress_name(canary),
        "namespace": canary.namespace,
        "ownerReferences": [router_helpers.owner_reference(canary)],
        "annotations": reset_annotations(meta.get("annotations"), prefix),
    }
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    return {
        "apiVersion": INGRESS_API_VERSION,
        "kind": "Ingress",
        "metadata": metadata,
        "spec": canary_ingress_spec(canary, ingress),
    }


def plan_canary_ingress_update(desired_spec: Mapping[str, Any], existing: JSON) -> JSON | None:
    """``existing`` with ``desired_spec``, or ``None`` when the spec is already that."""
    if dict(existing.get("spec") or {}) == dict(desired_spec):
        return None
    updated = router_helpers.deep_copy(existing)
    updated["spec"] = router_helpers.deep_copy(dict(desired_spec))
    return updated


# --- the router -----------------------------------------------------------------------------


class NginxRouter:
    """Reconciles a canary's canary Ingress and moves its ingress-nginx annotations."""

    provider = NAME

    def __init__(self, kube: router_helpers.KubeClient, prefix: str = DEFAULT_PREFIX) -> None:
        self.kube = kube
        self.prefix = prefix or DEFAULT_PREFIX

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create the canary Ingress, or rewrite its spec when the original's changed."""
        check_supported(canary, self.provider)
        original_name = _ingress_ref(canary, self.provider)
        original = await self._get(canary, original_name)
        if original is None:
            raise router_helpers.RouterError(
                f"ingress {original_name}.{canary.namespace} get query error: not found "
                f"(spec.ingressRef of canary {router_helpers.canary_id(canary)})"
            )
        name = canary_ingress_name(canary)
        existing = await self._get(canary, name)
        if existing is None:
            desired = build_canary_ingress(canary, original, self.prefix)
            await router_helpers.write(
                self.kube.create, desired, f"ingress {name}.{canary.namespace} create error"
            )
            _log.info(
                "Ingress %s.%s created",
                name,
                canary.namespace,
                extra={"canary": router_helpers.canary_id(canary)},
            )
            return
        updated = plan_canary_ingress_update(canary_ingress_spec(canary, original), existing)
        if updated is not None:
            await router_helpers.write(
                self.kube.replace, updated, f"ingress {name}.{canary.namespace} update error"
            )
            _log.info(
                "Ingress %s updated", name, extra={"canary": router_helpers.canary_id(canary)}
            )

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        """Write the weight (or the A/B annotations) on the canary Ingress, if they changed."""
        existing = await self._canary_ingress(canary)
        current = (existing.get("metadata") or {}).get("annotations")
        want = routed_annotations(canary, current, self.prefix, canary_weight)
        if want == (current or {}):
            return
        updated = router_helpers.deep_copy(existing)
        updated.setdefault("metadata", {})["annotations"] = want
        name = updated["metadata"].get("name")
        await router_helpers.write(
            self.kube.replace, updated, f"ingress {name}.{canary.namespace} update error"
        )

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        """The weights the canary Ingress currently routes."""
        existing = await self._canary_ingress(canary)
        return read_routes(canary, (existing.get("metadata") or {}).get("annotations"), self.prefix)

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Nothing to give back: the original Ingress was never changed."""
        return None

    async def _canary_ingress(self, canary: canary_api.Canary) -> JSON:
        check_supported(canary, self.provider)
        name = canary_ingress_name(canary)
        found = await self._get(canary, name)
        if found is None:
            raise router_helpers.RouterError(
                f"ingress {name}.{canary.namespace} get query error: not found"
            )
        return found

    async def _get(self, canary: canary_api.Canary, name: str) -> JSON | None:
        try:
            return await self.kube.get(INGRESS_API_VERSION, "Ingress", name, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(
                f"ingress {name}.{canary.namespace} get query error: {exc}"
            ) from exc


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``nginx`` routing provider."""
    registry.router(NAME, flagger_router)
    registry.rules(NAME, plugins.route_rules("networking.k8s.io", "ingresses"))


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The NGINX router, with the daemon's ``-ingress-annotations-prefix``."""
    if name != NAME:
        return None
    prefix = str(context.options.get("ingress-annotations-prefix") or DEFAULT_PREFIX)
    return NginxRouter(context.kube, prefix)


# --- helpers --------------------------------------------------------------------------------


def _ingress_ref(canary: canary_api.Canary, provider: str) -> str:
    ref = canary.spec.ingress_ref
    if ref is None or not ref.name:
        raise UnsupportedRequest(
            canary,
            provider,
            "a canary without spec.ingressRef",
            "set spec.ingressRef to the Ingress that routes to the apex Service "
            "(apiVersion: networking.k8s.io/v1, kind: Ingress, name: ...)",
        )
    return ref.name
