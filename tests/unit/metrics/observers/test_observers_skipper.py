"""The Skipper built-in metrics: Flagger's query texts and its name encoding.

Matrix: metric (request-success-rate, request-duration) x rendering (Flagger's expected strings
from skipper_test.go, whitespace collapsed); Flagger's texts vs the inline-printf templates served
here (same output); the encoding of non-word characters; the plugin hook.
"""

from __future__ import annotations

import pytest

from flagger import plugins
from flagger.api.canary import Canary
from flagger.metrics.backends import prometheus
from flagger.metrics.observers import skipper_queries
from flagger.templating import queries


def _canary(
    namespace: str = "skipper", service: str = "backend", ingress: str = "skipper-ingress"
) -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": {
                "provider": "skipper",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "ingressRef": {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "name": ingress,
                },
                "service": {"port": 80, "name": service},
                "analysis": {"interval": "1m"},
            },
        }
    )


ROUTE = "kube(ew)?_skipper__skipper_ingress_canary__.*__backend_canary(_[0-9]+)?"
SUCCESS_RATE = (
    f' sum(rate(skipper_response_duration_seconds_bucket{{route=~"{ROUTE}",code!~"5..",'
    f'le="+Inf"}}[1m])) / sum(rate(skipper_response_duration_seconds_bucket{{route=~"{ROUTE}",'
    'le="+Inf"}[1m])) * 100'
)
DURATION = (
    f' sum(rate(skipper_serve_route_duration_seconds_sum{{route=~"{ROUTE}"}}[1m])) / '
    f'sum(rate(skipper_serve_route_duration_seconds_count{{route=~"{ROUTE}"}}[1m])) * 1000'
)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("request-success-rate", SUCCESS_RATE),
        ("request-duration", DURATION),
    ],
)
def test_rendered_queries_are_flaggers(metric: str, expected: str) -> None:
    rendered = skipper_queries.render(metric, _canary(), "1m")
    assert prometheus.compact_query(rendered) == expected


@pytest.mark.parametrize("metric", ["request-success-rate", "request-duration"])
def test_served_templates_render_as_flaggers_texts(metric: str) -> None:
    """Flagger's text with the ``$route`` variable expanded by hand equals the served template
    rendered: the only difference is where the printf is written."""
    model = skipper_queries.SKIPPER.encode_model(queries.model_for(_canary(), "1m"))
    flagger_text = skipper_queries.FLAGGER_QUERIES[metric]
    route = (
        f"kube(ew)?_{model.namespace}__{model.ingress}_canary__.*__{model.service}_canary(_[0-9]+)?"
    )
    expanded = (
        flagger_text.split("}}", 1)[1]
        .replace("{{ $route }}", route)
        .replace("{{ interval }}", "1m")
    )
    served = skipper_queries.SKIPPER.query(metric)
    assert served is not None
    assert queries.render(served, model) == expanded
    assert flagger_text.startswith('{{- $route := printf "kube(ew)?_%s__%s_canary__')


def test_names_are_encoded_as_skipper_does() -> None:
    rendered = skipper_queries.render(
        "request-duration",
        _canary(namespace="team-a", service="my.app", ingress="web-ingress"),
        "1m",
    )
    assert "kube(ew)?_team_a__web_ingress_canary__.*__my_app_canary(_[0-9]+)?" in rendered
    assert skipper_queries.encode("a-b.c/d_e") == "a_b_c_d_e"


def test_duration_is_already_milliseconds() -> None:
    assert skipper_queries.SKIPPER.duration_ms(250.9) == 250


def test_unknown_metric() -> None:
    with pytest.raises(LookupError, match="no built-in metric 'x'"):
        skipper_queries.render("x", _canary(), "1m")


@pytest.mark.parametrize(
    ("provider", "served"),
    [
        ("skipper", True),
        ("skipper:service", True),
        ("nginx", False),
    ],
)
def test_plugin_hook_answers_for_skipper_only(provider: str, served: bool) -> None:
    found = skipper_queries.flagger_observer(provider, plugins.PluginContext())
    assert (found is skipper_queries.SKIPPER) is served
