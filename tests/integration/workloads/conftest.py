"""Fixtures for the workload controller tests: a `Kube` with the Canary kind available."""

from __future__ import annotations

from tests.support.canary_crd import client

__all__ = ["client"]
