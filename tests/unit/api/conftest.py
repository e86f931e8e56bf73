"""Fixtures for the API tests: the compatibility corpus and Flagger's reference CRD.

Both live in the ``shared`` directory beside the checkout; tests that need them are skipped
with the reason when it is absent.
"""

from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
SHARED = ROOT / ".." / "shared"
UPSTREAM = SHARED / "compat" / "upstream"
REFERENCE_CRD = SHARED / "reference" / "flagger-crd.yaml"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``upstream_file`` over every corpus manifest (one skipped case if absent)."""
    if "upstream_file" in metafunc.fixturenames:
        files = sorted(UPSTREAM.glob("*.yaml")) if UPSTREAM.is_dir() else []
        if files:
            metafunc.parametrize("upstream_file", files, ids=[f.stem for f in files])
        else:
            metafunc.parametrize(
                "upstream_file",
                [
                    pytest.param(
                        None,
                        marks=pytest.mark.skip(
                            reason=f"compatibility corpus not found at {UPSTREAM.resolve()} "
                            "(it sits beside the checkout)"
                        ),
                    )
                ],
            )


@pytest.fixture
def reference_crd() -> pathlib.Path:
    """Flagger's CRDs (v1.44.0), or skip when the reference folder is absent."""
    if not REFERENCE_CRD.is_file():
        pytest.skip(f"reference CRD not found at {REFERENCE_CRD.resolve()}")
    return REFERENCE_CRD
