"""Gateway API structures embedded in a Canary's ``spec.service``.

``gatewayRefs`` are the HTTPRoute's parent references and ``mirror`` holds static request
mirror filters. Bounds and patterns follow the Gateway API CRD as Flagger embeds it; defaults
such as ``kind: Gateway`` are applied by the API server, so they are recorded as CRD metadata
(``json_schema_extra["default"]``) and never injected by the models.
"""

from __future__ import annotations

from typing import Annotated

import annotated_types
import pydantic

from flagger.api import common
from flagger.api.common import field

GROUP_PATTERN = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
KIND_PATTERN = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SECTION_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

Group = Annotated[str, pydantic.StringConstraints(max_length=253, pattern=GROUP_PATTERN)]
Kind = Annotated[str, pydantic.StringConstraints(min_length=1, max_length=63, pattern=KIND_PATTERN)]
ObjectName = Annotated[str, pydantic.StringConstraints(min_length=1, max_length=253)]
Namespace = Annotated[
    str, pydantic.StringConstraints(min_length=1, max_length=63, pattern=NAMESPACE_PATTERN)
]
SectionName = Annotated[
    str, pydantic.StringConstraints(min_length=1, max_length=253, pattern=SECTION_NAME_PATTERN)
]
PortNumber = Annotated[common.Int32, annotated_types.Ge(1), annotated_types.Le(65535)]


class ParentReference(common.FlaggerModel):
    """A parent Gateway of the generated HTTPRoute (Gateway API ``ParentReference``)."""

    group: Group | None = field(
        "Group of the referent", schema={"default": "gateway.networking.k8s.io"}
    )
    kind: Kind | None = field("Kind of the referent", schema={"default": "Gateway"})
    name: ObjectName = common.required("Name of the referent")
    namespace: Namespace | None = field("Namespace of the referent")
    section_name: SectionName | None = field("Name of a section (listener) within the target")
    port: PortNumber | None = field("Network port this route targets")


class BackendObjectReference(common.FlaggerModel):
    """The backend a mirror filter copies requests to."""

    # Gateway API's rule reads ``group`` and ``kind`` after the API server defaulted them; our
    # CRD injects no defaults, so the rule reads an absent group as "" and kind as "Service".
    model_config = pydantic.ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "message": "Must have port for Service reference",
                    "rule": "((!has(self.group) || size(self.group) == 0) && "
                    "(!has(self.kind) || self.kind == 'Service')) ? has(self.port) : true",
                }
            ]
        }
    )

    group: Group | None = field("Group of the referent", schema={"default": ""})
    kind: Kind | None = field("Kind of the referent", schema={"default": "Service"})
    name: ObjectName = common.required("Name of the referent")
    namespace: Namespace | None = field("Namespace of the backend")
    port: PortNumber | None = field("Destination port number; required for a Service")

    @pydantic.model_validator(mode="after")
    def _service_port(self) -> BackendObjectReference:
        if self.needs_port and self.port is None:
            raise ValueError("a Service backend needs a port; add port: <service port>")
        return self

    @property
    def needs_port(self) -> bool:
        """True for a core Service backend, which the CRD requires to have a ``port``."""
        return (self.group or "") == "" and (self.kind or "Service") == "Service"


class HTTPRequestMirrorFilter(common.FlaggerModel):
    """Mirror defines a schema for a filter that mirrors requests."""

    backend_ref: BackendObjectReference = common.required("The backend to mirror requests to")
