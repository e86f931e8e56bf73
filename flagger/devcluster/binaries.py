"""Locate the control-plane binaries, building them with the project script when missing."""

from __future__ import annotations

import os
import pathlib
import subprocess

BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
)
BUILD_SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "build-control-plane.sh"


class BinariesMissing(RuntimeError):
    """The control plane is neither built nor buildable from here."""


def locate(build: bool = True) -> pathlib.Path:
    """The directory holding the binaries.

    ``FLAGGER_CONTROL_PLANE_BIN`` wins when set; otherwise the build script is run (a no-op
    when its cache is warm) and its answer is used.
    """
    explicit = os.environ.get("FLAGGER_CONTROL_PLANE_BIN")
    if explicit:
        path = pathlib.Path(explicit)
        _check(path)
        return path
    if not BUILD_SCRIPT.exists():
        raise BinariesMissing(
            "set FLAGGER_CONTROL_PLANE_BIN to a directory with "
            + ", ".join(BINARIES)
            + " (scripts/build-control-plane.sh builds them)"
        )
    if not build:
        raise BinariesMissing("the control plane is not built: run scripts/build-control-plane.sh")
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True
    )
    path = pathlib.Path(done.stdout.strip().splitlines()[-1])
    _check(path)
    return path


def _check(path: pathlib.Path) -> None:
    missing = [b for b in BINARIES if not (path / b).is_file()]
    if missing:
        raise BinariesMissing(
            f"{path} lacks {', '.join(missing)}: run scripts/build-control-plane.sh"
        )
