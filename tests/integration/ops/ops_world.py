"""A namespace with Deployments and Istio Canaries, and the daemon watching only it.

Shared by the tests of the commands and of the dashboard: helpers to apply manifests, read a
Canary, wait for a phase, run ``flagger`` as the user does (a process), and time how long the
daemon's Event takes to appear after a command returned.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
import urllib.parse
from typing import Any

import yaml

from flagger.devcluster import cluster as devcluster
from tests.support import daemon_process, objects

BIN = pathlib.Path(sys.executable).parent
FLAGGER = str(BIN / "flagger")


def deployment(name: str, namespace: str, tag: str = "6.0.0") -> dict[str, Any]:
    return objects.podinfo_deployment(name, namespace, f"ghcr.io/stefanprodan/podinfo:{tag}")


def canary(
    name: str, namespace: str, interval: str, step: int = 10, alerts: str = ""
) -> dict[str, Any]:
    """An Istio Canary; ``alerts`` names an AlertProvider receiving every severity."""
    found: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "provider": "istio",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898},
            "analysis": {
                "interval": interval,
                "threshold": 5,
                "maxWeight": 50,
                "stepWeight": step,
            },
        },
    }
    if alerts:
        found["spec"]["analysis"]["alerts"] = [
            {"name": alerts, "severity": "info", "providerRef": {"name": alerts}}
        ]
    return found


def alert_provider(name: str, namespace: str, address: str) -> dict[str, Any]:
    """A Slack AlertProvider posting to ``address``."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "slack", "channel": "releases", "address": address},
    }


def apply(cluster: devcluster.LocalCluster, docs: list[dict[str, Any]]) -> None:
    done = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs), check=False)
    assert done.returncode == 0, done.stderr


def get(cluster: devcluster.LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = cluster.api(
        "GET", f"/apis/flagger.app/v1beta1/namespaces/{namespace}/canaries/{name}"
    )
    return found


def status(cluster: devcluster.LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    return dict(get(cluster, namespace, name).get("status") or {})


def wait_phase(
    cluster: devcluster.LocalCluster,
    namespace: str,
    name: str,
    phase: str,
    timeout: float,
    daemon: daemon_process.Daemon,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status(cluster, namespace, name).get("phase") == phase:
            return
        time.sleep(0.2)
    raise AssertionError(
        f"{name} not {phase} within {timeout}s (is {status(cluster, namespace, name)}); "
        f"messages: {daemon.messages(f'{name}.{namespace}')[-15:]}"
    )


def events(cluster: devcluster.LocalCluster, namespace: str, name: str) -> list[dict[str, Any]]:
    selector = urllib.parse.quote(f"involvedObject.name={name},involvedObject.kind=Canary")
    found = cluster.api("GET", f"/api/v1/namespaces/{namespace}/events?fieldSelector={selector}")
    return list(found.get("items") or [])


def event_delay(
    cluster: devcluster.LocalCluster,
    namespace: str,
    name: str,
    prefix: str,
    returned: float,
    timeout: float = 10.0,
) -> float:
    """Seconds from ``returned`` (a command's exit, time.monotonic) until an Event whose message
    starts with ``prefix`` is on the Canary (polled every 20 ms)."""
    deadline = returned + timeout
    while time.monotonic() < deadline:
        if any(
            str(e.get("message", "")).startswith(prefix) for e in events(cluster, namespace, name)
        ):
            return time.monotonic() - returned
        time.sleep(0.02)
    seen = [e.get("message") for e in events(cluster, namespace, name)]
    raise AssertionError(f"no event {prefix!r} within {timeout}s; events: {seen}")


def flagger(
    *args: str, kubeconfig: pathlib.Path, check: bool = True
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``flagger ARGS`` as a user does; the result and the moment it returned."""
    done = subprocess.run(
        [FLAGGER, *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    returned = time.monotonic()
    if check and done.returncode != 0:
        raise AssertionError(f"flagger {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done, returned


def last_action(cluster: devcluster.LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    return dict(status(cluster, namespace, name).get("lastAction") or {})


def dump(value: Any) -> str:
    return json.dumps(value, indent=1)
