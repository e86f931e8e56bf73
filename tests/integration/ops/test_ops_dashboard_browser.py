"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) during a rollout.

``flagger dashboard`` runs as a user runs it (a process, the admin kubeconfig) against the local
control plane while the daemon analyses a new revision of ``frontend`` (Istio, interval 10s).
The page must list the canary, show its weight moving, and promote it when Promote is clicked
(the phase goes Promoting, then Succeeded); ``flagger watch``, reading from a pipe, follows the
same rollout in plain text and exits when it settles. A second dashboard, run as a
ServiceAccount without ``patch`` on canaries, shows the buttons disabled with the RBAC reason.
Screenshots are saved under ``build/artifacts/dashboard/`` of the checkout and stay there.

Skips when Playwright or ``/usr/bin/chromium`` is missing (``make system-deps`` installs it;
no browser is downloaded).
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import ops_world as w  # type: ignore[import-not-found, unused-ignore]
import pytest

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process

pytestmark = pytest.mark.cluster

CHROMIUM = pathlib.Path("/usr/bin/chromium")
ARTIFACTS = pathlib.Path(__file__).resolve().parents[3] / "build" / "artifacts" / "dashboard"
NAME = "frontend"


def _dashboard(kubeconfig: pathlib.Path, namespace: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [w.FLAGGER, "dashboard", "--port", "0", "-n", namespace, "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"(http://\S+/)", line)
    assert found, f"no URL in the dashboard's first line: {line!r}"
    return process, found.group(1)


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (make system-deps installs Debian's chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


def test_the_dashboard_shows_a_rollout_and_promotes_it(
    cluster: devcluster.LocalCluster, namespace: str, tmp_path: pathlib.Path, browser: Any
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    flags = ["-kubeconfig", str(cluster.kubeconfig), "-namespace", namespace, "-port", "0"]
    daemon = daemon_process.Daemon(
        [*flags, "-mesh-provider", "istio", "-log-level", "info"], tmp_path / "flagger.log"
    ).start()
    dashboard, url = _dashboard(cluster.kubeconfig, namespace)
    viewer_dashboard = None
    try:
        w.apply(cluster, [w.deployment(NAME, namespace), w.canary(NAME, namespace, "10s")])
        w.wait_phase(cluster, namespace, NAME, "Initialized", 60, daemon)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        # The page's CSP forbids eval: wait with locators, never with evaluated strings.
        expect = pytest.importorskip("playwright.sync_api").expect
        page.goto(url)
        row = page.locator(f'#canaries tr[data-name="{NAME}"]')
        expect(row).to_contain_text("Initialized", timeout=10_000)

        cluster.kubectl(
            "-n", namespace, "set", "image", f"deployment/{NAME}",
            f"{NAME}=ghcr.io/stefanprodan/podinfo:6.0.1",
        )  # fmt: skip
        expect(row).to_contain_text("Progressing", timeout=15_000)
        # `flagger watch` follows the same rollout from a pipe (no TTY) until it settles.
        watching = subprocess.Popen(
            [w.FLAGGER, "watch", NAME, "-n", namespace, "--kubeconfig", str(cluster.kubeconfig)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        page.screenshot(path=str(ARTIFACTS / "1-canaries.png"), full_page=True)

        row.click()
        weight = page.locator("#weight")
        expect(weight).to_have_text("canary weight 0%", timeout=10_000)
        expect(weight).to_have_text(re.compile(r"canary weight [1-9]\d*%"), timeout=40_000)
        line = page.locator("#weight-chart path.line")
        deadline = time.monotonic() + 10
        while True:  # the weight line has risen from 0: two heights at least
            heights = set(re.findall(r"(?:V|M[\d.]+,)([\d.]+)", line.get_attribute("d") or ""))
            if len(heights) >= 2:
                break
            assert time.monotonic() < deadline, line.get_attribute("d")
            time.sleep(0.5)
        expect(page.locator("#events")).to_contain_text(
            f"Advance {NAME}.{namespace} canary weight", timeout=5_000
        )
        expect(page.locator('button[data-action="retry"]')).to_be_disabled()
        page.screenshot(path=str(ARTIFACTS / "2-canary-progressing.png"), full_page=True)

        # A POST without the dashboard's header (what a form on another site sends) is refused.
        forged = urllib.request.Request(
            f"{url}api/canaries/{namespace}/{NAME}/actions",
            data=b'{"action": "abort"}',
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=10)
        assert refused.value.code == 400

        promote = page.locator('button[data-action="promote-full"]')
        expect(promote).to_be_enabled()
        promote.click()
        expect(page.locator("#toast")).to_contain_text("promote --full requested", timeout=10_000)
        phase = page.locator("#phase")
        expect(phase).to_have_text(re.compile("^(Promoting|Finalising|Succeeded)"), timeout=10_000)
        expect(page.locator("#events")).to_contain_text(
            f"Promotion of {NAME}.{namespace} requested by", timeout=5_000
        )
        page.screenshot(path=str(ARTIFACTS / "3-promote-clicked.png"), full_page=True)
        expect(phase).to_have_text("Succeeded", timeout=40_000)
        expect(page.locator("#events")).to_contain_text("Promotion completed!", timeout=5_000)
        page.screenshot(path=str(ARTIFACTS / "4-promoted.png"), full_page=True)
        watched, _ = watching.communicate(timeout=15)
        assert watching.returncode == 0, watched
        assert "\033[" not in watched, "no colour off a terminal"
        assert re.search(r"^Progressing +\[#+\.*\] canary weight 10% ", watched, re.M), watched
        assert f"Promotion of {NAME}.{namespace} requested by" in watched
        assert watched.rstrip().endswith(f"{NAME}.{namespace} settled: Succeeded"), watched

        # A user who may read canaries but not patch them: buttons disabled, with the reason.
        cluster.kubectl("-n", namespace, "create", "serviceaccount", "viewer")
        cluster.kubectl(
            "-n", namespace, "create", "role", "viewer", "--verb=get,list,watch",
            "--resource=canaries.flagger.app,events",
        )  # fmt: skip
        cluster.kubectl(
            "-n", namespace, "create", "rolebinding", "viewer", "--role=viewer",
            f"--serviceaccount={namespace}:viewer",
        )  # fmt: skip
        viewer = cluster.service_account_kubeconfig(namespace, "viewer")
        viewer_dashboard, viewer_url = _dashboard(viewer, namespace)
        page.goto(f"{viewer_url}#/{namespace}/{NAME}")
        retry = page.locator('button[data-action="retry"]')
        expect(retry).to_be_disabled(timeout=10_000)
        reason = page.locator(".action", has=retry).locator(".why")
        expect(reason).to_have_text(
            f"RBAC: you cannot patch canaries.flagger.app in namespace {namespace}"
        )
        page.screenshot(path=str(ARTIFACTS / "5-viewer-forbidden.png"), full_page=True)
    finally:
        _stop(dashboard)
        if viewer_dashboard is not None:
            _stop(viewer_dashboard)
        daemon.stop()
