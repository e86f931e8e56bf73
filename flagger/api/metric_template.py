"""The MetricTemplate resource: a reusable query against a metric provider.

A canary metric references a template through ``templateRef``; ``spec.query`` is a Go
text/template rendered with the canary's ``name``, ``namespace``, ``target``, ``service``,
``ingress``, ``route``, ``interval`` and ``variables``, then run by the backend for
``spec.provider.type`` (a plugin name; an unknown type falls back to Prometheus in Flagger).
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from flagger.api import common
from flagger.api.common import field

KIND = "MetricTemplate"

#: Metric provider types of upstream Flagger's CRD enum (plugins may add more).
PROVIDER_TYPES = (
    "prometheus",
    "influxdb",
    "datadog",
    "externalmetrics",
    "stackdriver",
    "cloudwatch",
    "newrelic",
    "graphite",
    "dynatrace",
    "keptn",
    "splunk",
)


class MetricTemplateProvider(common.FlaggerModel):
    """Provider of this metric template."""

    type: str = common.required(
        "Type of this provider", schema={common.BUILTIN_ENUM_KEY: list(PROVIDER_TYPES)}
    )
    address: str | None = field("API address of this provider")
    headers: dict[str, list[str]] | None = field("Headers to add to HTTP(S) requests")
    secret_ref: common.LocalObjectReference | None = field(
        "Kubernetes secret reference containing the provider credentials"
    )
    region: str | None = field("Region of the provider")
    insecure_skip_verify: bool | None = field(
        "Disable SSL certificate validation for the provider address"
    )


class MetricTemplateSpec(common.FlaggerModel):
    """MetricTemplateSpec defines the desired state of a MetricTemplate."""

    provider: MetricTemplateProvider = common.required("Provider of this metric template")
    query: str = common.required("Query of this metric template")


class MetricTemplate(common.Resource):
    """MetricTemplate is the Schema for the MetricTemplates API."""

    KIND = KIND

    kind: Literal["MetricTemplate"] = pydantic.Field(
        default="MetricTemplate", description="MetricTemplate"
    )
    spec: MetricTemplateSpec = common.required(
        "MetricTemplateSpec defines the desired state of a MetricTemplate."
    )
    status: dict[str, Any] | None = field(
        "Status of this metric template (not in the CRD schema)", schema={common.CRD_OMIT_KEY: True}
    )
