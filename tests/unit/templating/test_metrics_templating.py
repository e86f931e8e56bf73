"""Query templates render as Flagger's Go templates do, and bad ones fail with a clear message.

Matrix: every template function; spacing (``{{name}}``, ``{{ name }}``, trim markers, comments);
the canary-derived model (service/ingress/route defaults); errors for unknown functions, missing
variables, Go-style data access and unsupported constructs; every MetricTemplate in Flagger's
documentation corpus.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from flagger.api import documents
from flagger.api.canary import Canary
from flagger.api.metric_template import MetricTemplate
from flagger.templating import queries
from tests.support import canaries

UPSTREAM = pathlib.Path(__file__).resolve().parents[3] / ".." / "shared" / "compat" / "upstream"

MODEL = queries.QueryModel(
    name="podinfo",
    namespace="test",
    target="podinfo-deploy",
    service="podinfo-svc",
    ingress="podinfo-ing",
    route="podinfo-route",
    interval="2m",
    variables={"direction": "inbound", "app": "web"},
)


def _canary(**spec: Any) -> Canary:
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo-deploy"}
    return canaries.canary(canaries.podinfo_spec(targetRef=target, **spec), namespace="test")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ name }}", "podinfo"),
        ("{{ namespace }}", "test"),
        ("{{ target }}", "podinfo-deploy"),
        ("{{ service }}", "podinfo-svc"),
        ("{{ ingress }}", "podinfo-ing"),
        ("{{ route }}", "podinfo-route"),
        ("{{ interval }}", "2m"),
        ("{{ variables.direction }}", "inbound"),
        ("{{ variables }}", "map[app:web direction:inbound]"),
    ],
)
def test_each_function_renders_its_value(template: str, expected: str) -> None:
    assert queries.render(template, MODEL) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('x{"{{target}}"}[{{interval}}]', 'x{"podinfo-deploy"}[2m]'),
        ("{{   namespace\t}}", "test"),
        ("a  {{- name }}  b", "apodinfo  b"),
        ("a  {{ name -}}  \n b", "a  podinfob"),
        ("a {{/* a comment with }} inside */}} b", "a  b"),
        ("a \n{{- /* trimmed */ -}}\n b", "ab"),
        ("no actions at all { } }}", "no actions at all { } }}"),
    ],
)
def test_spacing_trim_markers_and_comments_follow_go(template: str, expected: str) -> None:
    assert queries.render(template, MODEL) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{ printf "kube_%s__%s_canary" namespace ingress }}', "kube_test__podinfo-ing_canary"),
        ('{{ printf "%s-canary" service }}', "podinfo-svc-canary"),
        ('{{ target | printf "%s-[0-9a-z]+" }}', "podinfo-deploy-[0-9a-z]+"),
        ('{{ printf "%q|%5s|%d%%" name "ab" 7 }}', '"podinfo"|   ab|7%'),
        ('{{ printf "%s %s" name }}', "podinfo %!s(MISSING)"),
        ('{{ printf "%d" name }}', "%!d(string=podinfo)"),
        ('{{ index variables "app" }}', "web"),
        ('{{ index variables "absent" }}', ""),
        ("{{ print name 1 2 }}", "podinfo1 2"),
        ("{{ len variables }}", "2"),
        ('{{ urlquery "a b&c" }}', "a+b%26c"),
        ("{{ `raw \\n` }}", "raw \\n"),
    ],
)
def test_go_builtins_and_pipelines(template: str, expected: str) -> None:
    assert queries.render(template, MODEL) == expected


def test_skipper_tutorial_route_regex() -> None:
    template = (
        'route=~"{{ printf "kube(ew)?_%s__%s_canary__.*__%s_canary(_[0-9]+)?" '
        'namespace ingress service }}"'
    )
    assert queries.render(template, MODEL) == (
        'route=~"kube(ew)?_test__podinfo-ing_canary__.*__podinfo-svc_canary(_[0-9]+)?"'
    )


def test_multiline_query_keeps_its_layout() -> None:
    template = 'sum(\n  rate(x{ns="{{ namespace }}",\n  pod=~"{{ target }}-.*"}[{{ interval }}])\n)'
    assert queries.render(template, MODEL) == (
        'sum(\n  rate(x{ns="test",\n  pod=~"podinfo-deploy-.*"}[2m])\n)'
    )


def test_model_defaults_service_ingress_and_route_to_the_target() -> None:
    model = queries.model_for(_canary(), "30s", {"k": "v"})
    assert model == queries.QueryModel(
        name="podinfo",
        namespace="test",
        target="podinfo-deploy",
        service="podinfo-deploy",
        ingress="podinfo-deploy",
        route="podinfo-deploy",
        interval="30s",
        variables={"k": "v"},
    )


def test_model_uses_service_name_ingress_ref_and_route_ref() -> None:
    canary = _canary(
        service={"name": "frontend", "port": 80},
        ingressRef={"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "public"},
        routeRef={"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "r1"},
    )
    model = queries.model_for(canary, "1m")
    assert (model.service, model.ingress, model.route) == ("frontend", "public", "r1")
    assert model.variables == {}


def test_unknown_function_names_it_and_lists_the_available_ones() -> None:
    with pytest.raises(queries.TemplateSyntaxError) as raised:
        queries.render('up{job="x"}\nand {{ workload }}', MODEL)
    assert str(raised.value) == (
        'template parsing failed: template: tmpl:2: function "workload" not defined '
        "(available: name, namespace, target, service, ingress, route, interval, variables)"
    )


def test_missing_variable_names_the_key_and_the_available_ones() -> None:
    with pytest.raises(queries.MissingKeyError) as raised:
        queries.render('x{dir="{{ variables.dirction }}"}', MODEL)
    error = raised.value
    assert error.key == "dirction"
    assert error.available == ("app", "direction")
    assert str(error) == (
        'template execution failed: template: tmpl:1:10: executing "tmpl" at '
        '<variables.dirction>: map has no entry for key "dirction" '
        "(available keys: app, direction)"
    )


def test_missing_variable_without_template_variables_says_so() -> None:
    model = queries.model_for(_canary(), "1m")
    with pytest.raises(queries.MissingKeyError, match="the metric sets no templateVariables"):
        queries.render("{{ variables.direction }}", model)


def test_go_style_data_access_is_an_error_pointing_to_the_function() -> None:
    with pytest.raises(queries.MissingKeyError) as raised:
        queries.render("{{ .Namespace }}", MODEL)
    assert 'no entry for key "Namespace"' in str(raised.value)
    assert "{{ namespace }}" in str(raised.value)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ namespace", "template: tmpl:1: unclosed action"),
        ("{{ }}", "missing value for command"),
        ("{{/* never closed", "unclosed comment"),
        ("{{ if name }}x{{ end }}", "unsupported action {{ if name }}"),
        ("{{ $ns := namespace }}", "unsupported action {{ $ns := namespace }}"),
        ("{{ (name) }}", "unsupported action {{ (name) }}"),
        ('{{ eq name "x" }}', 'unsupported action {{ eq name "x" }}'),
        ("{{ name | upper }}", 'function "upper" not defined'),
        ('{{ printf "%s }}', "unterminated quoted string"),
        ("{{ name | }}", "missing value for command"),
    ],
)
def test_invalid_or_unsupported_text_is_a_syntax_error(template: str, message: str) -> None:
    with pytest.raises(queries.TemplateSyntaxError, match=r"^template parsing failed: ") as r:
        queries.render(template, MODEL)
    assert message in str(r.value)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ target.x }}", "can't evaluate field x in type string"),
        ("{{ name 1 }}", "wrong number of args for name: want 0 got 1"),
        ('{{ variables.app "x" }}', "can't give argument to non-function variables.app"),
        ("{{ printf }}", "wrong number of args for printf: want at least 1 got 0"),
    ],
)
def test_execution_errors_read_like_go(template: str, message: str) -> None:
    with pytest.raises(queries.TemplateError, match=r"^template execution failed: ") as r:
        queries.render(template, MODEL)
    assert message in str(r.value)


def test_errors_are_value_errors() -> None:
    assert issubclass(queries.TemplateError, ValueError)


def _corpus_templates() -> list[pathlib.Path]:
    if not UPSTREAM.is_dir():
        return []
    return sorted(UPSTREAM.glob("metrictemplate-*.yaml"))


@pytest.mark.skipif(not _corpus_templates(), reason=f"corpus not found at {UPSTREAM}")
@pytest.mark.parametrize("path", _corpus_templates(), ids=lambda p: p.stem)
def test_every_documented_metric_template_renders(path: pathlib.Path) -> None:
    template = documents.parse_object(yaml.safe_load(path.read_text()))
    assert isinstance(template, MetricTemplate)
    query = template.spec.query
    rendered = queries.render(query, MODEL)
    assert "{{" not in rendered and "}}" not in rendered.replace("}}[", "")
    if "{{ namespace }}" in query:
        assert "test" in rendered
