"""Shared test fixtures: where the compatibility corpus is, and the local control plane.

The control plane is started once per test session (only when a test asks for it) and stopped
at the end, also when tests fail. Each test that needs it gets a namespace of its own.
"""

from __future__ import annotations

import os
import pathlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
UPSTREAM = SHARED / "compat" / "upstream"
OUR_CRDS = ROOT / "deploy" / "crds"
TEST_CRDS = ROOT / "tests" / "fixtures" / "crds"

_timings: dict[str, float] = {}


def upstream_manifests() -> list[pathlib.Path]:
    """The Flagger documentation manifests beside the checkout (empty when absent)."""
    return sorted(UPSTREAM.glob("*.yaml")) if UPSTREAM.is_dir() else []


def require_upstream() -> list[pathlib.Path]:
    """The corpus files, or skip the test with the reason."""
    files = upstream_manifests()
    if not files:
        pytest.skip(f"compatibility corpus not found at {UPSTREAM} (it sits beside the checkout)")
    return files


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``long`` unless ``FLAGGER_LONG_TESTS`` is set (``make long``): the CI
    run keeps their short forms and stays within its time budget."""
    if os.environ.get("FLAGGER_LONG_TESTS"):
        return
    skip = pytest.mark.skip(reason="long form: make long (FLAGGER_LONG_TESTS=1)")
    for item in items:
        if item.get_closest_marker("long") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster() -> Iterator[devcluster.LocalCluster]:
    """One real control plane for the whole session, with our CRDs and the test CRDs installed."""
    started = devcluster.LocalCluster.start()
    try:
        _timings["control plane ready"] = started.ready_seconds
        began = time.monotonic()
        crd_files = sorted(OUR_CRDS.glob("*.yaml")) + sorted(TEST_CRDS.glob("*.yaml"))
        names: list[str] = []
        for path in crd_files:
            started.kubectl("apply", "--server-side", "-f", str(path))
            names += [
                d["metadata"]["name"]
                for d in yaml.safe_load_all(path.read_text())
                if d and d.get("kind") == "CustomResourceDefinition"
            ]
        if names:
            started.kubectl(
                "wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in names)
            )
        _timings["CRDs established"] = time.monotonic() - began
        yield started
    finally:
        started.stop()


@pytest.fixture
def namespace(cluster: devcluster.LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test, deleted afterwards."""
    slug = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{slug}-{uuid.uuid4().hex[:5]}"
    cluster.api(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
async def kube(cluster: devcluster.LocalCluster) -> AsyncIterator[Any]:
    """A kubernetes-asyncio ApiClient logged in as the cluster admin."""
    from kubernetes_asyncio import config

    client = await config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        yield client
    finally:
        await client.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for what, seconds in _timings.items():
        terminalreporter.write_line(f"{what} in {seconds:.1f}s")
