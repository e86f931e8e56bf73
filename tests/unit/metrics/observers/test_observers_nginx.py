"""The NGINX built-in metrics: Flagger's query texts, rendered for a canary with an ingressRef.

Matrix: metric (request-success-rate, request-duration) x rendering (Flagger's expected strings,
whitespace collapsed as the Prometheus backend sends them); the plugin hook (nginx, nginx:service,
other names); the duration unit (already milliseconds).
"""

from __future__ import annotations

import pytest

from flagger import plugins
from flagger.api.canary import Canary
from flagger.metrics import observers
from flagger.metrics.backends import prometheus
from flagger.metrics.observers import nginx_queries


def _canary(ingress: str | None = "podinfo") -> Canary:
    spec: dict[str, object] = {
        "provider": "nginx",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 80},
        "analysis": {"interval": "1m"},
    }
    if ingress:
        spec["ingressRef"] = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "name": ingress,
        }
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "nginx"},
            "spec": spec,
        }
    )


# Flagger's nginx_test.go expectations (namespace nginx, ingress podinfo, interval 1m).
SUCCESS_RATE = (
    ' sum( rate( nginx_ingress_controller_requests{ namespace="nginx", ingress="podinfo", '
    'canary!="", status!~"5.*" }[1m] ) ) / sum( rate( nginx_ingress_controller_requests{ '
    'namespace="nginx", ingress="podinfo", canary!="" }[1m] ) ) * 100'
)
DURATION = (
    ' sum( rate( nginx_ingress_controller_response_duration_seconds_sum{ namespace="nginx", '
    'ingress="podinfo", canary!="" }[1m] ) ) / sum( rate( '
    'nginx_ingress_controller_response_duration_seconds_count{ namespace="nginx", '
    'ingress="podinfo", canary!="" }[1m] ) ) * 1000'
)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("request-success-rate", SUCCESS_RATE),
        ("request-duration", DURATION),
    ],
)
def test_rendered_queries_are_flaggers(metric: str, expected: str) -> None:
    rendered = observers.render(nginx_queries.NGINX, metric, _canary(), "1m")
    assert prometheus.compact_query(rendered) == expected


def test_templates_keep_flaggers_layout() -> None:
    template = nginx_queries.NGINX.query("request-success-rate")
    assert template is not None
    assert template.startswith(
        "\n\tsum(\n\t\trate(\n\t\t\tnginx_ingress_controller_requests{\n"
        '\t\t\t\tnamespace="{{ namespace }}",\n'
    )
    assert template.endswith("\t\t\t}[{{ interval }}]\n\t\t)\n\t) \n\t* 100")


def test_ingress_defaults_to_the_target_without_ingress_ref() -> None:
    rendered = observers.render(
        nginx_queries.NGINX, "request-success-rate", _canary(ingress=None), "30s"
    )
    assert 'ingress="podinfo"' in rendered and rendered.count("[30s]") == 2


def test_duration_is_already_milliseconds() -> None:
    assert nginx_queries.NGINX.duration_ms(100.7) == 100
    assert observers.request_duration_ms(nginx_queries.NGINX, 12.9) == 12


@pytest.mark.parametrize(
    ("provider", "served"),
    [
        ("nginx", True),
        ("nginx:service", True),
        ("istio", False),
        ("skipper", False),
    ],
)
def test_plugin_hook_answers_for_nginx_only(provider: str, served: bool) -> None:
    found = nginx_queries.flagger_observer(provider, plugins.PluginContext())
    assert (found is nginx_queries.NGINX) is served
    if not served:
        assert found is None
