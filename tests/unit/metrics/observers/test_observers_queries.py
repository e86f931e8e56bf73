"""The built-in observers of the mesh and ingress providers (apisix, appmesh, contour, gloo,
traefik, kuma, linkerd, osm): Flagger's query texts, one table row per observer.

Matrix: observer x metric (request-success-rate, request-duration) rendered for podinfo.default
over 1m and compacted as the Prometheus backend sends it (Flagger's <provider>_test.go
expectations); the template layout; the duration unit; the metric it has no query for; the
plugin protocol and the providers it serves.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import pytest

from flagger import plugins
from flagger.metrics import observers
from flagger.metrics.backends import prometheus
from flagger.metrics.observers import (
    apisix_queries,
    appmesh_queries,
    contour_queries,
    gloo_queries,
    kuma_queries,
    linkerd_queries,
    osm_queries,
    traefik_queries,
)
from tests.support.canaries import canary, podinfo_spec

SR, DUR = observers.REQUEST_SUCCESS_RATE, observers.REQUEST_DURATION

_APISIX_SUCCESS_RATE = (
    ' sum( rate( apisix_http_status{ route=~"default_myroute-podinfo-canary_.+",'
    ' code!~"5.." }[1m] ) ) / sum( rate( apisix_http_status{'
    ' route=~"default_myroute-podinfo-canary_.+" }[1m] ) ) * 100'
)
_APISIX_DURATION = (
    " histogram_quantile( 0.99, sum( rate( apisix_http_latency_bucket{"
    ' type=~"request", route=~"default_myroute-podinfo-canary_.+" }[1m] ) ) by (le) )'
)
_APPMESH_SUCCESS_RATE = (
    ' sum( rate( envoy_cluster_upstream_rq{ kubernetes_namespace="default",'
    ' kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",'
    ' envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{'
    ' kubernetes_namespace="default",'
    ' kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) * 100'
)
_APPMESH_DURATION = (
    " histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{"
    ' kubernetes_namespace="default",'
    ' kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) by (le) )'
)
_CONTOUR_SUCCESS_RATE = (
    " sum( rate( envoy_cluster_upstream_rq{"
    ' envoy_cluster_name=~"default_podinfo-canary_[0-9a-zA-Z-]+",'
    ' envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{'
    ' envoy_cluster_name=~"default_podinfo-canary_[0-9a-zA-Z-]+", }[1m] ) ) * 100'
)
_CONTOUR_DURATION = (
    " histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{"
    ' envoy_cluster_name=~"default_podinfo-canary_[0-9a-zA-Z-]+", }[1m] ) ) by (le) )'
)
_GLOO_SUCCESS_RATE = (
    " sum( rate( envoy_cluster_upstream_rq{"
    ' envoy_cluster_name=~"default-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",'
    ' envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{'
    ' envoy_cluster_name=~"default-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",'
    " }[1m] ) ) * 100"
)
_GLOO_DURATION = (
    " histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{"
    ' envoy_cluster_name=~"default-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+",'
    " }[1m] ) ) by (le) )"
)
_TRAEFIK_SUCCESS_RATE = (
    " sum( rate( traefik_service_request_duration_seconds_bucket{"
    ' service=~"default-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd", code!~"5..",'
    ' le="+Inf" }[1m] ) ) / sum( rate('
    " traefik_service_request_duration_seconds_bucket{"
    ' service=~"default-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd", le="+Inf" }[1m]'
    " ) ) * 100"
)
_TRAEFIK_DURATION = (
    " histogram_quantile( 0.99, sum( rate("
    " traefik_service_request_duration_seconds_bucket{"
    ' service=~"default-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd" }[1m] ) ) by (le)'
    " ) * 1000"
)
_KUMA_SUCCESS_RATE = (
    ' sum( rate( envoy_cluster_upstream_rq{ service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+",'
    ' envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{ '
    'service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+", }[1m] ) ) * 100'
)
_KUMA_DURATION = (
    " histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ "
    'service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+", }[1m] ) ) by (le) )'
)
_LINKERD_SUCCESS_RATE = (
    ' sum( rate( response_total{ namespace="default", deployment=~"podinfo", '
    'classification!="failure", direction="inbound" }[1m] ) ) / sum( rate( response_total{ '
    'namespace="default", deployment=~"podinfo", direction="inbound" }[1m] ) ) * 100'
)
_LINKERD_DURATION = (
    ' histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{ namespace="default", '
    'deployment=~"podinfo", direction="inbound" }[1m] ) ) by (le) )'
)
_OSM_SUCCESS_RATE = (
    ' sum( rate( osm_request_total{ destination_namespace="default", '
    'destination_kind="Deployment", destination_name="podinfo", response_code!~"5.*" }[1m] ) ) '
    '/ sum( rate( osm_request_total{ destination_namespace="default", '
    'destination_kind="Deployment", destination_name="podinfo" }[1m] ) ) * 100'
)
_OSM_DURATION = (
    " histogram_quantile( 0.99, sum( rate( osm_request_duration_ms_bucket{ "
    'destination_namespace="default", destination_kind="Deployment", '
    'destination_name="podinfo" }[1m] ) ) by (le) )'
)


@dataclasses.dataclass(frozen=True)
class Layout:
    """What the raw template of ``metric`` starts with, ends with and contains."""

    metric: str
    start: str = ""
    end: str = ""
    inside: str = ""


#: Flagger's tab-indented layout, with the interval placeholder, for both metrics.
TABBED = tuple(Layout(metric, start="\n\t", inside="[{{ interval }}]") for metric in (SR, DUR))


@dataclasses.dataclass(frozen=True)
class Row:
    """One observer: its expected queries and properties."""

    module: types.ModuleType
    observer: observers.QueryObserver
    providers: tuple[str, ...]
    success_rate: str
    duration: str
    layouts: tuple[Layout, ...] = TABBED
    #: (seconds or milliseconds Prometheus answers, milliseconds the check compares)
    duration_ms: tuple[float, int] = (2415.9, 2415)
    no_query_for: str = "error-rate"
    extra_spec: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return self.observer.name


ROWS = [
    Row(
        apisix_queries,
        apisix_queries.APISIX,
        ("apisix",),
        _APISIX_SUCCESS_RATE,
        _APISIX_DURATION,
        extra_spec={
            "routeRef": {
                "apiVersion": "apisix.apache.org/v2",
                "kind": "ApisixRoute",
                "name": "myroute",
            }
        },
    ),
    Row(
        appmesh_queries,
        appmesh_queries.APPMESH,
        ("appmesh", "appmesh:v1beta2"),
        _APPMESH_SUCCESS_RATE,
        _APPMESH_DURATION,
    ),
    Row(
        contour_queries,
        contour_queries.CONTOUR,
        ("contour",),
        _CONTOUR_SUCCESS_RATE,
        _CONTOUR_DURATION,
    ),
    Row(gloo_queries, gloo_queries.GLOO, ("gloo",), _GLOO_SUCCESS_RATE, _GLOO_DURATION),
    Row(
        traefik_queries,
        traefik_queries.TRAEFIK,
        ("traefik",),
        _TRAEFIK_SUCCESS_RATE,
        _TRAEFIK_DURATION,
    ),
    Row(
        kuma_queries,
        kuma_queries.KUMA,
        ("kuma",),
        _KUMA_SUCCESS_RATE,
        _KUMA_DURATION,
        layouts=(Layout(DUR, inside='_svc_[0-9a-zA-Z-]+",\n\t\t\t\t}[{{ interval }}]'),),
        duration_ms=(100.0, 100),
        no_query_for="request-count",
    ),
    Row(
        linkerd_queries,
        linkerd_queries.LINKERD,
        ("linkerd",),
        _LINKERD_SUCCESS_RATE,
        _LINKERD_DURATION,
        layouts=(
            Layout(
                DUR,
                start="\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n\t\t\trate(\n",
                end="\t\t\t\t}[{{ interval }}]\n\t\t\t)\n\t\t) by (le)\n\t)",
            ),
        ),
        no_query_for="request-count",
    ),
    Row(
        osm_queries,
        osm_queries.OSM,
        ("osm",),
        _OSM_SUCCESS_RATE,
        _OSM_DURATION,
        # Flagger's text mixes four-space and tab indentation; keep it as is.
        layouts=(
            Layout(
                SR,
                start="\n    sum(\n        rate(\n            osm_request_total{\n\t\t\t\t",
                end="            }[{{ interval }}]\n        )\n    )\n\t* 100",
            ),
        ),
        duration_ms=(99.9, 99),
        no_query_for="request-count",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
@pytest.mark.parametrize("metric", [SR, DUR])
def test_rendered_queries_are_flaggers(row: Row, metric: str) -> None:
    spec = podinfo_spec(row.observer.name, **row.extra_spec)
    rendered = observers.render(row.observer, metric, canary(spec), "1m")
    expected = row.success_rate if metric == SR else row.duration
    assert prometheus.compact_query(rendered) == expected


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_templates_keep_flaggers_layout(row: Row) -> None:
    for layout in row.layouts:
        template = row.observer.query(layout.metric)
        assert template is not None
        assert template.startswith(layout.start)
        assert template.endswith(layout.end)
        assert layout.inside in template


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_duration_unit_and_unknown_metric(row: Row) -> None:
    answered, milliseconds = row.duration_ms
    assert row.observer.duration_ms(answered) == milliseconds
    assert row.observer.query(row.no_query_for) is None


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_observer_satisfies_the_plugin_protocol(row: Row) -> None:
    assert isinstance(row.observer, plugins.Observer)
    assert row.providers == row.module.PROVIDERS
