"""``flagger playground --exit --json``: the tutorial, played for real, as a user runs it.

While it plays, the test reads the mesh proxy's Istio telemetry itself: for every frontend weight
the display shows, the share of the frontend's requests that went to the canary must be within
3 points of that weight. At the end, the JSON file must show the outcomes and the messages in
the tutorial's order: halts on success rate and on latency, a promotion and a rollback.

The GitOps mode (the default, run by ``make test``) must also show who did what: each commit
pushed, Flux fetching it and upgrading the release, and the daemon's canary naming the commit
that started it; after the revert of the failed release, no new analysis. The Helm mode
(``--helm``) runs with ``make e2e-helm`` (``FLAGGER_E2E_HELM=1``).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from flagger.playground import flux_controllers

FLAGGER = pathlib.Path(sys.executable).parent / "flagger"
WEIGHT_LINE = re.compile(r"^\s+frontend\s+(\w+)\s+canary\s+(\d+)%")
TELEMETRY = re.compile(r"Istio telemetry on :(\d+)")


def _frontend_requests(port: int) -> dict[str, float]:
    """Requests the proxy sent to each frontend workload so far (reporter=destination)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "istio_requests":
            continue
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "istio_requests_total"
                and labels.get("reporter") == "destination"
                and labels.get("destination_workload_namespace") == "test"
                and labels.get("destination_workload") in ("frontend", "frontend-primary")
            ):
                workload = labels["destination_workload"]
                counts[workload] = counts.get(workload, 0.0) + sample.value
    return counts


def _play(tmp_path: pathlib.Path, *extra: str) -> tuple[dict[str, Any], list[str]]:
    """Run the playground; its JSON report and its screen, after the shared checks."""
    report = tmp_path / "playground.json"
    process = subprocess.Popen(
        [str(FLAGGER), "playground", "--exit", "--json", str(report), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    steps: list[tuple[int, float, float]] = []  # weight, canary share, requests in the step
    telemetry_port: list[int] = []

    def read() -> None:
        assert process.stdout is not None
        current: tuple[int, dict[str, float]] | None = None
        promoted = False  # the second release sends errors to frontend-canary on purpose
        for line in process.stdout:
            output.append(line)
            if not telemetry_port and (found := TELEMETRY.search(line)):
                telemetry_port.append(int(found.group(1)))
            match = WEIGHT_LINE.match(line)
            if not match or not telemetry_port or promoted:
                continue
            phase, weight = match.group(1), int(match.group(2))
            promoted = phase == "Succeeded"
            counts = _frontend_requests(telemetry_port[0])
            if current is not None and current[0] > 0:
                canary = counts.get("frontend", 0.0) - current[1].get("frontend", 0.0)
                primary = counts.get("frontend-primary", 0.0) - current[1].get(
                    "frontend-primary", 0.0
                )
                if canary + primary > 0:
                    steps.append((current[0], 100 * canary / (canary + primary), canary + primary))
            current = (weight, counts) if phase == "Progressing" else None

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    began = time.monotonic()
    try:
        code = process.wait(timeout=1200)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
    reader.join(timeout=10)
    elapsed = time.monotonic() - began
    print(f"playground --exit {' '.join(extra)} took {elapsed:.0f}s")
    print(
        "frontend steps (weight, canary share, requests):",
        [(w, round(s, 1), int(n)) for w, s, n in steps],
    )
    assert code == 0, "".join(output[-60:])
    assert not [line for line in output if "Traceback" in line], "".join(output)

    played: dict[str, Any] = json.loads(report.read_text())
    assert all(o["ok"] for o in played["outcomes"]), played["outcomes"]

    frontend = [m["msg"] for m in played["messages"] if m["canary"] == "frontend" and _daemon(m)]
    expected = [
        "New revision detected! Scaling up frontend.test",
        *(f"Advance frontend.test canary weight {w}" for w in range(5, 55, 5)),
        "Copying frontend.test template spec to frontend-primary.test",
        "Promotion completed! Scaling down frontend.test",
    ]
    position = 0
    for message in frontend:
        if position < len(expected) and message == expected[position]:
            position += 1
    assert position == len(expected), frontend
    # The second frontend release halts on errors and is promoted by hand.
    by_hand = [
        "New revision detected! Scaling up frontend.test",
        "Halt frontend.test advancement success rate",
        "Promotion of frontend.test requested by you: skipping the remaining analysis",
        "Copying frontend.test template spec to frontend-primary.test",
        "Promotion completed! Scaling down frontend.test",
    ]
    rest = frontend[frontend.index(expected[-1]) + 1 :]
    position = 0
    for message in rest:
        if position < len(by_hand) and message.startswith(by_hand[position]):
            position += 1
    assert position == len(by_hand), rest

    backend = [m["msg"] for m in played["messages"] if m["canary"] == "backend" and _daemon(m)]
    assert any(
        re.fullmatch(r"Halt backend\.test advancement success rate [\d.]+% < 99%", m)
        for m in backend
    ), backend
    assert any(m.startswith("Halt backend.test advancement request duration ") for m in backend)
    assert "Promotion completed! Scaling down backend.test" in backend
    rollback = next(
        m
        for m in backend
        if re.fullmatch(r"Rolling back backend\.test failed checks threshold reached \d+", m)
    )
    assert backend.index("Promotion completed! Scaling down backend.test") < backend.index(rollback)
    assert backend[backend.index(rollback) + 1] == "Canary failed! Scaling down backend.test"

    # Traffic is real: each step's split matches the VirtualService weight.
    assert len(steps) >= 5, steps
    for weight, share, requests in steps:
        assert requests >= 100, (weight, requests)
        assert abs(share - weight) <= 3.0, (weight, share, requests)
    return played, output


def _daemon(entry: dict[str, Any]) -> bool:
    return entry.get("by", "flagger") == "flagger"


def _flux_buildable() -> bool:
    try:
        flux_controllers.locate(build=False)
    except flux_controllers.FluxMissing:
        return shutil.which("go") is not None
    return True


@pytest.mark.cluster
@pytest.mark.skipif(not _flux_buildable(), reason="Flux is not built and Go is absent")
def test_gitops_playground_plays_the_tutorial_through_commits_and_flux(
    tmp_path: pathlib.Path,
) -> None:
    played, _ = _play(tmp_path)
    _check_gitops_timeline(played)


def _check_gitops_timeline(played: dict[str, Any]) -> None:
    assert sorted(o["seen"] for o in played["outcomes"]) == sorted(
        [
            "Failed",
            "Succeeded",
            "Succeeded",
            "Succeeded",
            "yes",
            "Ready=True, Failed, 3.1.1 in Git, 3.1.0 serving",
            "upgraded, no analysis, Failed",
        ]
    )
    messages = played["messages"]
    pushed = {m["msg"].split(" ", 2)[2]: m["commit"] for m in messages if m["by"] == "git"}
    assert list(pushed) == [
        "Add the test namespace, the loadtester, frontend and backend",
        "frontend: image.tag 3.1.1",
        "backend: httpServer.timeout 31s (a configuration change)",
        "backend: image.tag 3.1.1",
        "frontend: httpServer.timeout 31s",
        'Revert "backend: image.tag 3.1.1"',
    ], pushed

    # Flux's own steps: the source fetched each commit, helm-controller upgraded the releases.
    flux = [m for m in messages if m["by"] == "flux"]
    fetched = [m["msg"] for m in flux if m["msg"].startswith("GitRepository flux-system/")]
    for sha in pushed.values():  # Flux shortens long subjects; the revision names the commit
        assert any(f"main@sha1:{sha}" in line for line in fetched), (sha, fetched)
    upgraded = {
        m["canary"]
        for m in flux
        if m["msg"].startswith("HelmRelease test/") and "upgrade succeeded" in m["msg"].lower()
    }
    assert {"frontend", "backend"} <= upgraded, flux

    # Each canary names the commit that started it, and comes after Flux applied that commit.
    started = [m for m in messages if _daemon(m) and m["msg"].startswith("New revision detected!")]
    by_release = [(m["canary"], m.get("commit")) for m in started]
    assert ("frontend", pushed["frontend: image.tag 3.1.1"]) in by_release, by_release
    assert (
        "backend",
        pushed["backend: httpServer.timeout 31s (a configuration change)"],
    ) in by_release, by_release
    assert ("backend", pushed["backend: image.tag 3.1.1"]) in by_release, by_release
    assert ("frontend", pushed["frontend: httpServer.timeout 31s"]) in by_release, by_release
    for entry in started:
        push = next(m for m in messages if m.get("commit") == entry["commit"])
        assert push["t"] <= entry["t"]

    # The revert is applied by Flux, and no canary analysis follows it.
    revert = next(m for m in messages if m["by"] == "git" and "Revert" in m["msg"])
    after = [m for m in messages if m["t"] >= revert["t"]]
    assert any(
        m["by"] == "flux" and m["canary"] == "backend" and "upgrade succeeded" in m["msg"].lower()
        for m in after
    ), after
    assert not any(_daemon(m) and m["msg"].startswith("New revision") for m in after), after


@pytest.mark.cluster
@pytest.mark.skipif(
    not os.environ.get("FLAGGER_E2E_HELM"), reason="Helm mode: make e2e-helm (FLAGGER_E2E_HELM=1)"
)
def test_helm_playground_plays_the_tutorial(tmp_path: pathlib.Path) -> None:
    played, _ = _play(tmp_path, "--helm")
    assert sorted(o["seen"] for o in played["outcomes"]) == [
        "Failed",
        "Succeeded",
        "Succeeded",
        "Succeeded",
        "yes",
    ]
    assert not [m for m in played["messages"] if not _daemon(m)]
