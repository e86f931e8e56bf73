"""A Canary's ``spec.service``: the ports and routing settings of the generated objects.

From it Flagger generates the ``<name>`` (apex), ``<name>-primary`` and ``<name>-canary``
Services plus the router's objects (VirtualService, HTTPRoute, Ingress, ...). Istio and
Gateway API pass-through settings live in :mod:`flagger.api.istio_types` and
:mod:`flagger.api.gatewayapi_types`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import annotated_types

from flagger.api import common, gatewayapi_types, istio_types
from flagger.api.common import field

DEFAULT_PORT_NAME = "http"
DEFAULT_GATEWAYS = ("mesh",)


class CustomMetadata(common.FlaggerModel):
    """Labels and annotations to add to a generated object."""

    labels: dict[str, str] | None = field("Labels to add")
    annotations: dict[str, str] | None = field("Annotations to add")


class UnmanagedMetadata(common.FlaggerModel):
    """UnmanagedMetadata is a list of metadata keys that should be ignored by Flagger."""

    annotations: list[str] | None = field("Annotation keys Flagger never touches")
    labels: list[str] | None = field("Label keys Flagger never touches")


class CanaryService(common.FlaggerModel):
    """Kubernetes Service spec."""

    name: str | None = field("Kubernetes service name")
    port: common.IntNumber = common.required("Container port number")
    port_name: str | None = field("Container port name")
    app_protocol: str | None = field("Application protocol of the port")
    traffic_distribution: Literal["PreferClose", "PreferSameZone", "PreferSameNode"] | None = field(
        "Traffic distribution of the service"
    )
    target_port: common.IntOrString | None = field("Container target port name")
    port_discovery: bool | None = field("Enable port discovery")
    headless: bool | None = field(
        "Headless if set to true, generates headless Kubernetes services."
    )
    timeout: str | None = field("HTTP or gRPC request timeout")
    backend_timeout: str | None = field("Backend request timeout (Gateway API only)")
    mesh_name: str | None = field("AppMesh mesh name")
    backends: list[str] | None = field("AppMesh backend array")
    hosts: list[str] | None = field("The list of host names for this service")
    delegation: bool | None = field("enable behaving as a delegate VirtualService")
    match: list[istio_types.HTTPMatchRequest] | None = field("URI match conditions")
    retries: istio_types.HTTPRetry | None = field("Retry policy for HTTP requests")
    rewrite: istio_types.HTTPRewrite | None = field("Rewrite HTTP URIs")
    mirror: list[gatewayapi_types.HTTPRequestMirrorFilter] | None = field(
        "Mirror defines a schema for a filter that mirrors requests."
    )
    headers: istio_types.Headers | None = field("Headers operations")
    gateways: list[str] | None = field("The list of Istio gateway for this virtual service")
    gateway_refs: (
        Annotated[list[gatewayapi_types.ParentReference], annotated_types.MaxLen(32)] | None
    ) = field("The list of parent Gateways for a HTTPRoute")
    cors_policy: istio_types.CorsPolicy | None = field(
        "Istio Cross-Origin Resource Sharing policy (CORS)"
    )
    traffic_policy: istio_types.TrafficPolicy | None = field("Istio traffic policy")
    apex: CustomMetadata | None = field("Metadata to add to the apex service")
    primary: CustomMetadata | None = field("Metadata to add to the primary service")
    canary: CustomMetadata | None = field("Metadata to add to the canary service")
    unmanaged_metadata: UnmanagedMetadata | None = field(
        "UnmanagedMetadata is a list of metadata keys that should be ignored by Flagger."
    )

    @property
    def effective_port_name(self) -> str:
        """The service port name, default ``http``."""
        return self.port_name or DEFAULT_PORT_NAME

    @property
    def effective_target_port(self) -> int | str:
        """The container port: ``targetPort`` when set, else ``port``."""
        if self.target_port is None or self.target_port in (0, ""):
            return self.port
        return self.target_port

    @property
    def effective_gateways(self) -> list[str]:
        """The Istio gateways, default ``["mesh"]``."""
        return list(self.gateways) if self.gateways else list(DEFAULT_GATEWAYS)
