"""The node agent's pure parts: image table, command lines, paths, addresses, probes, phase.

No control plane: each test feeds a container spec (or a pod) and checks what a process would be
given, or what the pod would report.
"""

from __future__ import annotations

import base64
import pathlib
import sys
from typing import Any

import pytest

from flagger.playground import node_images, node_podspec, node_probes, node_status


def test_podinfo_command_line_drops_the_binary_and_binds_to_the_pod_ip() -> None:
    program, tag = node_images.lookup(
        node_images.DEFAULT_IMAGES, "ghcr.io/stefanprodan/podinfo:6.1.0"
    ) or (None, "")
    assert program is not None and tag == "6.1.0"
    argv = program.command_line(["./podinfo", "--port=9898", "--level=info"], [], "127.0.0.5")
    assert argv == [
        sys.executable,
        "-m",
        "flagger.playground.demoapp",
        "--port=9898",
        "--level=info",
        "--host",
        "127.0.0.5",
    ]
    assert program.environment(tag) == {"PODINFO_VERSION": "6.1.0"}


def test_loadtester_command_line() -> None:
    found = node_images.lookup(
        node_images.DEFAULT_IMAGES, "ghcr.io/fluxcd/flagger-loadtester:0.34.0"
    )
    assert found is not None
    argv = found[0].command_line(["./loadtester", "-port=8080", "-timeout=1h"], [], "127.0.0.9")
    assert argv[1:] == [
        "-m",
        "flagger.webhooks.loadtester.app",
        "-port=8080",
        "-timeout=1h",
        "-host",
        "127.0.0.9",
    ]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", ("nginx", "latest")),
        ("docker.io/library/nginx:1.27", ("nginx", "1.27")),
        ("localhost:5000/app:v2@sha256:abc", ("localhost:5000/app", "v2")),
        ("localhost:5000/app", ("localhost:5000/app", "latest")),
        ("docker.io/stefanprodan/podinfo:6.0.0", ("stefanprodan/podinfo", "6.0.0")),
    ],
)
def test_split_image(image: str, expected: tuple[str, str]) -> None:
    assert node_images.split_image(image) == expected


def test_unknown_images_have_no_program() -> None:
    assert node_images.lookup(node_images.DEFAULT_IMAGES, "nginx:1.27") is None


def test_expansion_follows_kubernetes() -> None:
    env = {"A": "1", "B": "two"}
    assert node_podspec.expand("$(A)-$(B)-$(C)-$$(A)", env) == "1-two-$(C)-$(A)"


def test_paths_under_a_mount_are_rewritten(tmp_path: pathlib.Path) -> None:
    container = {
        "volumeMounts": [
            {"name": "config", "mountPath": "/podinfo/config"},
            {"name": "data", "mountPath": "/data", "subPath": "x"},
        ]
    }
    pairs = node_podspec.mounts(container, {"config": tmp_path / "c", "data": tmp_path / "d"})
    argv = node_podspec.rewrite_paths(
        [
            "--config-path=/podinfo/config",
            "--data",
            "/data/file",
            "--other=/podinfo/configs",
            "/podinfo/config/app.yaml",
        ],
        pairs,
    )
    assert argv == [
        f"--config-path={tmp_path / 'c'}",
        "--data",
        str(tmp_path / "d/x/file"),
        "--other=/podinfo/configs",
        str(tmp_path / "c/app.yaml"),
    ]


async def test_volumes_are_written_and_refreshed(tmp_path: pathlib.Path) -> None:
    objects: dict[tuple[str, str], dict[str, Any]] = {
        ("ConfigMap", "cm"): {"data": {"a.yaml": "one", "b": "two"}},
        ("Secret", "s"): {"data": {"key": base64.b64encode(b"secret").decode()}},
    }

    async def fetch(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return objects.get((kind, name))

    pod = {
        "metadata": {"namespace": "ns", "name": "p"},
        "spec": {
            "volumes": [
                {"name": "cm", "configMap": {"name": "cm"}},
                {"name": "s", "secret": {"secretName": "s", "defaultMode": 0o400}},
                {"name": "empty", "emptyDir": {}},
                {"name": "opt", "configMap": {"name": "absent", "optional": True}},
            ]
        },
    }
    volumes = await node_podspec.write_volumes(pod, tmp_path, fetch)
    assert (volumes["cm"] / "a.yaml").read_text() == "one"
    assert (volumes["s"] / "key").read_bytes() == b"secret"
    assert (volumes["s"] / "key").stat().st_mode & 0o777 == 0o400
    assert volumes["empty"].is_dir() and volumes["opt"].is_dir()

    objects[("ConfigMap", "cm")] = {"data": {"a.yaml": "changed"}}
    await node_podspec.write_volumes(pod, tmp_path, fetch)
    assert (volumes["cm"] / "a.yaml").read_text() == "changed"
    assert not (volumes["cm"] / "b").exists()

    del objects[("Secret", "s")]
    with pytest.raises(node_podspec.ConfigError, match='secret "s" not found'):
        await node_podspec.write_volumes(pod, tmp_path, fetch)


def test_addresses_start_at_two_and_are_reused_lowest_first() -> None:
    pool = node_status.AddressPool()
    first, second, third = pool.allocate(), pool.allocate(), pool.allocate()
    assert (first, second, third) == ("127.0.0.2", "127.0.0.3", "127.0.0.4")
    pool.release(second)
    assert pool.allocate() == "127.0.0.3"
    assert pool.allocate(preferred="127.0.0.40") == "127.0.0.40"
    assert pool.allocate(preferred="127.0.0.2") == "127.0.0.5"  # taken: the next free one


def test_address_blocks_are_held_until_released_and_never_shared(tmp_path: pathlib.Path) -> None:
    first = node_status.AddressBlock.claim(tmp_path)
    second = node_status.AddressBlock.claim(tmp_path)
    try:
        assert first.octet != second.octet
        assert (first.first, first.last) == (
            f"127.{first.octet}.0.2",
            f"127.{first.octet}.255.254",
        )
        pool = node_status.AddressPool(second.first, second.last)
        assert pool.allocate() == f"127.{second.octet}.0.2"
        first.release()
        again = node_status.AddressBlock.claim(tmp_path)
        assert again.octet == first.octet  # a released block is free for the next agent
        again.release()
    finally:
        first.release()
        second.release()


def test_exec_health_checks_of_the_charts_become_http_checks() -> None:
    container = {"ports": [{"name": "http", "containerPort": 9898}]}
    podinfo = node_probes.parse(
        {
            "exec": {"command": ["podcli", "check", "http", "localhost:9898/readyz"]},
            "periodSeconds": 5,
        },
        container,
    )
    assert podinfo is not None
    assert (podinfo.kind, podinfo.port, podinfo.path, podinfo.period) == (
        "http",
        9898,
        "/readyz",
        5.0,
    )
    loadtester = node_probes.parse(
        {
            "exec": {
                "command": [
                    "wget",
                    "--quiet",
                    "--tries=1",
                    "--spider",
                    "http://localhost:8080/healthz",
                ]
            }
        },
        {},
    )
    assert loadtester is not None
    assert (loadtester.kind, loadtester.port, loadtester.path) == ("http", 8080, "/healthz")
    named = node_probes.parse({"httpGet": {"path": "/", "port": "http"}}, container)
    assert named is not None and named.port == 9898
    other = node_probes.parse({"exec": {"command": ["cat", "/tmp/healthy"]}}, {})
    assert other is not None and other.kind == "pass"


def test_phase() -> None:
    running: dict[str, Any] = {"state": {"running": {}}}
    waiting: dict[str, Any] = {"state": {"waiting": {"reason": "ContainerCreating"}}}
    backing_off: dict[str, Any] = {
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1}},
    }
    done: dict[str, Any] = {"state": {"terminated": {"exitCode": 0}}}
    failed: dict[str, Any] = {"state": {"terminated": {"exitCode": 2}}}
    assert node_status.phase([running], "Always") == "Running"
    assert node_status.phase([running, waiting], "Always") == "Pending"
    assert node_status.phase([backing_off], "Always") == "Running"
    assert node_status.phase([done], "Never") == "Succeeded"
    assert node_status.phase([done, failed], "Never") == "Failed"
