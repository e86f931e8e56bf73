"""`flagger validate`: one line per object, exit 0/1/2, errors that name the field and the fix."""

from __future__ import annotations

import io
import pathlib
import subprocess
import sys
from typing import Any

import pytest
import yaml

from flagger import validate_command
from tests.conftest import require_upstream

ROOT = pathlib.Path(__file__).resolve().parents[2]

BROKEN = """\
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 5
    stepWeights: [10, 5, 50]
"""

GOOD = BROKEN.replace("[10, 5, 50]", "[5, 10, 50]")

OTHER_KINDS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: test}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Service, metadata: {name: podinfo, namespace: test}}
"""


def _run(paths: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = validate_command.run(paths, out, err)
    return code, out.getvalue(), err.getvalue()


def test_every_upstream_manifest_is_ok() -> None:
    files = require_upstream()
    code, out, _ = _run([str(files[0].parent)])
    lines = out.splitlines()
    assert code == 0
    assert len(lines) == 53
    assert all(line.startswith("OK ") for line in lines), [x for x in lines if "OK" not in x]
    assert "OK Canary test/podinfo" in lines


def test_broken_manifest_names_the_field_and_the_fix(tmp_path: pathlib.Path) -> None:
    (tmp_path / "canary.yaml").write_text(BROKEN)
    code, out, _ = _run([str(tmp_path / "canary.yaml")])
    assert code == 1
    assert out.startswith("ERROR Canary test/podinfo: spec.analysis.stepWeights: ")
    assert "[10, 5, 50]" in out and "increasing order" in out


def test_directory_mixes_kinds_and_skips_others(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a-canary.yaml").write_text(GOOD)
    (tmp_path / "b-other.yml").write_text(OTHER_KINDS)
    (tmp_path / "notes.txt").write_text("not a manifest")
    code, out, _ = _run([str(tmp_path)])
    assert code == 0
    assert out.splitlines() == [
        "OK Canary test/podinfo",
        "SKIP Deployment test/podinfo: not a flagger.app object",
        "SKIP Service test/podinfo: not a flagger.app object",
    ]


def test_unparsable_yaml_gives_file_and_line(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD + "---\nkind: Canary\nspec: [unclosed\n")
    code, _, err = _run([str(bad)])
    assert code == 2
    assert f"{bad}:" in err and "invalid YAML" in err


def test_missing_file_is_exit_two(tmp_path: pathlib.Path) -> None:
    code, _, err = _run([str(tmp_path / "nope.yaml")])
    assert code == 2
    assert "nope.yaml: cannot read" in err


def test_stdin_through_the_installed_command() -> None:
    flagger = pathlib.Path(sys.executable).parent / "flagger"
    done = subprocess.run(
        [str(flagger), "validate", "-"],
        input=BROKEN + "---\n" + GOOD,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stdout.splitlines()[1] == "OK Canary test/podinfo"


def test_alert_template_with_an_unknown_variable_is_an_error(tmp_path: pathlib.Path) -> None:
    provider = """\
apiVersion: flagger.app/v1beta1
kind: AlertProvider
metadata:
  name: on-call
  namespace: test
  annotations:
    flagger.app/alert-template: "{{ name }} {{ colour }}"
spec: {type: slack, channel: alerts, address: "https://hooks.slack.com/services/x"}
"""
    (tmp_path / "provider.yaml").write_text(provider)
    code, out, _ = _run([str(tmp_path / "provider.yaml")])
    assert code == 1
    assert out.startswith(
        'ERROR AlertProvider test/on-call: metadata.annotations["flagger.app/alert-template"]: '
    )
    assert "colour" in out
    (tmp_path / "provider.yaml").write_text(provider.replace("colour", "severity"))
    assert _run([str(tmp_path / "provider.yaml")])[0] == 0


SEMANTIC = """\
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  provider: kubernetes
  progressDeadlineSeconds: -1
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 0
    iterations: 5
    mirror: true
    match: [{headers: {x-canary: {exact: insider}}}]
    metrics: [{name: latency, templateRef: {name: latency}, thresholdRange: {max: 1}}]
    alerts: [{name: on-call, providerRef: {name: slack}}]
"""
TEMPLATE = """\
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: latency, namespace: test}
spec: {provider: {type: prometheus, address: "http://prometheus:9090"}, query: up}
"""


def test_schema_admitted_broken_canary_names_each_field_and_fix(tmp_path: pathlib.Path) -> None:
    (tmp_path / "canary.yaml").write_text(SEMANTIC)
    code, out, err = _run([str(tmp_path / "canary.yaml")])
    assert code == 1
    for field, fix in (
        ("spec.analysis.threshold", "set e.g. threshold: 5"),
        ("spec.progressDeadlineSeconds", "set e.g. progressDeadlineSeconds: 600"),
        ("spec.analysis.match", "remove match or use a mesh or ingress provider"),
        ("spec.analysis.mirror", "remove mirror or use a provider that mirrors"),
    ):
        assert f"{field}: " in out and fix in out, (field, out)
    assert "templateRef: MetricTemplate test/latency is not among the inputs" in err
    assert "providerRef: AlertProvider test/slack is not among the inputs" in err


def test_references_found_among_the_inputs_are_not_warned(tmp_path: pathlib.Path) -> None:
    (tmp_path / "canary.yaml").write_text(SEMANTIC)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    _, _, err = _run([str(tmp_path)])
    assert "MetricTemplate test/latency" not in err
    assert "AlertProvider test/slack is not among the inputs" in err


def test_empty_input_is_a_named_error(tmp_path: pathlib.Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    code, out, err = _run([str(tmp_path / "empty.yaml")])
    assert (code, out) == (1, "")
    assert "empty.yaml: no objects (the input is empty or only comments)" in err


def _canary(provider: str, analysis: dict[str, Any], spec: dict[str, Any]) -> str:
    """A Canary of the issue's table: a valid one with ``analysis``/``spec`` keys replaced
    (``None`` removes one)."""
    settings: dict[str, Any] = {"interval": "1m", "threshold": 5, "iterations": 5, **analysis}
    body: dict[str, Any] = {
        "provider": provider,
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {k: v for k, v in settings.items() if v is not None},
        **spec,
    }
    return yaml.safe_dump(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": body,
        }
    )


MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]
# The issue's schema-admitted broken Canaries that validate can see in the Canary alone
# (the daemon's side: tests/unit/controller/test_broken_canaries.py).
IN_THE_CANARY = [
    ("kubernetes", {"threshold": 0}, {}, "spec.analysis.threshold", "threshold: 5"),
    ("kubernetes", {}, {"progressDeadlineSeconds": -1}, "spec.progressDeadlineSeconds", "600"),
    ("kubernetes", {"match": MATCH}, {}, "spec.analysis.match", "remove match"),
    ("kubernetes", {"mirror": True}, {}, "spec.analysis.mirror", "remove mirror"),
    (
        "kubernetes",
        {"sessionAffinity": {"cookieName": "canary"}},
        {},
        "spec.analysis.sessionAffinity",
        "remove sessionAffinity",
    ),
    ("istio", {"iterations": None, "stepWeight": 0}, {}, "spec.analysis.stepWeight", "10"),
    ("istio", {"iterations": 0}, {}, "spec.analysis.iterations", "iterations: 10"),
]


@pytest.mark.parametrize(
    ("provider", "analysis", "spec", "field", "fix"),
    IN_THE_CANARY,
    ids=[case[3].rsplit(".", 1)[-1] for case in IN_THE_CANARY],
)
def test_a_schema_admitted_broken_canary_is_an_error_naming_the_field(
    tmp_path: pathlib.Path,
    provider: str,
    analysis: dict[str, Any],
    spec: dict[str, Any],
    field: str,
    fix: str,
) -> None:
    (tmp_path / "canary.yaml").write_text(_canary(provider, analysis, spec))
    code, out, _ = _run([str(tmp_path / "canary.yaml")])
    assert code == 1
    [line] = out.splitlines()
    assert line.startswith(f"ERROR Canary test/podinfo: {field}: ") and fix in line, line


def test_the_same_settings_on_the_kubernetes_provider_or_a_mesh_are_fine(
    tmp_path: pathlib.Path,
) -> None:
    (tmp_path / "mesh.yaml").write_text(
        _canary("istio", {"match": MATCH, "sessionAffinity": {"cookieName": "c"}}, {})
    )
    (tmp_path / "bluegreen.yaml").write_text(_canary("kubernetes", {"iterations": 0}, {}))
    code, out, _ = _run([str(tmp_path)])
    assert (code, out) == (0, "OK Canary test/podinfo\nOK Canary test/podinfo\n")


REFERENCES = [
    (
        {"metrics": [{"name": "errors", "templateRef": {"name": "error-rate"}}]},
        {},
        "spec.analysis.metrics[0].templateRef",
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "MetricTemplate",
            "spec": {"provider": {"type": "prometheus"}, "query": "vector(0)"},
        },
    ),
    (
        {"alerts": [{"name": "on-call", "providerRef": {"name": "slack"}}]},
        {},
        "spec.analysis.alerts[0].providerRef",
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "AlertProvider",
            "spec": {"type": "slack", "channel": "alerts", "address": "https://chat.test/"},
        },
    ),
    (
        {},
        {"autoscalerRef": {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"}},
        "spec.autoscalerRef",
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "spec": {}},
    ),
]


@pytest.mark.parametrize(
    ("analysis", "spec", "field", "referenced"),
    REFERENCES,
    ids=["templateRef", "providerRef", "autoscalerRef"],
)
def test_a_missing_reference_is_an_error_when_a_directory_holds_its_kind_else_a_warning(
    tmp_path: pathlib.Path,
    analysis: dict[str, Any],
    spec: dict[str, Any],
    field: str,
    referenced: dict[str, Any],
) -> None:
    name = {"templateRef": "error-rate", "providerRef": "slack"}.get(
        field.rsplit(".", 1)[-1], "podinfo"
    )
    if spec:
        spec = {"autoscalerRef": {**spec["autoscalerRef"], "name": name}}
    (tmp_path / "canary.yaml").write_text(_canary("kubernetes", analysis, spec))

    code, out, err = _run([str(tmp_path / "canary.yaml")])  # alone: cannot tell
    assert (code, out) == (0, "OK Canary test/podinfo\n")
    assert f"WARNING Canary test/podinfo: {field}: " in err and "not among the inputs" in err

    other = {**referenced, "metadata": {"name": "another", "namespace": "test"}}
    (tmp_path / "others.yaml").write_text(yaml.safe_dump(other))
    code, out, err = _run([str(tmp_path)])  # the directory holds that kind: it is missing
    assert code == 1
    assert f"ERROR Canary test/podinfo: {field}: " in out and "add it or correct" in out, out
    assert field not in err
    files = [str(tmp_path / "canary.yaml"), str(tmp_path / "others.yaml")]
    code, _, err = _run(files)  # files named one by one need not be all there is: a warning
    assert code == 0 and f"WARNING Canary test/podinfo: {field}: " in err

    present = {**referenced, "metadata": {"name": name, "namespace": "test"}}
    (tmp_path / "others.yaml").write_text(yaml.safe_dump(present))
    code, out, err = _run([str(tmp_path)])  # there: nothing to say
    assert code == 0 and "OK Canary test/podinfo" in out
    assert field not in err
