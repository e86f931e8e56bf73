"""The ``skipper`` router: a canary Ingress with Skipper's backend weights.

For a canary with ``ingressRef: {name: podinfo}`` whose apex Service is ``podinfo``, Flagger
(``pkg/router/skipper.go``) leaves the Ingress ``podinfo`` as it is and keeps a second one,
``podinfo-canary`` (``networking.k8s.io/v1``, owned by the Canary):

- its spec is the original's, where every path to the Service ``podinfo`` now goes to
  ``podinfo-primary``, and a copy of that path going to ``podinfo-canary`` is appended to the
  rule's paths;
- its labels and annotations are the original's plus ``zalando.org/backend-weights`` (the two
  weights as compact JSON, keys sorted, as Go marshals a map) and ``zalando.org/skipper-predicate``
  starting with ``Weight(100)``, so Skipper prefers the canary Ingress's routes over the apex's.

``set_routes`` rewrites the weights; at canary weight 0 the predicate starts with ``False()``
instead, which switches the canary Ingress's routes off and sends traffic back through the
untouched original. ``finalize`` deletes the canary Ingress. When the original's spec changes,
the canary Ingress is rebuilt from it (and its weights reset to 100/0, as Flagger does).

Skipper has no A/B routing in Flagger, nor mirroring or session affinity: a Canary asking for
them gets :class:`~flagger.providers.nginx.UnsupportedRequest`, as does one without ``ingressRef``.
Unlike Flagger, which never notices, an original Ingress with no path to the apex Service is an
error too (Flagger would create a canary Ingress that routes nothing).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api

from .nginx import INGRESS_API_VERSION, UnsupportedRequest

__all__ = [
    "BACKEND_WEIGHTS",
    "NAME",
    "PREDICATE",
    "KubeClient",
    "SkipperRouter",
    "backend_weights",
    "build_canary_ingress",
    "canary_ingress_spec",
    "check_supported",
    "flagger_register",
    "flagger_router",
    "insert_predicate",
    "plan_canary_ingress_update",
    "read_routes",
    "weighted_annotations",
]

NAME = "skipper"
BACKEND_WEIGHTS = "zalando.org/backend-weights"
PREDICATE = "zalando.org/skipper-predicate"
ROUTE_WEIGHT = "Weight(100)"
ROUTE_DISABLE = "False()"

#: What Skipper cannot route, and what to do instead.
REFUSALS = {
    router_helpers.AB_TESTING: router_helpers.Refusal(
        router_helpers.AB_TESTING,
        fix="remove analysis.match, or use nginx, istio or gatewayapi for A/B testing",
    ),
    router_helpers.MIRRORING: router_helpers.Refusal(
        router_helpers.MIRRORING, fix="remove analysis.mirror"
    ),
    router_helpers.SESSION_AFFINITY: router_helpers.Refusal(
        router_helpers.SESSION_AFFINITY, fix="remove analysis.sessionAffinity"
    ),
}

_log = logging.getLogger(__name__)
JSON = dict[str, Any]


# --- pure builders --------------------------------------------------------------------------


def check_supported(canary: canary_api.Canary) -> str:
    """The ``ingressRef`` name; :class:`UnsupportedRequest` for what Skipper cannot route."""
    ref = canary.spec.ingress_ref
    if ref is None or not ref.name:
        raise UnsupportedRequest(
            canary,
            NAME,
            "a canary without spec.ingressRef",
            "set spec.ingressRef to the Ingress that routes to the apex Service",
        )
    router_helpers.refuse_first(
        canary, NAME, [REFUSALS[feature] for feature in router_helpers.beyond_weights(canary)]
    )
    return ref.name


def insert_predicate(raw: str | None, insert: str) -> str:
    """``insert`` first, then the other predicates of ``raw`` without any weight or disable
    predicate (Flagger's ``insertPredicate``)."""
    predicates = [insert]
    for part in (raw or "").split("&&"):
        predicate = part.strip()
        if predicate in ("", ROUTE_WEIGHT, ROUTE_DISABLE):
            continue
        predicates.append(predicate)
    return " && ".join(predicates)


def backend_weights(weights: Mapping[str, int]) -> str:
    """The ``zalando.org/backend-weights`` value: compact JSON, keys sorted (Go's encoding)."""
    return json.dumps(dict(weights), sort_keys=True, separators=(",", ":"))


def weighted_annotations(
    annotations: Mapping[str, str] | None, weights: Mapping[str, int]
) -> dict[str, str]:
    """``annotations`` with the backend weights and the ``Weight(100)`` predicate first
    (Flagger's ``makeAnnotations``)."""
    result = dict(annotations or {})
    result[BACKEND_WEIGHTS] = backend_weights(weights)
    result[PREDICATE] = insert_predicate(result.get(PREDICATE), ROUTE_WEIGHT)
    return result


def canary_ingress_spec(canary: canary_api.Canary, ingress: Mapping[str, Any]) -> JSON:
    """The original's spec with each path to ``<svc>`` sent to ``<svc>-primary`` and a copy of
    it, to ``<svc>-canary``, appended to the same rule."""
    apex, primary, canary_service = router_helpers.service_names(canary)
    spec = router_helpers.deep_copy(dict(ingress.get("spec") or {}))
    found = False
    for rule in spec.get("rules") or []:
        paths = (rule.get("http") or {}).get("paths")
        if not paths:
            continue
        for path in list(paths):
            service = (path.get("backend") or {}).get("service")
            if service is None or service.get("name") != apex:
                continue
            service["name"] = primary
            copy = router_helpers.deep_copy(path)
            copy["backend"]["service"]["name"] = canary_service
            paths.append(copy)
            found = True
    if not found:
        name = (ingress.get("metadata") or {}).get("name")
        raise router_helpers.RouterError(f"backend {apex} not found in ingress {name}")
    return spec


def build_canary_ingress(canary: canary_api.Canary, ingress: Mapping[str, Any]) -> JSON:
    """The canary Ingress Flagger creates: all traffic on the primary."""
    _, primary, canary_service = router_helpers.service_names(canary)
    meta = ingress.get("metadata") or {}
    metadata: JSON = {
        "name": f"{check_supported(canary)}-canary",
        "namespace": canary.namespace,
        "annotations": weighted_annotations(
            meta.get("annotations"), {primary: 100, canary_service: 0}
        ),
        "ownerReferences": [router_helpers.owner_reference(canary)],
    }
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    return {
        "apiVersion": INGRESS_API_VERSION,
        "kind": "Ingress",
        "metadata": metadata,
        "spec": canary_ingress_spec(canary, ingress),
    }


def plan_canary_ingress_update(
    canary: canary_api.Canary, ingress: Mapping[str, Any], existing: JSON
) -> JSON | None:
    """The canary Ingress rebuilt from a changed original (spec, and annotations with the
    weights reset plus Flux's opt-outs), or ``None`` when the spec is unchanged."""
    desired = build_canary_ingress(canary, ingress)
    if dict(existing.get("spec") or {}) == desired["spec"]:
        return None
    updated = router_helpers.deep_copy(existing)
    updated["spec"] = desired["spec"]
    updated.setdefault("metadata", {})["annotations"] = router_helpers.filter_metadata(
        desired["metadata"]["annotations"]
    )
    return updated


def routed_annotations(
    canary: canary_api.Canary,
    annotations: Mapping[str, str] | None,
    primary_weight: int,
    canary_weight: int,
) -> dict[str, str]:
    """The canary Ingress annotations for a weight split (Flagger's ``SetRoutes``)."""
    _, primary, canary_service = router_helpers.service_names(canary)
    result = weighted_annotations(
        annotations, {primary: primary_weight, canary_service: canary_weight}
    )
    if canary_weight == 0:
        result[PREDICATE] = insert_predicate(result.get(PREDICATE), ROUTE_DISABLE)
    return result


def read_routes(
    canary: canary_api.Canary, annotations: Mapping[str, str] | None, where: str
) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) from the backend weights (Flagger's ``GetRoutes``)."""
    _, primary, canary_service = router_helpers.service_names(canary)
    raw = (annotations or {}).get(BACKEND_WEIGHTS)
    if raw is None:
        raise router_helpers.RouterError(
            f"ingress {where} get backendWeights error: annotation {BACKEND_WEIGHTS} not found"
        )
    try:
        weights = json.loads(raw)
        if not isinstance(weights, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise router_helpers.RouterError(
            f"ingress {where} get backendWeights error: {exc}"
        ) from exc
    for service in (primary, canary_service):
        if not isinstance(weights.get(service), int):
            raise router_helpers.RouterError(f"ingress {where} could not get weights[{service}]")
    return int(weights[primary]), int(weights[canary_service]), False


# --- the router -----------------------------------------------------------------------------


class KubeClient(router_helpers.KubeClient, Protocol):
    """The part of ``flagger.kube.client.Kube`` this router uses (it also deletes)."""

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> None: ...


class SkipperRouter:
    """Reconciles a canary's canary Ingress and moves its Skipper backend weights."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create the canary Ingress, or rebuild it when the original's spec changed."""
        original_name = check_supported(canary)
        original = await self._get(canary, original_name)
        if original is None:
            raise router_helpers.RouterError(
                f"apexIngress {original_name}.{canary.namespace} get query error: not found "
                f"(spec.ingressRef of canary {router_helpers.canary_id(canary)})"
            )
        name = f"{original_name}-canary"
        existing = await self._get(canary, name)
        if existing is None:
            await router_helpers.write(
                self.kube.create,
                build_canary_ingress(canary, original),
                f"ingress {name}.{canary.namespace} create error",
            )
            _log.info(
                "Ingress %s.%s created",
                name,
                canary.namespace,
                extra={"canary": router_helpers.canary_id(canary)},
            )
            return
        updated = plan_canary_ingress_update(canary, original, existing)
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
        """Write the backend weights (and the predicate) when they changed."""
        existing = await self._canary_ingress(canary)
        current = (existing.get("metadata") or {}).get("annotations")
        want = routed_annotations(canary, current, primary_weight, canary_weight)
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
        name = f"{check_supported(canary)}-canary.{canary.namespace}"
        return read_routes(canary, (existing.get("metadata") or {}).get("annotations"), name)

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Delete the canary Ingress: the original was never changed."""
        name = f"{check_supported(canary)}-canary"
        try:
            await self.kube.delete(INGRESS_API_VERSION, "Ingress", name, canary.namespace)
        except Exception as exc:
            raise router_helpers.RouterError(
                f"ingress {name}.{canary.namespace} unable to remove canary ingress: {exc}"
            ) from exc

    async def _canary_ingress(self, canary: canary_api.Canary) -> JSON:
        name = f"{check_supported(canary)}-canary"
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
    """This module serves the ``skipper`` routing provider."""
    registry.router(NAME, flagger_router)
    registry.rules(NAME, plugins.route_rules("networking.k8s.io", "ingresses"))


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The Skipper router."""
    return SkipperRouter(context.kube) if name == NAME else None
