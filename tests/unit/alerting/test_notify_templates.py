"""Alert message templates: rendering with every variable, Go template builtins, the
AlertProvider annotation, and validation errors that name an unknown variable."""

from __future__ import annotations

import pytest

from flagger.alerting import templates

#: Every variable set (the sample ``flagger validate`` renders templates with).
VALUES = templates.SAMPLE


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("{{ message }}", "Canary analysis completed successfully, promotion finished."),
        (
            "[{{cluster}}] {{ severity }}: {{ name }}.{{ namespace }} {{ phase }}",
            "[prod] info: podinfo.test Succeeded",
        ),
        (
            "{{ target }} threshold={{ threshold }} deadline={{ deadline }} ({{ routing }})",
            "Deployment/podinfo.test threshold=5 deadline=600s (Weight step: 10 max: 50)",
        ),
        ('{{ printf "*%s* in %s" name namespace }}', "*podinfo* in test"),
        (
            '{{ message | printf ":rocket: %s" }}',
            ":rocket: Canary analysis completed successfully, promotion finished.",
        ),
        ("{{- name -}} \n", "podinfo"),
        ("no variables at all", "no variables at all"),
    ],
)
def test_render(template: str, text: str) -> None:
    assert templates.render(template, VALUES) == text


def test_every_documented_variable_renders() -> None:
    for variable in templates.VARIABLES:
        assert templates.validate_template(f"{{{{ {variable} }}}}") == []


@pytest.mark.parametrize(
    ("template", "error"),
    [
        (
            "{{ nme }}",
            'function "nme" not defined (available: name, namespace, message, severity, '
            "phase, cluster, target, threshold, deadline, routing)",
        ),
        ("{{ .Name }}", 'no entry for key "Name"'),
        ("{{ name", "unclosed action"),
        ("{{ if name }}x{{ end }}", "unsupported action {{ if name }}: alert templates call"),
        ("{{ name.first }}", "can't evaluate field first in type string"),
    ],
)
def test_validation_names_the_problem(template: str, error: str) -> None:
    problems = templates.validate_template(template)
    assert len(problems) == 1
    assert error in problems[0]
    assert "query templates" not in problems[0]


def test_an_empty_template_is_refused() -> None:
    assert templates.validate_template("  ") == [
        "the template is empty; remove the annotation to send Flagger's message"
    ]


def test_render_raises_alert_template_error() -> None:
    with pytest.raises(templates.AlertTemplateError, match='function "oops" not defined'):
        templates.render("{{ oops }}", VALUES)


def test_the_annotation_on_an_alert_provider() -> None:
    metadata = {
        "name": "on-call",
        "annotations": {"flagger.app/alert-template": "{{ severity }} {{ mesage }}"},
    }
    assert templates.template_of(metadata) == "{{ severity }} {{ mesage }}"
    assert templates.template_of({"name": "x"}) is None
    assert templates.template_of(None) is None
    [(path, message)] = templates.annotation_problems(metadata)
    assert path == 'metadata.annotations["flagger.app/alert-template"]'
    assert 'function "mesage" not defined' in message
    assert (
        templates.annotation_problems(
            {"annotations": {"flagger.app/alert-template": "{{ message }}"}}
        )
        == []
    )
