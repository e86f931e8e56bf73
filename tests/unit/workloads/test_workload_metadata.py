"""Labels, annotations and selector labels of generated workloads."""

from __future__ import annotations

import pytest

from flagger.workloads import metadata, workload_errors

LABELS = {
    "app": "podinfo",
    "team": "a",
    "app.kubernetes.io/part-of": "shop",
    "kustomize.toolkit.fluxcd.io/name": "apps",
}


def test_include_labels_by_prefix() -> None:
    """Go's includeLabelsByPrefix: the unset flag (split into [""]) copies no label."""
    everything = {k: v for k, v in LABELS.items() if "toolkit" not in k}
    assert metadata.include_labels_by_prefix(LABELS, ("",)) == {}
    assert metadata.include_labels_by_prefix(LABELS, ("*",)) == everything
    assert metadata.include_labels_by_prefix(LABELS, ("app.kubernetes.io", "team")) == {
        "team": "a",
        "app.kubernetes.io/part-of": "shop",
    }


def test_primary_labels_and_annotations() -> None:
    assert metadata.make_primary_labels(LABELS, "podinfo-primary", "app") == {
        "app": "podinfo-primary",
        "team": "a",
        "app.kubernetes.io/part-of": "shop",
    }
    first = metadata.make_annotations(
        {"a": "1", "flagger-id": "old", "helm.toolkit.fluxcd.io/x": "y"}
    )
    second = metadata.make_annotations({"a": "1"})
    assert first["a"] == "1" and "helm.toolkit.fluxcd.io/x" not in first
    assert first["flagger-id"] not in ("old", second["flagger-id"])


def test_selector_label_order() -> None:
    def workload(match: dict[str, str]) -> dict[str, object]:
        return {
            "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {"selector": {"matchLabels": match}},
        }

    labels = ("app", "name", "app.kubernetes.io/name")
    assert metadata.selector_label(workload({"name": "x", "app": "y"}), labels) == ("app", "y")
    assert metadata.selector_label(workload({"app.kubernetes.io/name": "z"}), labels) == (
        "app.kubernetes.io/name",
        "z",
    )
    with pytest.raises(workload_errors.WorkloadError) as caught:
        metadata.selector_label(workload({"tier": "web"}), labels)
    assert caught.value.message == (
        "deployment podinfo.test spec.selector.matchLabels must "
        "contain one of [app name app.kubernetes.io/name]"
    )
