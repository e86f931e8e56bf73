"""An audited control plane per test module (the session's shared one has no audit log)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from flagger.devcluster import cluster as devcluster
from tests.integration.deploy import scenario

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def audited() -> Iterator[devcluster.LocalCluster]:
    """A control plane of the module's own, with the audit log on and our and Istio's CRDs."""
    started = devcluster.LocalCluster.start(audit=True)
    try:
        scenario.install_crds(
            started,
            ROOT / "deploy" / "crds" / "crds.yaml",
            ROOT / "tests" / "fixtures" / "crds" / "networking.istio.io.yaml",
        )
        yield started
    finally:
        started.stop()
