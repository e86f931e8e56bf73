"""A third-party plugin package, installed the way a user installs one, used end to end.

``examples/flagger-plugin-example`` is pip-installed into the environment the tests run in (from a
copy, so the checkout stays clean) and uninstalled afterwards. Then, with no change to this
repository:

- ``flagger plugins`` lists its ``fakemesh`` router and ``constant`` metric backend under its
  package name;
- ``flagger validate`` accepts a Canary with ``provider: fakemesh`` and a MetricTemplate of type
  ``constant`` (and still rejects an unknown provider, naming the installed ones);
- the daemon runs such a Canary on the local control plane (a Deployment target, analysis with a
  ``constant`` metric) from a new image to promotion, the router's ConfigMap carrying the weights.
"""

from __future__ import annotations

import importlib
import json
import pathlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process, objects

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "flagger-plugin-example"
PACKAGE = "flagger-plugin-example"
FLAGGER = pathlib.Path(sys.executable).parent / "flagger"


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The example package installed into this environment for the module's tests."""
    source = tmp_path_factory.mktemp("plugin-example") / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    # As a user would: `pip install <path>` (the build backend comes from the package index).
    done = _pip("install", "--no-deps", str(source))
    assert done.returncode == 0, done.stdout + done.stderr
    importlib.invalidate_caches()
    try:
        yield
    finally:
        _pip("uninstall", "-y", PACKAGE)
        importlib.invalidate_caches()


def _flagger(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FLAGGER), *args], capture_output=True, text=True, input=stdin, timeout=60, check=False
    )


def test_flagger_plugins_lists_the_package(installed: None) -> None:
    out = _flagger("plugins").stdout
    rows = {tuple(line.split()[:3]) for line in out.splitlines()}
    assert ("router", "fakemesh", PACKAGE) in rows, out
    assert ("metric-backend", "constant", PACKAGE) in rows, out


NS = "plugin-example"


def _template() -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "always-fine", "namespace": NS},
        "spec": {"provider": {"type": "constant", "address": "99.5"}, "query": "unused"},
    }


def _canary(provider: str = "fakemesh") -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": NS},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": 120,
            "skipAnalysis": False,
            "service": {"port": 9898},
            "analysis": {
                "interval": "10s",
                "threshold": 2,
                "stepWeight": 25,
                "maxWeight": 50,
                "metrics": [
                    {
                        "name": "fine",
                        "templateRef": {"name": "always-fine"},
                        "thresholdRange": {"min": 99},
                        "interval": "1m",
                    }
                ],
            },
        },
    }


def test_flagger_validate_accepts_the_provider(installed: None) -> None:
    good = _flagger("validate", "-", stdin=yaml.safe_dump_all([_template(), _canary()]))
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines() == [
        f"OK MetricTemplate {NS}/always-fine",
        f"OK Canary {NS}/podinfo",
    ]
    bad = _flagger("validate", "-", stdin=yaml.safe_dump(_canary("nosuchmesh")))
    assert bad.returncode == 1
    assert "nosuchmesh" in bad.stdout and "fakemesh" in bad.stdout, bad.stdout


def _deployment(image: str) -> dict[str, Any]:
    return objects.podinfo_deployment("podinfo", NS, image)


def _get(cluster: devcluster.LocalCluster, kind: str, name: str) -> dict[str, Any]:
    done = cluster.kubectl("get", kind, name, "-n", NS, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def _wait_phase(
    cluster: devcluster.LocalCluster,
    phase: str,
    timeout: float,
    daemon: daemon_process.Daemon,
    seen: list[dict[str, str]],
) -> None:
    deadline = time.monotonic() + timeout
    current = ""
    while time.monotonic() < deadline:
        current = str((_get(cluster, "canary", "podinfo").get("status") or {}).get("phase"))
        table = _get(cluster, "configmap", "podinfo-fakemesh").get("data")
        if table and (not seen or seen[-1] != table):
            seen.append(table)
        if current == phase:
            return
        time.sleep(0.3)
    raise AssertionError(
        f"podinfo not {phase} within {timeout}s (is {current}); "
        f"messages: {daemon.messages(f'podinfo.{NS}')[-15:]}"
    )


@pytest.mark.cluster
def test_daemon_promotes_through_the_plugin(
    installed: None, cluster: devcluster.LocalCluster, tmp_path: pathlib.Path
) -> None:
    cluster.kubectl("create", "namespace", NS)
    daemon = daemon_process.Daemon(
        [
            "-kubeconfig",
            str(cluster.kubeconfig),
            "-mesh-provider",
            "kubernetes",
            "-port",
            "0",
            "-log-level",
            "info",
        ],
        tmp_path / "flagger.log",
    ).start()
    try:
        cluster.kubectl(
            "apply",
            "-f",
            "-",
            input=yaml.safe_dump_all(
                [_deployment("ghcr.io/stefanprodan/podinfo:6.0.0"), _template(), _canary()]
            ),
        )
        seen: list[dict[str, str]] = []
        _wait_phase(cluster, "Initialized", 90, daemon, seen)
        assert seen[-1] == {
            "primary": "podinfo-primary=100",
            "canary": "podinfo-canary=0",
            "mirrored": "false",
        }
        owner = _get(cluster, "configmap", "podinfo-fakemesh")["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("Canary", "podinfo")

        cluster.kubectl(
            "set",
            "image",
            "deployment/podinfo",
            "podinfo=ghcr.io/stefanprodan/podinfo:6.0.1",
            "-n",
            NS,
        )
        _wait_phase(cluster, "Succeeded", 240, daemon, seen)
        messages = daemon.messages(f"podinfo.{NS}")
        for weight in (25, 50):
            assert f"Advance podinfo.{NS} canary weight {weight}" in messages, messages
        assert f"Promotion completed! Scaling down podinfo.{NS}" in messages, messages
        canaries = [int(t["canary"].rpartition("=")[2]) for t in seen]
        assert 25 in canaries and 50 in canaries, seen
        assert seen[-1]["primary"] == "podinfo-primary=100", seen
        primary = _get(cluster, "deployment", "podinfo-primary")
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":6.0.1")
    finally:
        daemon.stop()
        cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)
