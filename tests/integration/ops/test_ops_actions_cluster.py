"""Actions asked by hand, on the local control plane, with the daemon running as users run it.

The daemon also serves its dashboard (``-dashboard-address``): read-only, actions refused.
One Canary (Istio, interval 60m once initialized, so that nothing moves unless asked) driven only
by ``flagger`` commands run as processes. For each action the test measures the time from the
command's return to the daemon's Event (printed, and under 1 s), and checks the outcome:
pause/resume (weights kept), promote one step (weight +10), abort (Failed, routes 100/0),
retry (Progressing again, no spec change), a refused action (Warning event naming why),
promote --full (Promoting); the abort also reaches the Canary's AlertProvider (a Slack
receiver) and the daemon's log. Then GitOps safety: with the daemon stopped, a request is made,
the unchanged Canary manifest is re-applied by server-side apply under another field manager
(as Flux does), the daemon starts and acts once; another re-apply does not repeat it; a request
on a suspended canary is refused. Then RBAC: a ServiceAccount without ``patch`` is told which
verb and resource it lacks; and ``kubectl flagger get canaries -A`` works through the control
plane's kubectl.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import ops_world as w  # type: ignore[import-not-found, unused-ignore]
import pytest

from flagger.api import actions
from flagger.devcluster import cluster as devcluster
from flagger.devcluster import processes
from tests.support import daemon_process, http_receiver

pytestmark = pytest.mark.cluster

NAME = "podinfo"


def _daemon(
    cluster: devcluster.LocalCluster, namespace: str, log: pathlib.Path, dashboard: int = 0
) -> Any:
    flags = ["-kubeconfig", str(cluster.kubeconfig), "-namespace", namespace]
    flags += ["-mesh-provider", "istio", "-port", "0", "-log-level", "info"]
    if dashboard:
        flags += ["-dashboard-address", f"127.0.0.1:{dashboard}"]
    return daemon_process.Daemon(flags, log).start()


def _http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """(status, JSON answer) of a GET, or of a POST when ``body`` is given."""
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def world(
    cluster: devcluster.LocalCluster, namespace: str, tmp_path: pathlib.Path
) -> Iterator[dict[str, Any]]:
    port = processes.free_port()
    daemon = _daemon(cluster, namespace, tmp_path / "flagger.log", dashboard=port)
    slack = http_receiver.Receiver().start()
    try:
        w.apply(
            cluster,
            [
                w.alert_provider("releases", namespace, f"{slack.url}/slack"),
                w.deployment(NAME, namespace),
                w.canary(NAME, namespace, "10s", alerts="releases"),
            ],
        )
        w.wait_phase(cluster, namespace, NAME, "Initialized", 60, daemon)
        yield {"daemon": daemon, "log": tmp_path / "flagger.log", "dashboard": port, "slack": slack}
    finally:
        daemon.stop()
        slack.stop()


def _routes(cluster: devcluster.LocalCluster, namespace: str) -> dict[str, int]:
    found = cluster.api(
        "GET", f"/apis/networking.istio.io/v1beta1/namespaces/{namespace}/virtualservices/{NAME}"
    )
    return {r["destination"]["host"]: r["weight"] for r in found["spec"]["http"][0]["route"]}


def test_actions_change_the_outcome_within_a_second_and_survive_a_gitops_reapply(
    cluster: devcluster.LocalCluster, namespace: str, world: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    daemon = world["daemon"]
    kubeconfig = cluster.kubeconfig
    ref = f"{NAME}.{namespace}"
    # The daemon's own dashboard (-dashboard-address) lists the canary and refuses actions.
    served = f"http://127.0.0.1:{world['dashboard']}"
    status, listed = _http(f"{served}/api/canaries")
    assert status == 200 and listed["readOnly"] is True
    assert [c["name"] for c in listed["canaries"]] == [NAME]
    asked = json.dumps({"action": "abort"}).encode()
    json_headers = {"Content-Type": "application/json", "X-Flagger-Dashboard": "1"}
    status, answer = _http(f"{served}/api/canaries/{namespace}/{NAME}/actions", asked, json_headers)
    assert status == 403 and "read-only" in answer["error"]
    # A long interval from now on: only a wake-up can make the daemon act quickly.
    manifest = w.canary(NAME, namespace, "60m", alerts="releases")
    w.apply(cluster, [manifest])
    cluster.kubectl(
        "-n", namespace, "set", "image", f"deployment/{NAME}",
        f"{NAME}=ghcr.io/stefanprodan/podinfo:6.0.1",
    )  # fmt: skip
    w.wait_phase(cluster, namespace, NAME, "Progressing", 30, daemon)

    timings: dict[str, float] = {}

    def act(label: str, *args: str, event: str) -> float:
        done, returned = w.flagger(*args, NAME, "-n", namespace, kubeconfig=kubeconfig)
        assert "requested for" in done.stdout, done.stdout
        timings[label] = w.event_delay(cluster, namespace, NAME, event, returned)
        return timings[label]

    act("pause", "pause", event=f"Analysis of {ref} paused by")
    assert w.status(cluster, namespace, NAME)["paused"] is True
    act("resume", "resume", event=f"Analysis of {ref} resumed by")
    assert not w.status(cluster, namespace, NAME).get("paused")

    act("promote (one step)", "promote", event=f"Advance of {ref} requested by")
    time.sleep(0.3)  # the routes are written in the same tick, just before the event
    assert w.status(cluster, namespace, NAME)["canaryWeight"] == 10
    assert _routes(cluster, namespace) == {f"{NAME}-primary": 90, f"{NAME}-canary": 10}

    act("abort", "abort", event=f"Rollback of {ref} requested by")
    w.wait_phase(cluster, namespace, NAME, "Failed", 5, daemon)
    assert _routes(cluster, namespace) == {f"{NAME}-primary": 100, f"{NAME}-canary": 0}
    generation = w.get(cluster, namespace, NAME)["metadata"]["generation"]

    act("retry", "retry", event=f"Retry of {ref} requested by")
    w.wait_phase(cluster, namespace, NAME, "Progressing", 5, daemon)
    assert w.get(cluster, namespace, NAME)["metadata"]["generation"] == generation, "no spec change"

    act("refused (resume)", "resume", event=f"cannot resume {ref}: the analysis is not paused")
    assert w.last_action(cluster, namespace, NAME)["accepted"] is False

    act("promote --full", "promote", "--full", event=f"Promotion of {ref} requested by")
    w.wait_phase(cluster, namespace, NAME, "Promoting", 5, daemon)
    messages = daemon.messages(ref)
    assert any(m.startswith(f"Rollback of {ref} requested by") for m in messages), "log line"
    deadline = time.monotonic() + 10
    while not any(
        f"Rollback of {ref} requested by" in json.dumps(b) for _, b in world["slack"].received
    ):
        assert time.monotonic() < deadline, world["slack"].received  # the alert provider
        time.sleep(0.2)

    print("\naction -> Event after the command returned:")
    for label, seconds in timings.items():
        print(f"  {label:<20} {seconds * 1000:6.0f} ms")
    assert max(timings.values()) < 1.0, timings

    # --- GitOps: the request survives a server-side re-apply, and is acted on once ------------
    daemon.stop()
    w.flagger("abort", NAME, "-n", namespace, kubeconfig=kubeconfig)
    wanted = w.get(cluster, namespace, NAME)["metadata"]["annotations"][actions.ANNOTATION]
    request_id = actions.parse(wanted).id
    flux = tmp_path / "canary.json"
    flux.write_text(json.dumps(manifest))
    for _ in range(2):
        cluster.kubectl(
            "apply", "--server-side", "--force-conflicts",
            "--field-manager", "kustomize-controller", "-f", str(flux),
        )  # fmt: skip
    found = w.get(cluster, namespace, NAME)
    assert found["metadata"]["annotations"][actions.ANNOTATION] == wanted, "the re-apply kept it"
    managers = {m["manager"] for m in found["metadata"]["managedFields"]}
    assert {"kustomize-controller", "flagger-cli"} <= managers
    restarted = _daemon(cluster, namespace, world["log"])
    world["daemon"] = restarted
    try:
        # Promoting cannot be aborted: the request is refused, once, after the restart.
        deadline = time.monotonic() + 30
        while w.last_action(cluster, namespace, NAME).get("id") != request_id:
            assert time.monotonic() < deadline, w.dump(w.status(cluster, namespace, NAME))
            time.sleep(0.2)
        cluster.kubectl(
            "apply", "--server-side", "--force-conflicts",
            "--field-manager", "kustomize-controller", "-f", str(flux),
        )  # fmt: skip
        time.sleep(2)
        refusals = [
            e
            for e in w.events(cluster, namespace, NAME)
            if str(e["message"]).startswith(f"cannot abort {ref}")
        ]
        assert len(refusals) == 1 and refusals[0].get("count", 1) == 1, refusals
        assert w.status(cluster, namespace, NAME)["phase"] == "Promoting"

        # A suspended canary is not ticked: a request is refused at once, not kept for later.
        cluster.kubectl(
            "-n", namespace, "patch", "canary", NAME, "--type=merge",
            "-p", '{"spec": {"suspend": true}}',
        )  # fmt: skip
        _, returned = w.flagger("pause", NAME, "-n", namespace, kubeconfig=kubeconfig)
        prefix = f"cannot pause {ref}: the canary is suspended (spec.suspend: true)"
        delay = w.event_delay(cluster, namespace, NAME, prefix, returned)
        print(f"  refused (suspended)  {delay * 1000:6.0f} ms")
        assert w.last_action(cluster, namespace, NAME)["accepted"] is False
        # --wait prints the daemon's answer; a refusal exits 1
        waited, _ = w.flagger(
            "retry", NAME, "-n", namespace, "--wait", kubeconfig=kubeconfig, check=False
        )
        assert waited.returncode == 1, waited.stdout + waited.stderr
        answer = waited.stdout.splitlines()[-1]
        assert answer.startswith(f"cannot retry {ref}: the canary is suspended"), waited.stdout
    finally:
        restarted.stop()


def test_a_user_without_patch_is_told_the_verb_and_resource(
    cluster: devcluster.LocalCluster, namespace: str
) -> None:
    w.apply(cluster, [w.canary(NAME, namespace, "1m")])
    cluster.kubectl("-n", namespace, "create", "serviceaccount", "viewer")
    cluster.kubectl(
        "-n", namespace, "create", "role", "canary-viewer",
        "--verb=get,list,watch", "--resource=canaries.flagger.app,events",
    )  # fmt: skip
    cluster.kubectl(
        "-n", namespace, "create", "rolebinding", "canary-viewer",
        "--role=canary-viewer", f"--serviceaccount={namespace}:viewer",
    )  # fmt: skip
    viewer = cluster.service_account_kubeconfig(namespace, "viewer")
    listed, _ = w.flagger("get", "canaries", "-n", namespace, kubeconfig=viewer)
    assert listed.stdout.splitlines()[1].split()[0] == NAME
    shown, _ = w.flagger("get", "canary", NAME, "-n", namespace, kubeconfig=viewer)
    assert f"Name:         {NAME}\nNamespace:    {namespace}\n" in shown.stdout
    assert "Weights:      10% -> 20% -> 30% -> 40% -> 50%" in shown.stdout, shown.stdout
    refused, _ = w.flagger("promote", NAME, "-n", namespace, kubeconfig=viewer, check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"error: forbidden: user 'system:serviceaccount:{namespace}:viewer' cannot patch "
        f"resource canaries.flagger.app in namespace {namespace}"
    ), refused.stderr
    assert "Traceback" not in refused.stderr
    annotations = w.get(cluster, namespace, NAME)["metadata"].get("annotations") or {}
    assert actions.ANNOTATION not in annotations


def test_kubectl_finds_the_plugin(cluster: devcluster.LocalCluster, namespace: str) -> None:
    w.apply(cluster, [w.canary(NAME, namespace, "1m")])
    env = {
        **os.environ,
        "PATH": f"{w.BIN}:{os.environ['PATH']}",
        "KUBECONFIG": str(cluster.kubeconfig),
    }
    done = subprocess.run(
        [str(cluster.bin_dir / "kubectl"), "flagger", "get", "canaries", "-A"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:3] == ["NAMESPACE", "NAME", "STATUS"]
    assert [namespace, NAME] in [row.split()[:2] for row in rows]
