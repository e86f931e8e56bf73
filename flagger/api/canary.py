"""The Canary resource: a target workload rolled out progressively behind a router.

``spec.targetRef`` names the workload, ``spec.service`` the Services and routes Flagger
generates (:mod:`flagger.api.service`), ``spec.analysis`` the schedule and checks
(:mod:`flagger.api.analysis`) and ``status`` the controller's progress (:mod:`flagger.api.status`).

``canaryAnalysis`` is the deprecated name of ``analysis``; both are kept as written so round
trips are exact, and :attr:`CanarySpec.effective_analysis` returns the one in force.
Defaults are read through ``effective_<field>`` properties (see :mod:`flagger.api.common`).
"""

from __future__ import annotations

from typing import Literal

import pydantic

from flagger.api import common
from flagger.api.analysis import CanaryAnalysis
from flagger.api.common import field
from flagger.api.service import CanaryService
from flagger.api.status import CanaryStatus

KIND = "Canary"
#: The ``deployment_strategy`` label of Flagger's success and failure counters.
Strategy = Literal["canary", "blue-green", "ab-testing"]
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600

#: Routing providers of upstream Flagger's CRD enum (plugins may add more).
PROVIDERS = (
    "apisix",
    "appmesh",
    "appmesh:v1beta2",
    "contour",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
    "gloo",
    "istio",
    "knative",
    "kubernetes",
    "kuma",
    "linkerd",
    "nginx",
    "osm",
    "skipper",
    "smi:v1alpha1",
    "smi:v1alpha2",
    "smi:v1alpha3",
    "traefik",
)


class TargetReference(common.FlaggerModel):
    """Target selector: the workload to roll out."""

    api_version: str = common.required("API version of the target")
    kind: Literal["DaemonSet", "Deployment", "Service", "StatefulSet"] = common.required(
        "Kind of the target (StatefulSet is an extension)"
    )
    name: str = common.required("Name of the target")

    @property
    def is_knative(self) -> bool:
        """True for a Knative Service (``serving.knative.dev``) target."""
        return self.kind == "Service" and self.api_version.startswith("serving.knative.dev/")


class PrimaryScalerReplicas(common.FlaggerModel):
    """Replica bounds for the primary's scaler."""

    min_replicas: common.Integer | None = pydantic.Field(
        default=None, ge=1, description="Minimum replicas of the primary"
    )
    max_replicas: common.Integer | None = pydantic.Field(
        default=None, ge=1, description="Maximum replicas of the primary"
    )


class AutoscalerReference(common.FlaggerModel):
    """Scaler selector: an HPA or a KEDA ScaledObject copied for the primary."""

    api_version: str = common.required("API version of the scaler")
    kind: Literal["HorizontalPodAutoscaler", "ScaledObject"] = common.required("Kind of the scaler")
    name: str = common.required("Name of the scaler")
    primary_scaler_queries: dict[str, str] | None = field(
        "KEDA trigger name to the query used for the primary"
    )
    primary_scaler_replicas: PrimaryScalerReplicas | None = field(
        "Replica bounds for the primary's scaler"
    )


class IngressReference(common.FlaggerModel):
    """Ingress selector (NGINX and Skipper)."""

    api_version: str = common.required("API version of the ingress")
    kind: Literal["Ingress"] = common.required("Kind of the ingress")
    name: str = common.required("Name of the ingress")


class RouteReference(common.FlaggerModel):
    """APISIX route selector."""

    api_version: str = common.required("API version of the route")
    kind: Literal["ApisixRoute"] = common.required("Kind of the route")
    name: str = common.required("Name of the route")


class UpstreamReference(common.FlaggerModel):
    """Gloo Upstream selector, used as the template of the generated upstreams."""

    api_version: str = common.required("API version of the upstream")
    kind: Literal["Upstream"] = common.required("Kind of the upstream")
    name: str = common.required("Name of the upstream")
    namespace: str | None = field("Namespace of the upstream")


class CanarySpec(common.FlaggerModel):
    """CanarySpec defines the desired state of a Canary."""

    model_config = pydantic.ConfigDict(json_schema_extra={common.CRD_REQUIRED_KEY: ["analysis"]})

    provider: str | None = field(
        "Traffic management provider", schema={common.BUILTIN_ENUM_KEY: list(PROVIDERS)}
    )
    metrics_server: str | None = field("Prometheus URL")
    progress_deadline_seconds: common.IntNumber | None = field("Deployment progress deadline")
    target_ref: TargetReference = common.required("Target selector")
    autoscaler_ref: AutoscalerReference | None = field("Scaler selector")
    ingress_ref: IngressReference | None = field("Ingress selector")
    route_ref: RouteReference | None = field("APISIX route selector")
    upstream_ref: UpstreamReference | None = field("Gloo Upstream selector")
    service: CanaryService | None = field("Kubernetes Service spec")
    skip_analysis: bool | None = field("Skip analysis and promote canary")
    revert_on_deletion: bool | None = field("Revert mutated resources to original spec on deletion")
    suspend: bool | None = field("Suspend Canary disabling/pausing all canary runs")
    analysis: CanaryAnalysis | None = field("Canary analysis for this canary")
    canary_analysis: CanaryAnalysis | None = field(
        "Deprecated: use analysis", schema={"deprecated": True}
    )

    @property
    def effective_analysis(self) -> CanaryAnalysis | None:
        """``analysis``, or the deprecated ``canaryAnalysis`` when only that is set."""
        return self.analysis if self.analysis is not None else self.canary_analysis

    @property
    def effective_progress_deadline_seconds(self) -> int:
        """Seconds a rollout may make no progress before rollback, default 600."""
        if self.progress_deadline_seconds is None:
            return DEFAULT_PROGRESS_DEADLINE_SECONDS
        return self.progress_deadline_seconds

    @property
    def effective_service_name(self) -> str:
        """The apex Service name: ``service.name``, else the target's name."""
        if self.service is not None and self.service.name:
            return self.service.name
        return self.target_ref.name

    @property
    def effective_skip_analysis(self) -> bool:
        """True when Flagger promotes without analysis: ``skipAnalysis`` or no analysis."""
        return bool(self.skip_analysis) or self.effective_analysis is None


class Canary(common.Resource):
    """Canary is the Schema for the Canary API."""

    KIND = KIND

    kind: Literal["Canary"] = pydantic.Field(default="Canary", description="Canary")
    spec: CanarySpec = common.required("CanarySpec defines the desired state of a Canary.")
    status: CanaryStatus | None = field("CanaryStatus defines the observed state of a canary.")


def strategy_for(spec: CanarySpec) -> Strategy:
    """How the analysis moves traffic, by Flagger 1.44's rule (``Canary.DeploymentStrategy``).

    ``ab-testing`` with ``match`` and ``iterations``, ``blue-green`` with ``iterations`` alone,
    otherwise (no analysis, weights only, or ``match`` without ``iterations``) ``canary``.
    It reads the spec as written: the kubernetes provider's in-memory switch to blue/green
    does not change it.
    """
    analysis = spec.effective_analysis
    if analysis is None or (analysis.iterations or 0) <= 0:
        return "canary"
    return "ab-testing" if analysis.match else "blue-green"
