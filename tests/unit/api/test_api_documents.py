"""Loading multi-document YAML and turning documents into typed objects."""

from __future__ import annotations

import textwrap

import pytest

from flagger.api import alert_provider, canary, documents, metric_template

MANIFESTS = textwrap.dedent(
    """\
    # a comment before the first document
    apiVersion: flagger.app/v1beta1
    kind: AlertProvider
    metadata:
      name: on-call
    spec:
      type: slack
      address: https://hooks.slack.com/x
    ---
    ---
    # an empty document above, a Deployment below
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: podinfo
    ---
    apiVersion: flagger.app/v1beta1
    kind: MetricTemplate
    metadata:
      name: latency
    spec:
      provider:
        type: prometheus
      query: histogram_quantile(0.99, rate(x[{{ interval }}]))
    ---
    apiVersion: flagger.app/v1beta1
    kind: Canary
    metadata:
      name: podinfo
    spec:
      targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
      service: {port: 9898}
      analysis: {interval: 1m, threshold: 5, stepWeight: 10}
    status:
      phase: Succeeded
      lastTransitionTime: 2024-05-01T10:00:00Z
    """
)


def test_load_documents_returns_documents_with_their_lines() -> None:
    loaded = documents.load_documents(MANIFESTS, "app.yaml")
    assert [(doc["kind"], line) for doc, line in loaded] == [
        ("AlertProvider", 2),
        ("Deployment", 12),
        ("MetricTemplate", 17),
        ("Canary", 26),
    ]


def test_timestamps_stay_text() -> None:
    *_, (canary_doc, _) = documents.load_documents(MANIFESTS, "app.yaml")
    assert canary_doc["status"]["lastTransitionTime"] == "2024-05-01T10:00:00Z"


def test_parse_object_dispatches_on_kind() -> None:
    parsed = [documents.parse_object(doc) for doc, _ in documents.load_documents(MANIFESTS, "x")]
    assert isinstance(parsed[0], alert_provider.AlertProvider)
    assert parsed[1] is None
    assert isinstance(parsed[2], metric_template.MetricTemplate)
    assert isinstance(parsed[3], canary.Canary)
    assert parsed[3].status is not None
    assert parsed[3].status.last_transition_time == "2024-05-01T10:00:00Z"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("kind: Canary\nspec:\n  service: [1, 2\n", 4, "expected ',' or ']'"),
        ("a: 1\nb:\n\t- x\n", 3, "cannot start any token"),
        ("kind: Canary\nspec:\n  port: 1\n  port: 2\n", 4, "duplicate key 'port'"),
        ("a: b: c\n", 1, "mapping values are not allowed here"),
    ],
)
def test_yaml_errors_name_the_file_and_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(documents.DocumentError) as caught:
        documents.load_documents(text, "deploy/canary.yaml")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"deploy/canary.yaml:{line}: invalid YAML")
    assert words in str(caught.value)


def test_merge_keys_are_not_duplicates() -> None:
    text = "base: &b {a: 1}\nthing:\n  <<: *b\n  a: 2\n"
    [(doc, _)] = documents.load_documents(text, "x.yaml")
    assert doc["thing"] == {"a": 2}


def test_empty_text_has_no_documents() -> None:
    assert documents.load_documents("", "empty.yaml") == []
    assert documents.load_documents("# nothing\n---\n", "empty.yaml") == []


def test_invalid_object_error_carries_problems() -> None:
    doc = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "latency", "namespace": "test"},
        "spec": {"provider": {"type": "prometheus"}, "querry": "up"},
    }
    with pytest.raises(documents.InvalidObjectError) as caught:
        documents.parse_object(doc)
    assert [p.path for p in caught.value.problems] == ["spec.query", "spec.querry"]
    assert str(caught.value).startswith("MetricTemplate test/latency is invalid:")
    assert "did you mean query?" in str(caught.value)


def test_legacy_versions_parse_and_keep_their_version() -> None:
    doc = {
        "apiVersion": "flagger.app/v1alpha1",
        "kind": "AlertProvider",
        "metadata": {"name": "a"},
        "spec": {"type": "slack", "address": "https://x"},
    }
    parsed = documents.parse_object(doc)
    assert parsed is not None
    assert parsed.to_manifest()["apiVersion"] == "flagger.app/v1alpha1"


def test_is_flagger_document() -> None:
    assert documents.is_flagger_document({"apiVersion": "flagger.app/v1beta1"})
    assert documents.is_flagger_document({"apiVersion": "flagger.app/v9"})
    assert not documents.is_flagger_document({"apiVersion": "apps/v1"})
    assert not documents.is_flagger_document([])
