"""Kubernetes Services for a canary: the three Services every provider routes through.

For a Deployment or DaemonSet target whose pods carry ``app: podinfo`` Flagger keeps three
ClusterIP Services (:class:`ServiceRouter`, Flagger's ``KubernetesDefaultRouter``):

- ``podinfo-canary`` selects ``app: podinfo`` (the target's pods, the canary);
- ``podinfo-primary`` selects ``app: podinfo-primary`` (the pods of the primary Deployment);
- ``podinfo`` (the apex) also selects ``app: podinfo-primary``: callers always reach the
  primary, and a mesh router splits the traffic between the two others.

Each Service has ``spec.service.port`` (named ``portName``, default ``http``) towards
``targetPort``, optionally ``appProtocol``, ``clusterIP: None`` when ``headless``,
``trafficDistribution``, and with ``portDiscovery`` every other container port of the target.
The labels are ``spec.service.{apex,primary,canary}.labels`` plus ``<label>: <service name>``,
the annotations those of the same block plus Flux's opt-outs. An apex Service that already
exists (made by someone else) is taken over: its selector and ports are rewritten, its metadata
is left alone, and ``finalize`` points it back at the target's pods. Metadata keys listed in
``spec.service.unmanagedMetadata`` are never changed. Nothing is written when nothing changed.

This is core: the controller keeps these Services for every routing provider. The
``kubernetes`` provider's mesh router (blue/green, writes nothing) is the plugin
:mod:`flagger.providers.kubernetes`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flagger import router_helpers
from flagger.api import canary as canary_api
from flagger.api import service as service_api
from flagger.kube import cache

__all__ = [
    "NoopServiceRouter",
    "ServiceRouter",
    "TargetSelector",
    "build_service",
    "discover_ports",
    "plan_service_update",
    "service_router",
]

#: Sidecar containers whose ports port discovery skips.
SIDECARS = frozenset({"istio-proxy", "envoy"})

_log = logging.getLogger(__name__)
JSON = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class TargetSelector:
    """How the target's pods are selected (what Flagger's workload ``GetMetadata`` returns).

    ``label`` is the first ``-selector-labels`` key found in the target's ``matchLabels`` and
    ``value`` its value; the primary's pods carry ``<value>-primary``. ``ports`` are the extra
    container ports (name to number) exposed with ``portDiscovery``.
    """

    label: str
    value: str
    ports: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: The apex Service's selector when it is not the primary's pods: with replica-based
    #: weights (:mod:`flagger.api.replica_weights`) a label both workloads' pods carry.
    apex_selector: Mapping[str, str] | None = None


def discover_ports(
    canary: canary_api.Canary, containers: Iterable[Mapping[str, Any]]
) -> dict[str, int]:
    """The container ports to expose besides ``spec.service.port`` (Flagger's ``getPorts``).

    Sidecars (``istio-proxy``, ``envoy``) are skipped, and so is the port the service already
    routes to (``targetPort``, or ``port`` when no target port is set). Unnamed ports are
    called ``tcp-<container>-<index>``.
    """
    svc = router_helpers.service(canary)
    target = svc.target_port if svc.target_port not in (None, 0, "") else None
    found: dict[str, int] = {}
    for container in containers:
        name = str(container.get("name") or "")
        if name in SIDECARS:
            continue
        for index, port in enumerate(container.get("ports") or []):
            number = int(port.get("containerPort") or 0)
            port_name = str(port.get("name") or "")
            if target is None and number == svc.port:
                continue
            if isinstance(target, int) and number == target:
                continue
            if isinstance(target, str) and port_name == target:
                continue
            found[port_name or f"tcp-{name}-{index}"] = number
    return found


def build_service(
    canary: canary_api.Canary,
    name: str,
    pod_selector: str,
    metadata: service_api.CustomMetadata | None,
    target: TargetSelector,
    selector: Mapping[str, str] | None = None,
) -> JSON:
    """The Service ``name`` Flagger creates, selecting pods labelled ``<label>: pod_selector``
    (or by ``selector`` when given)."""
    svc = router_helpers.service(canary)
    main: JSON = {
        "name": svc.effective_port_name,
        "protocol": "TCP",
        "port": svc.port,
        "targetPort": svc.effective_target_port,
    }
    if svc.app_protocol:
        main["appProtocol"] = svc.app_protocol
    extra = [
        {"name": n, "protocol": "TCP", "port": p, "targetPort": p}
        for n, p in sorted(target.ports.items(), key=lambda item: (item[1], item[0]))
    ]
    spec: JSON = {
        "type": "ClusterIP",
        "selector": dict(selector) if selector else {target.label: pod_selector},
        "ports": [main, *extra],
    }
    if svc.headless:
        spec["clusterIP"] = "None"
    if svc.traffic_distribution:
        spec["trafficDistribution"] = svc.traffic_distribution
    labels = {**((metadata.labels if metadata else None) or {}), target.label: name}
    annotations = router_helpers.filter_metadata(metadata.annotations if metadata else None)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": canary.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [router_helpers.owner_reference(canary)],
        },
        "spec": spec,
    }


def plan_service_update(
    canary: canary_api.Canary, desired: JSON, existing: Mapping[str, Any], target: TargetSelector
) -> JSON | None:
    """The updated Service to write over ``existing``, or ``None`` when nothing changed.

    Selector and ports follow ``desired`` (node ports already allocated are kept), and so does
    ``trafficDistribution`` when the canary sets one. Labels and annotations are managed only
    on Services this canary owns, keeping the current values of ``unmanagedMetadata`` keys. An apex
    Service that already routes to ``<value>-canary`` is left as it is. ``existing`` is only
    read (it may be the watch cache's own object): it is copied when there is something to write.
    """
    apex, _, _ = router_helpers.service_names(canary)
    name = desired["metadata"]["name"]
    current_spec: Mapping[str, Any] = existing.get("spec") or {}
    current_selector = current_spec.get("selector") or {}
    if name == apex and current_selector.get(target.label) == f"{target.value}-canary":
        return None

    want_spec: JSON = desired["spec"]
    want_ports = [dict(p) for p in want_spec["ports"]]
    for port in current_spec.get("ports") or []:
        for want in want_ports:
            if port.get("name") == want["name"] and (port.get("nodePort") or 0) > 0:
                want["nodePort"] = port["nodePort"]
                break

    spec_changes: JSON = {}
    if _port_set(want_ports) != _port_set(current_spec.get("ports") or []) or (
        want_spec["selector"] != current_selector
    ):
        spec_changes["ports"] = want_ports
        spec_changes["selector"] = dict(want_spec["selector"])
    want_distribution = want_spec.get("trafficDistribution")
    if want_distribution and want_distribution != current_spec.get("trafficDistribution"):
        spec_changes["trafficDistribution"] = want_distribution

    meta_changes: JSON = {}
    if _owned_by(existing, canary.name)[1]:
        unmanaged = router_helpers.service(canary).unmanaged_metadata
        for field, keys in (
            ("annotations", unmanaged.annotations if unmanaged else None),
            ("labels", unmanaged.labels if unmanaged else None),
        ):
            current = (existing.get("metadata") or {}).get(field) or {}
            want = _keep_unmanaged(desired["metadata"][field], current, keys or [])
            if want != current:
                meta_changes[field] = want
    if not spec_changes and not meta_changes:
        return None
    updated = router_helpers.deep_copy(dict(existing))
    updated.setdefault("spec", {}).update(spec_changes)
    meta = updated.setdefault("metadata", {})
    meta.update(meta_changes)
    meta["annotations"] = router_helpers.filter_metadata(meta.get("annotations"))
    return updated


class ServiceRouter:
    """Creates and updates the apex, primary and canary Services of one canary's target.

    ``initialize`` makes ``-canary`` and ``-primary``, ``reconcile`` the apex (pointing at the
    primary's pods) and ``finalize`` gives back an apex Service Flagger took over.
    """

    def __init__(self, kube: router_helpers.KubeClient, target: TargetSelector) -> None:
        self.kube = kube
        self.target = target

    async def initialize(self, canary: canary_api.Canary) -> None:
        """Create or update ``<svc>-canary`` and ``<svc>-primary``."""
        _, primary, canary_name = router_helpers.service_names(canary)
        svc = router_helpers.service(canary)
        await self._reconcile(canary, canary_name, self.target.value, svc.canary)
        await self._reconcile(canary, primary, f"{self.target.value}-primary", svc.primary)

    async def reconcile(self, canary: canary_api.Canary) -> None:
        """Create or update the apex ``<svc>``, selecting the primary's pods."""
        apex, _, _ = router_helpers.service_names(canary)
        await self._reconcile(
            canary,
            apex,
            f"{self.target.value}-primary",
            router_helpers.service(canary).apex,
            self.target.apex_selector,
        )

    async def finalize(self, canary: canary_api.Canary) -> None:
        """Point an apex Service Flagger did not create back at the target's pods.

        The selector comes from kubectl's last-applied-configuration when present; otherwise
        the apex selects ``<label>: <value>``. Services the canary owns are deleted with it.
        """
        apex, _, _ = router_helpers.service_names(canary)
        existing = await self.kube.get("v1", "Service", apex, canary.namespace)
        if existing is None:
            return
        has_owner, _ = _owned_by(existing, canary.name)
        if has_owner:
            return
        applied = (
            existing.get("metadata", {})
            .get("annotations", {})
            .get(router_helpers.KUBECTL_ANNOTATION)
        )
        if applied is None:
            await self._reconcile(canary, apex, self.target.value, None)
            return
        try:
            selector = json.loads(applied).get("spec", {}).get("selector")
        except (ValueError, AttributeError) as exc:
            raise router_helpers.RouterError(
                f"router {apex}.{canary.namespace} failed to unMarshal annotation "
                f"{router_helpers.KUBECTL_ANNOTATION}"
            ) from exc
        clone = router_helpers.deep_copy(existing)
        clone.setdefault("spec", {})["selector"] = selector
        if clone != existing:
            await router_helpers.write(self.kube.replace, clone, f"service {apex} update error")

    async def _reconcile(
        self,
        canary: canary_api.Canary,
        name: str,
        pod_selector: str,
        metadata: service_api.CustomMetadata | None,
        selector: Mapping[str, str] | None = None,
    ) -> None:
        desired = build_service(canary, name, pod_selector, metadata, self.target, selector)
        existing = await cache.peek(self.kube, "v1", "Service", name, canary.namespace)
        if existing is None:
            await router_helpers.write(
                self.kube.create, desired, f"service {name}.{canary.namespace} create error"
            )
            _log.info(
                "Service %s.%s created",
                name,
                canary.namespace,
                extra={"canary": router_helpers.canary_id(canary)},
            )
            return
        updated = plan_service_update(canary, desired, existing, self.target)
        if updated is not None:
            await router_helpers.write(self.kube.replace, updated, f"service {name} update error")
            _log.info(
                "Service %s updated", name, extra={"canary": router_helpers.canary_id(canary)}
            )


class NoopServiceRouter:
    """The Service router for a ``Service`` target: that Service is routed as it is."""

    async def initialize(self, canary: canary_api.Canary) -> None:
        return None

    async def reconcile(self, canary: canary_api.Canary) -> None:
        return None

    async def finalize(self, canary: canary_api.Canary) -> None:
        return None


def service_router(
    kube: router_helpers.KubeClient, canary: canary_api.Canary, target: TargetSelector
) -> ServiceRouter | NoopServiceRouter:
    """The Service router for a canary's target kind (Flagger's ``KubernetesRouter`` factory)."""
    if canary.spec.target_ref.kind == "Service":
        return NoopServiceRouter()
    return ServiceRouter(kube, target)


# --- helpers --------------------------------------------------------------------------------


def _owned_by(obj: Mapping[str, Any], canary_name: str) -> tuple[bool, bool]:
    """(controlled by some Canary, controlled by this Canary) — Flagger's ``isOwnedByCanary``."""
    ref = router_helpers.controller_owner(obj)
    if ref is None or ref.get("kind") != canary_api.KIND:
        return False, False
    return True, ref.get("name") == canary_name


_PORT_FIELDS = ("name", "protocol", "port", "targetPort", "appProtocol", "nodePort")


def _port_set(ports: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Ports as comparable tuples, in port order (Flagger compares them sorted by port)."""
    rows = [tuple(p.get(f) for f in _PORT_FIELDS) for p in ports]
    return sorted(rows, key=lambda row: (row[2] or 0, str(row[0])))


def _keep_unmanaged(
    want: Mapping[str, str], current: Mapping[str, str], unmanaged: Sequence[str]
) -> dict[str, str]:
    """``want`` with the unmanaged keys as they currently are (kept, or left absent)."""
    result = {k: v for k, v in want.items() if k not in unmanaged}
    result.update({k: current[k] for k in unmanaged if k in current})
    return result
