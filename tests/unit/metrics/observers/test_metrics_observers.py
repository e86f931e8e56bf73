"""Built-in metric queries: Flagger's exact texts, the observer chosen per provider, rendering for
a canary, and the request-duration unit.

Matrix: observer (istio, app-level http) x metric (request-success-rate, request-duration);
provider names (implemented, known but not implemented, unknown); the plugin hooks.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagger import plugins
from flagger.api.canary import Canary
from flagger.metrics import observers
from flagger.metrics.backends import prometheus
from flagger.metrics.observers import (
    appmesh_queries,
    knative_queries,
    linkerd_queries,
    nginx_queries,
)


def _canary(provider: str | None = None, kind: str = "Deployment") -> Canary:
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": kind, "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 5},
    }
    if provider:
        spec["provider"] = provider
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": spec,
        }
    )


# What Flagger's own tests expect Prometheus to receive for podinfo.default over 1m.
ISTIO_SUCCESS_RATE = (
    ' sum( rate( istio_requests_total{ reporter="destination", '
    'destination_workload_namespace="default", destination_workload=~"podinfo", '
    'response_code!~"5.*" }[1m] ) ) / sum( rate( istio_requests_total{ reporter="destination", '
    'destination_workload_namespace="default", destination_workload=~"podinfo" }[1m] ) ) * 100'
)
ISTIO_DURATION = (
    " histogram_quantile( 0.99, sum( rate( istio_request_duration_milliseconds_bucket{ "
    'reporter="destination", destination_workload_namespace="default", '
    'destination_workload=~"podinfo" }[1m] ) ) by (le) )'
)
HTTP_SUCCESS_RATE = (
    ' sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="default", '
    'kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status!~"5.*" }[1m] ) ) / '
    'sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="default", '
    'kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) * 100'
)
HTTP_DURATION = (
    " histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ "
    'kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" '
    "}[1m] ) ) by (le) )"
)


@pytest.mark.parametrize(
    ("observer", "metric", "expected"),
    [
        (observers.ISTIO, "request-success-rate", ISTIO_SUCCESS_RATE),
        (observers.ISTIO, "request-duration", ISTIO_DURATION),
        (observers.APP_HTTP, "request-success-rate", HTTP_SUCCESS_RATE),
        (observers.APP_HTTP, "request-duration", HTTP_DURATION),
    ],
)
def test_rendered_queries_are_flaggers(
    observer: observers.QueryObserver, metric: str, expected: str
) -> None:
    rendered = observers.render(observer, metric, _canary(), "1m")
    assert prometheus.compact_query(rendered) == expected


def test_query_templates_keep_flaggers_layout() -> None:
    template = observers.ISTIO.query("request-duration")
    assert template is not None
    assert template.startswith("\n\thistogram_quantile(\n\t\t0.99,\n\t\tsum(\n")
    assert template.endswith("}[{{ interval }}]\n\t\t\t)\n\t\t) by (le)\n\t)")
    success = observers.APP_HTTP.query("request-success-rate")
    assert success is not None and "\n\t) \n\t/ \n\tsum(" in success


def test_interval_reaches_the_range_selector() -> None:
    rendered = observers.render(observers.ISTIO, "request-success-rate", _canary(), "30s")
    assert rendered.count("[30s]") == 2


def test_other_metric_names_have_no_builtin_query() -> None:
    assert observers.ISTIO.query("error-rate") is None
    with pytest.raises(LookupError, match="the istio observer has no built-in metric 'x'"):
        observers.render(observers.ISTIO, "x", _canary(), "1m")


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("istio", observers.ISTIO),
        ("kubernetes", observers.APP_HTTP),
        ("gatewayapi:v1", observers.APP_HTTP),
        ("gatewayapi:v1beta1", observers.APP_HTTP),
        ("linkerd", linkerd_queries.LINKERD),
        ("knative", knative_queries.KNATIVE),
        ("appmesh:v1beta2", appmesh_queries.APPMESH),
        ("contour:service", observers.ISTIO),
        ("nginx", nginx_queries.NGINX),
        ("smi:v1alpha3", observers.ISTIO),
        ("kubernetes:service", observers.ISTIO),
        ("something-else", observers.ISTIO),
    ],
)
def test_observer_per_provider_follows_flaggers_factory(
    provider: str, expected: observers.QueryObserver | None
) -> None:
    assert observers.observer_for(provider) is expected


def test_request_duration_is_whole_milliseconds() -> None:
    assert observers.ISTIO.duration_ms(2415.9) == 2415
    assert observers.APP_HTTP.duration_ms(2.4159) == 2415
    assert observers.request_duration_ms(observers.APP_HTTP, 0.5) == 500
    assert observers.request_duration_ms(plugins.NopObserver(), 12.7) == 12


def test_observers_satisfy_the_plugin_protocol() -> None:
    assert isinstance(observers.ISTIO, plugins.Observer)
    assert isinstance(observers.APP_HTTP, plugins.Observer)


def test_hooks_serve_flagger_names_through_the_plugin_manager() -> None:
    installed = plugins.load(extra=[observers])
    context = plugins.PluginContext()
    assert {"istio", "kubernetes", "gatewayapi:v1"} <= installed.names(plugins.Kind.OBSERVER)
    assert installed.observer("istio", context) is observers.ISTIO
    assert installed.observer("kubernetes", context) is observers.APP_HTTP
    assert installed.observer("knative", context) is knative_queries.KNATIVE
    # names Flagger does not know are left to other plugins: the manager falls back to its
    # no-op observer.
    assert isinstance(installed.observer("fakemesh", context), plugins.NopObserver)


def test_knative_queries_name_the_latest_revision() -> None:
    """Flagger's Knative queries match the Envoy cluster of the canary revision (route)."""
    query = observers.render(
        knative_queries.KNATIVE, "request-success-rate", _canary(), "1m", route="podinfo-00002"
    )
    assert 'envoy_cluster_name=~"default/podinfo-00002"' in query
    assert "[1m]" in query
