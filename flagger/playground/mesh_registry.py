"""What the mesh proxy knows about the cluster: watch-fed caches and name resolution.

Five informers keep only what routing and telemetry need:

- **Services**: ports (name, port, targetPort) and the cluster IP;
- **EndpointSlices** (``discovery.k8s.io/v1``): the owning Service (label
  ``kubernetes.io/service-name``), the ports by name, and each endpoint's addresses, readiness
  and target pod;
- **Pods**: IP, labels and the owner reference, so an address maps to a workload and a caller
  is known by its address;
- **ReplicaSets**: their owning Deployment, so a pod's workload is the Deployment's name as in
  Istio's ``destination_workload``;
- **VirtualServices** (``networking.istio.io/v1beta1``): hosts, gateways and ``http`` routes.

Names resolve as Kubernetes DNS would for a pod: ``svc`` (in the caller's namespace),
``svc.ns``, ``svc.ns.svc`` and ``svc.ns.svc.cluster.local``, and a Service's cluster IP.

A Service port's endpoints come from two places, merged:

- its EndpointSlices (``IPv4``, or ``FQDN`` with an address such as ``127.0.0.2``), the
  EndpointSlice port of the Service port's name giving the target port;
- the ready pods its ``selector`` matches, the ``targetPort`` resolved against the pod's
  container ports. The API server refuses loopback addresses in EndpointSlices and Endpoints,
  so for playground pods, whose IPs are 127.0.0.N, the controller-manager cannot publish
  endpoints and the proxy finds them the way the EndpointSlice controller would.

Only addresses the playground can reach (loopback, by default) are used: a pod given a fake
address by kwok is not an endpoint. Each Service port picks its endpoints round-robin.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from flagger.kube import client as kube_client
from flagger.kube import informers

__all__ = [
    "CLUSTER_DOMAIN",
    "Endpoint",
    "MeshRegistry",
    "PodInfo",
    "ServiceInfo",
    "ServicePort",
    "SliceInfo",
    "VirtualServiceInfo",
    "fqdn",
]

CLUSTER_DOMAIN = "cluster.local"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
VIRTUAL_SERVICE_API = "networking.istio.io/v1beta1"
JSON = dict[str, Any]


def fqdn(name: str, namespace: str) -> str:
    """``name.namespace.svc.cluster.local``."""
    return f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"


@dataclasses.dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int | str | None


@dataclasses.dataclass(frozen=True)
class ServiceInfo:
    namespace: str
    name: str
    cluster_ip: str
    ports: tuple[ServicePort, ...]
    selector: tuple[tuple[str, str], ...] = ()

    @property
    def fqdn(self) -> str:
        return fqdn(self.name, self.namespace)

    def port(self, number: int | None) -> ServicePort | None:
        """The port with this number; with None, the only port (None when there are several)."""
        if number is None:
            return self.ports[0] if len(self.ports) == 1 else None
        return next((p for p in self.ports if p.port == number), None)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    address: str
    ready: bool
    pod: str | None
    """The target pod's name (``targetRef``), when the endpoint names one."""


@dataclasses.dataclass(frozen=True)
class SliceInfo:
    service: str
    ports: tuple[tuple[str, int], ...]
    endpoints: tuple[Endpoint, ...]


@dataclasses.dataclass(frozen=True)
class PodInfo:
    namespace: str
    name: str
    ip: str
    owner_kind: str
    owner_name: str
    labels: tuple[tuple[str, str], ...]
    ready: bool = False
    ports: tuple[tuple[str, int], ...] = ()
    """Container ports by name, for named target ports."""
    created: str = ""
    terminating: bool = False

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclasses.dataclass(frozen=True)
class VirtualServiceInfo:
    namespace: str
    name: str
    created: str
    hosts: tuple[str, ...]
    gateways: tuple[str, ...]
    http: tuple[JSON, ...]

    @property
    def serves_mesh(self) -> bool:
        """Whether sidecars apply it (``gateways`` unset or naming ``mesh``)."""
        return not self.gateways or "mesh" in self.gateways


# --- reduce functions ---------------------------------------------------------------------


def reduce_service(obj: JSON) -> ServiceInfo:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    ports = tuple(
        ServicePort(str(p.get("name") or ""), int(p.get("port") or 0), p.get("targetPort"))
        for p in spec.get("ports") or []
    )
    selector = tuple(sorted((str(k), str(v)) for k, v in (spec.get("selector") or {}).items()))
    return ServiceInfo(
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
        str(spec.get("clusterIP") or ""),
        ports,
        selector,
    )


def reduce_slice(obj: JSON) -> SliceInfo:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    ports = tuple(
        (str(p.get("name") or ""), int(p.get("port") or 0))
        for p in obj.get("ports") or []
        if p.get("port")
    )
    endpoints: list[Endpoint] = []
    for endpoint in obj.get("endpoints") or []:
        ready = (endpoint.get("conditions") or {}).get("ready")
        target = endpoint.get("targetRef") or {}
        pod = str(target["name"]) if target.get("kind") == "Pod" and target.get("name") else None
        endpoints.extend(
            Endpoint(str(address), ready is not False, pod)
            for address in endpoint.get("addresses") or []
        )
    return SliceInfo(str(labels.get(SERVICE_NAME_LABEL) or ""), ports, tuple(endpoints))


def _owner(meta: JSON) -> tuple[str, str]:
    owners = meta.get("ownerReferences") or []
    chosen = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if not chosen:
        return "", ""
    return str(chosen.get("kind") or ""), str(chosen.get("name") or "")


def reduce_pod(obj: JSON) -> PodInfo:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    ip = "" if status.get("phase") in ("Succeeded", "Failed") else str(status.get("podIP") or "")
    kind, name = _owner(meta)
    labels = tuple(sorted((str(k), str(v)) for k, v in (meta.get("labels") or {}).items()))
    ready = not meta.get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    ports = tuple(
        (str(p["name"]), int(p.get("containerPort") or 0))
        for c in (obj.get("spec") or {}).get("containers") or []
        for p in c.get("ports") or []
        if p.get("name")
    )
    return PodInfo(
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
        ip,
        kind,
        name,
        labels,
        bool(ip) and ready,
        ports,
        str(meta.get("creationTimestamp") or ""),
        bool(meta.get("deletionTimestamp")),
    )


def reduce_replicaset(obj: JSON) -> str:
    """The owning Deployment's name, or "" when the ReplicaSet stands alone."""
    kind, name = _owner(obj.get("metadata") or {})
    return name if kind == "Deployment" else ""


def reduce_virtual_service(obj: JSON) -> VirtualServiceInfo:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    return VirtualServiceInfo(
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
        str(meta.get("creationTimestamp") or ""),
        tuple(str(h) for h in spec.get("hosts") or []),
        tuple(str(g) for g in spec.get("gateways") or []),
        tuple(r for r in spec.get("http") or [] if isinstance(r, dict)),
    )


# --- the registry -------------------------------------------------------------------------


class MeshRegistry:
    """The caches and the lookups the proxy makes on them."""

    def __init__(
        self, kube: kube_client.Kube, *, reachable: Callable[[str], bool] | None = None
    ) -> None:
        """``reachable(address)`` says which endpoint addresses may be used (loopback ones by
        default)."""
        self._reachable = reachable or is_loopback
        self.informers = informers.InformerSet()
        self.services = self.informers.add(
            informers.Informer(kube, "v1", "Service", reduce=reduce_service)
        )
        self.slices = self.informers.add(
            informers.Informer(kube, "discovery.k8s.io/v1", "EndpointSlice", reduce=reduce_slice)
        )
        self.pods = self.informers.add(informers.Informer(kube, "v1", "Pod", reduce=reduce_pod))
        self.replicasets = self.informers.add(
            informers.Informer(kube, "apps/v1", "ReplicaSet", reduce=reduce_replicaset)
        )
        # Kept apart: the kind is a CRD that may not be installed yet.
        self.virtual_services = informers.Informer(
            kube, VIRTUAL_SERVICE_API, "VirtualService", reduce=reduce_virtual_service
        )
        self._pods_by_ip: dict[str, set[informers.ObjectKey]] = {}
        self._pods_by_namespace: dict[str, set[informers.ObjectKey]] = {}
        self._slices_by_service: dict[informers.ObjectKey, set[informers.ObjectKey]] = {}
        self._cluster_ips: dict[str, informers.ObjectKey] = {}
        self._round_robin: dict[tuple[str, str, int], Iterator[int]] = {}
        self.pods.subscribe(self._on_pod)
        self.slices.subscribe(self._on_slice)
        self.services.subscribe(self._on_service)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.informers.start()
        self.virtual_services.start()

    async def wait_synced(self, timeout: float) -> None:
        """Wait for the core kinds (VirtualServices fill in whenever their CRD is served)."""
        await self.informers.wait_synced(timeout)

    async def stop(self) -> None:
        await self.informers.stop()
        await self.virtual_services.stop()

    # --- indexes --------------------------------------------------------------------------

    def _on_pod(self, key: informers.ObjectKey, old: PodInfo | None, new: PodInfo | None) -> None:
        if old is not None and old.ip:
            holders = self._pods_by_ip.get(old.ip, set())
            holders.discard(key)
            if not holders:
                self._pods_by_ip.pop(old.ip, None)
        if new is not None and new.ip:
            self._pods_by_ip.setdefault(new.ip, set()).add(key)
        if new is None:
            self._pods_by_namespace.get(key.namespace, set()).discard(key)
        else:
            self._pods_by_namespace.setdefault(key.namespace, set()).add(key)

    def _on_slice(
        self, key: informers.ObjectKey, old: SliceInfo | None, new: SliceInfo | None
    ) -> None:
        if old is not None:
            self._slices_by_service.get(
                informers.ObjectKey(key.namespace, old.service), set()
            ).discard(key)
        if new is not None and new.service:
            self._slices_by_service.setdefault(
                informers.ObjectKey(key.namespace, new.service), set()
            ).add(key)

    def _on_service(
        self, key: informers.ObjectKey, old: ServiceInfo | None, new: ServiceInfo | None
    ) -> None:
        if old is not None and old.cluster_ip and self._cluster_ips.get(old.cluster_ip) == key:
            del self._cluster_ips[old.cluster_ip]
        if new is not None and new.cluster_ip and new.cluster_ip != "None":
            self._cluster_ips[new.cluster_ip] = key

    # --- pods and workloads ---------------------------------------------------------------

    def pod_by_ip(self, ip: str) -> PodInfo | None:
        """The pod with this IP; when a terminating pod still holds it, the newest live one."""
        holders = [
            pod
            for key in self._pods_by_ip.get(ip, ())
            if (pod := self.pods.get(key.name, key.namespace)) is not None
        ]
        if not holders:
            return None
        return max(
            holders, key=lambda pod: (not pod.terminating, pod.created, pod.namespace, pod.name)
        )

    def pod(self, namespace: str, name: str) -> PodInfo | None:
        return self.pods.get(name, namespace)

    def workload(self, pod: PodInfo) -> str:
        """The pod's workload as Istio names it: the Deployment behind its ReplicaSet, else its
        owner, else the pod itself."""
        if pod.owner_kind == "ReplicaSet":
            return self.replicasets.get(pod.owner_name, pod.namespace) or pod.owner_name
        return pod.owner_name or pod.name

    def endpoint_pod(self, namespace: str, endpoint: Endpoint) -> PodInfo | None:
        """The pod behind an endpoint: its ``targetRef``, else the pod with that IP."""
        if endpoint.pod:
            found = self.pod(namespace, endpoint.pod)
            if found is not None:
                return found
        return self.pod_by_ip(endpoint.address)

    # --- services -------------------------------------------------------------------------

    def service(self, namespace: str, name: str) -> ServiceInfo | None:
        return self.services.get(name, namespace)

    def resolve(self, host: str, caller_namespace: str = "default") -> ServiceInfo | None:
        """The Service a host name (or cluster IP) stands for, as cluster DNS resolves it from
        a pod in ``caller_namespace``; None for names outside the cluster."""
        host = host.rstrip(".").lower()
        by_ip = self._cluster_ips.get(host)
        if by_ip is not None:
            return self.services.get(by_ip.name, by_ip.namespace)
        parts = host.split(".")
        suffix = ["svc", *CLUSTER_DOMAIN.split(".")]
        if len(parts) == 1:
            return self.service(caller_namespace, parts[0])
        if len(parts) == 2:
            return self.service(parts[1], parts[0])
        if len(parts) >= 3 and parts[2:] == suffix[: len(parts) - 2]:
            return self.service(parts[1], parts[0])
        return None

    @staticmethod
    def is_cluster_name(host: str) -> bool:
        """Whether a name can only be a cluster name: ``*.svc``, ``*.svc.cluster.local``, or a
        single label other than ``localhost`` (which only the cluster's search path would
        complete)."""
        host = host.rstrip(".").lower()
        if "." not in host and ":" not in host:
            return host != "localhost"
        return host.endswith(".svc") or host.endswith(f".svc.{CLUSTER_DOMAIN}")

    def endpoints(self, service: ServiceInfo, port: ServicePort) -> list[tuple[Endpoint, int]]:
        """The ready, reachable endpoints of a Service port, each with its target port."""
        found: dict[tuple[str, int], tuple[Endpoint, int]] = {}
        for key in sorted(
            self._slices_by_service.get(informers.ObjectKey(service.namespace, service.name), ())
        ):
            info = self.slices.get(key.name, key.namespace)
            if info is None:
                continue
            target = dict(info.ports).get(port.name)
            if target is None:
                target = port.target_port if isinstance(port.target_port, int) else port.port
            for endpoint in info.endpoints:
                if endpoint.ready:
                    found.setdefault((endpoint.address, target), (endpoint, target))
        if service.selector:
            for pod in self._selected_pods(service):
                pod_target = _pod_target_port(pod, port)
                if pod_target is not None:
                    found.setdefault(
                        (pod.ip, pod_target), (Endpoint(pod.ip, True, pod.name), pod_target)
                    )
        return [entry for entry in found.values() if self._reachable(entry[0].address)]

    def _selected_pods(self, service: ServiceInfo) -> list[PodInfo]:
        selected: list[PodInfo] = []
        for key in sorted(self._pods_by_namespace.get(service.namespace, ())):
            pod = self.pods.get(key.name, key.namespace)
            if pod is None or not pod.ready:
                continue
            labels = pod.label_map
            if all(labels.get(k) == v for k, v in service.selector):
                selected.append(pod)
        return selected

    def pick_endpoint(self, service: ServiceInfo, port: ServicePort) -> tuple[Endpoint, int] | None:
        """The next ready endpoint of a Service port, round-robin; None when none is ready."""
        ready = self.endpoints(service, port)
        if not ready:
            return None
        counter = self._round_robin.setdefault(
            (service.namespace, service.name, port.port), itertools.count()
        )
        return ready[next(counter) % len(ready)]

    # --- virtual services -----------------------------------------------------------------

    def virtual_service_for(
        self, service: ServiceInfo | None, host: str
    ) -> VirtualServiceInfo | None:
        """The oldest mesh VirtualService whose ``hosts`` name this Service (short name, as
        ``svc.ns``, or FQDN) or the literal host."""
        wanted = {host.rstrip(".").lower()}
        if service is not None:
            wanted.add(service.fqdn)
        candidates = []
        for _, vs in self.virtual_services.items():
            if not vs.serves_mesh:
                continue
            if any(_host_fqdn(h, vs.namespace) in wanted or _wildcard(h, wanted) for h in vs.hosts):
                candidates.append(vs)
        if not candidates:
            return None
        return min(candidates, key=lambda vs: (vs.created, vs.namespace, vs.name))

    def destination_service(self, host: str, namespace: str) -> ServiceInfo | None:
        """The Service a VirtualService destination ``host`` names (short names are in the
        VirtualService's namespace)."""
        return self.resolve(host, namespace)

    def is_pod_ip(self, ip: str) -> bool:
        return ip in self._pods_by_ip


def _pod_target_port(pod: PodInfo, port: ServicePort) -> int | None:
    """The container port a Service port sends to on this pod (None: a named port the pod
    does not have)."""
    if port.target_port is None or port.target_port == "":
        return port.port
    if isinstance(port.target_port, int):
        return port.target_port
    if str(port.target_port).isdigit():
        return int(port.target_port)
    return dict(pod.ports).get(str(port.target_port))


def _host_fqdn(host: str, namespace: str) -> str:
    host = host.rstrip(".").lower()
    parts = host.split(".")
    if len(parts) == 1 and host != "*":
        return fqdn(host, namespace)
    if len(parts) == 2:
        return fqdn(parts[0], parts[1])
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.{CLUSTER_DOMAIN}"
    return host


def _wildcard(pattern: str, wanted: set[str]) -> bool:
    if pattern == "*":
        return True
    if not pattern.startswith("*."):
        return False
    return any(w.endswith(pattern[1:].lower()) for w in wanted)


def is_loopback(host: str) -> bool:
    """Whether a host is ``localhost`` or an address in 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
