"""Flagger's kustomize/tester and kustomize/podinfo have counterparts here: each listed resource
exists and holds what the tutorials reach (http://flagger-loadtester.test/, podinfo + HPA)."""

from __future__ import annotations

import pathlib

import pytest
import yaml

KUSTOMIZE = pathlib.Path(__file__).resolve().parents[3] / "deploy" / "kustomize"


@pytest.mark.parametrize(
    ("overlay", "wanted"),
    [
        ("tester", {("Service", "flagger-loadtester"), ("Deployment", "flagger-loadtester")}),
        ("podinfo", {("Deployment", "podinfo"), ("HorizontalPodAutoscaler", "podinfo")}),
    ],
)
def test_overlay_resources(overlay: str, wanted: set[tuple[str, str]]) -> None:
    kustomization = yaml.safe_load((KUSTOMIZE / overlay / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == "test"
    found = set()
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((KUSTOMIZE / overlay / resource).read_text()):
            found.add((doc["kind"], doc["metadata"]["name"]))
    assert found == wanted
