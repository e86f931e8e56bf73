"""``flagger simulate``: the timeline of the tutorial's frontend Canary on a simulated clock.

The matrix: a clean rollout (advance lines 5..50 and the promotion, exit 0), transient metric
failures (two halts, still promoted), a sustained failure (rollback after the threshold, exit 1),
failing webhooks, and bad input (exit 2 with a message naming the problem).
"""

from __future__ import annotations

import pathlib
import re

import pytest

from flagger import simulation

FRONTEND = """\
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: frontend
  namespace: test
spec:
  provider: istio
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: frontend
  progressDeadlineSeconds: 60
  autoscalerRef:
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    name: frontend
  service:
    port: 80
    targetPort: 9898
    gateways:
    - public-gateway.istio-system.svc.cluster.local
    hosts:
    - app.example.com
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 5
    metrics:
    - name: request-success-rate
      thresholdRange:
        min: 99
      interval: 1m
    - name: request-duration
      thresholdRange:
        max: 500
      interval: 30s
    webhooks:
    - name: acceptance-test
      type: pre-rollout
      url: http://flagger-loadtester.test/
      timeout: 30s
      metadata:
        type: bash
        cmd: "curl -sd 'test' http://frontend-canary.test/token | grep token"
    - name: load-test
      url: http://flagger-loadtester.test/
      timeout: 5s
      metadata:
        cmd: "hey -z 1m -q 10 -c 2 http://frontend-canary.test/"
"""
LINE = re.compile(r"^\d\d:\d\d:\d\d ")


@pytest.fixture
def frontend(tmp_path: pathlib.Path) -> str:
    path = tmp_path / "frontend.yaml"
    path.write_text(FRONTEND)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = simulation.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_clean_rollout_prints_the_advances_and_the_promotion(
    frontend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run(capsys, frontend)
    assert code == 0
    timeline = [line for line in lines if LINE.match(line)]
    assert timeline[:4] == [
        "00:00:00 New revision detected! Scaling up frontend.test",
        "00:01:00 Starting canary analysis for frontend.test",
        "00:01:00 Pre-rollout check acceptance-test passed",
        "00:01:00 Advance frontend.test canary weight 5",
    ]
    advances = [line for line in timeline if "Advance frontend.test canary weight" in line]
    assert advances == [
        f"00:{minute:02d}:00 Advance frontend.test canary weight {minute * 5}"
        for minute in range(1, 11)
    ]
    assert timeline[-3:] == [
        "00:11:00 Copying frontend.test template spec to frontend-primary.test",
        "00:12:00 Routing all traffic to primary",
        "00:13:00 Promotion completed! Scaling down frontend.test",
    ]
    assert lines[-2:] == ["Final phase: Succeeded", "Total time: 00:13:00 (analysis interval 1m0s)"]


def test_transient_failures_halt_twice_and_still_promote(
    frontend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run(capsys, frontend, "--metric", "request-success-rate=99,62.5,88.24,99")
    assert code == 0
    halts = [line for line in lines if "Halt" in line]
    assert halts == [
        "00:03:00 Halt frontend.test advancement success rate 62.50% < 99%",
        "00:04:00 Halt frontend.test advancement success rate 88.24% < 99%",
    ]
    assert "00:15:00 Promotion completed! Scaling down frontend.test" in lines
    assert lines[-2] == "Final phase: Succeeded"


def test_a_success_rate_that_stays_low_rolls_back_after_the_threshold(
    frontend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run(capsys, frontend, "--metric", "request-success-rate=99,62.5")
    assert code == 1
    halts = [line for line in lines if "Halt" in line]
    assert len(halts) == 5
    assert lines[-4:] == [
        "00:08:00 Rolling back frontend.test failed checks threshold reached 5",
        "00:08:00 Canary failed! Scaling down frontend.test",
        "Final phase: Failed",
        "Total time: 00:08:00 (analysis interval 1m0s)",
    ]


def test_latency_and_missing_values(frontend: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(
        capsys,
        frontend,
        "--metric",
        "request-duration=2415,120",
        "--metric",
        "request-success-rate=100,none,100",
    )
    assert code == 0
    halts = [line for line in lines if "Halt" in line]
    assert halts == [
        "00:02:00 Halt frontend.test advancement request duration 2.415s > 500ms",
        "00:03:00 Halt advancement no values found for istio metric request-success-rate "
        "probably frontend.test is not receiving traffic: no values found",
    ]


def test_failing_webhooks(frontend: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, frontend, "--webhook", "acceptance-test=fail")
    assert code == 1
    assert (
        "00:01:00 Halt frontend.test advancement pre-rollout check acceptance-test failed "
        "http://flagger-loadtester.test/ returned 403 Forbidden (simulated)"
    ) in lines
    # five failed pre-rollout checks (00:01..00:05), then the rollback
    assert lines[-4:-2] == [
        "00:06:00 Rolling back frontend.test failed checks threshold reached 5",
        "00:06:00 Canary failed! Scaling down frontend.test",
    ]


def test_bad_input_exits_2_naming_the_problem(
    tmp_path: pathlib.Path, frontend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "cannot read" in err and "missing.yaml" in err

    broken = tmp_path / "broken.yaml"
    broken.write_text(FRONTEND.replace("stepWeight: 5", "stepWeight: 500"))
    code, _, err = run(capsys, str(broken))
    assert code == 2
    assert "spec.analysis.stepWeight" in err

    code, _, err = run(capsys, frontend, "--metric", "error-rate=1")
    assert code == 2
    assert "no metric named 'error-rate'" in err
    assert "request-success-rate, request-duration" in err

    code, _, err = run(capsys, frontend, "--metric", "request-success-rate=high")
    assert code == 2
    assert "'high' is not a number" in err

    code, _, err = run(capsys, frontend, "--webhook", "load-test=maybe")
    assert code == 2
    assert "must be pass or fail" in err

    not_canary = tmp_path / "template.yaml"
    not_canary.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    code, _, err = run(capsys, str(not_canary))
    assert code == 2
    assert "no flagger.app Canary" in err


def test_a_gate_that_never_opens_stops_with_an_explanation(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gated = tmp_path / "gated.yaml"
    gated.write_text(
        FRONTEND.replace(
            "    webhooks:\n",
            "    webhooks:\n    - name: approval\n      type: confirm-rollout\n"
            "      url: http://flagger-loadtester.test/gate/check\n",
        )
    )
    code, lines, _ = run(capsys, str(gated), "--webhook", "approval=fail")
    assert code == 1
    assert lines[0] == "00:00:00 Halt frontend.test advancement waiting for approval approval"
    assert "Final phase: Waiting" in lines
    assert "did not finish" in lines[-1]


JUDGE = """\
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: latency
  namespace: test
  annotations:
    flagger.app/baseline-comparison: higher-is-worse
    flagger.app/baseline-tolerance: "10%"
spec:
  provider:
    type: prometheus
    address: http://prometheus.istio-system:9090
  query: avg(latency_ms{workload="{{ target }}"})
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  service:
    port: 9898
  analysis:
    interval: 1m
    threshold: 1
    maxWeight: 50
    stepWeight: 25
    metrics:
    - name: latency
      templateRef:
        name: latency
      interval: 5m
"""


def test_samples_drive_the_baseline_judge(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "judge.yaml"
    path.write_text(JUDGE)
    within = "latency=105,108,104,109,106,107/100,99,101,98,102,100"
    worse = "latency=150,160,155,170,158,162/100,99,101,98,102,100"
    code, lines, _ = run(capsys, str(path), "--samples", within, "--samples", worse)
    assert code == 1
    judged = [line for line in lines if "baseline comparison latency" in line]
    assert judged[0] == (
        "00:02:00 podinfo.test baseline comparison latency: canary median 106.5, "
        "podinfo-primary median 100, p-value 0.9935 >= 0.05 (higher is worse, tolerance 10%): "
        "canary is not significantly worse"
    )
    assert judged[1].startswith(
        "00:03:00 Halt advancement podinfo.test baseline comparison latency: canary median 159, "
        "podinfo-primary median 100, p-value 0.002499 < 0.05"
    )
    assert "Rolling back podinfo.test failed checks threshold reached 1" in "\n".join(lines)


@pytest.mark.parametrize(
    ("option", "wanted"),
    [
        ("latency=1,2,3", "write NAME=C1,C2,.../P1,P2,..."),
        ("speed=1,2/3,4", "no metric named 'speed'"),
        ("latency=1,x/3,4", "'x' is not a number"),
    ],
)
def test_bad_samples_are_input_errors(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], option: str, wanted: str
) -> None:
    path = tmp_path / "judge.yaml"
    path.write_text(JUDGE)
    code, _, err = run(capsys, str(path), "--samples", option)
    assert code == 2
    assert wanted in err


def test_then_revert_shows_the_rollback_window(
    frontend: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    windowed = tmp_path / "windowed.yaml"
    windowed.write_text(
        FRONTEND.replace(
            "  namespace: test\n",
            '  namespace: test\n  annotations:\n    flagger.app/rollback-window: "2"\n',
            1,
        )
    )
    code, lines, _ = run(capsys, str(windowed), "--then-revert")
    assert code == 0
    reverted = lines.index("00:14:00 (target reverted to simulated-revision-1)")
    assert lines[reverted + 1 : reverted + 4] == [
        "00:14:00 Rolling back frontend.test to revision simulated-revision-1 known good, "
        "skipping analysis",
        "00:14:00 Copying frontend.test template spec to frontend-primary.test",
        "00:14:00 Promotion completed! Scaling down frontend.test",
    ]
    assert lines[-1] == "Total time: 00:14:00 (analysis interval 1m0s)"
    # without the annotation the first revision is analysed again from the start
    code, lines, _ = run(capsys, frontend, "--then-revert")
    reverted = lines.index("00:14:00 (target reverted to simulated-revision-1)")
    assert lines[reverted + 1] == "00:14:00 New revision detected! Scaling up frontend.test"
    assert not any("known good" in line for line in lines)
