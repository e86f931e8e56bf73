"""The images' entry points, started as the images start them, from a clean install of the wheel.

No container engine runs here, so this does what an image build does, minus the engine: build the
wheel, install it alone into a fresh venv with ``deploy/images/constraints.txt``, and run each
Dockerfile's ENTRYPOINT (with ``--help``, and with its CMD where that is a server, on a free port)
with ``HOME`` under a temporary directory. Checked: exit status and usage text, ``/healthz``
answering, the installed set equal to the constraints (reproducible), and no file written inside
the venv (a read-only root filesystem would refuse it).
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.unit.deploy import dockerlint

ROOT = pathlib.Path(__file__).resolve().parents[3]
IMAGES = ROOT / "deploy" / "images"


def _run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), text=True, capture_output=True, timeout=600, check=False, env=env
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    work = tmp_path_factory.mktemp("image")
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--wheel-dir",
        str(work / "dist"),
        str(ROOT),
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((work / "dist").glob("flagger-*.whl"))
    made = _run(sys.executable, "-m", "venv", str(work / "venv"))
    assert made.returncode == 0, made.stderr
    installed = _run(
        str(work / "venv" / "bin" / "pip"),
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--constraint",
        str(IMAGES / "constraints.txt"),
        str(wheel),
    )
    if installed.returncode != 0 and "NewConnectionError" in installed.stderr:
        pytest.skip("no package index reachable for the clean venv install")
    assert installed.returncode == 0, installed.stderr[-2000:]
    yield work / "venv"


def _snapshot(venv: pathlib.Path) -> set[str]:
    return {str(p.relative_to(venv)) for p in venv.rglob("*")}


def _env(venv: pathlib.Path, home: pathlib.Path) -> dict[str, str]:
    return {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_install_is_exactly_the_constraints(venv: pathlib.Path) -> None:
    frozen = _run(
        str(venv / "bin" / "pip"),
        "freeze",
        "--exclude",
        "flagger",
        "--exclude",
        "pip",
        "--exclude",
        "setuptools",
    ).stdout.split()
    pinned = [
        line
        for line in (IMAGES / "constraints.txt").read_text().split()
        if line and not line.startswith("#") and "==" in line
    ]
    assert sorted(frozen, key=str.lower) == sorted(pinned, key=str.lower)


@pytest.mark.parametrize("image", ["flagger", "loadtester", "demoapp"])
def test_entry_point_answers_help(venv: pathlib.Path, tmp_path: pathlib.Path, image: str) -> None:
    text = (IMAGES / f"Dockerfile.{image}").read_text()
    entry = dockerlint.exec_form(text, "ENTRYPOINT")
    before = _snapshot(venv)
    done = _run(*entry, "--help", env=_env(venv, tmp_path))
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
    if image == "flagger":
        # CMD ``run`` is the daemon; manifests replace it with Flagger's flags (args:).
        as_built = _run(*entry, *dockerlint.exec_form(text, "CMD"), "-h", env=_env(venv, tmp_path))
        assert as_built.returncode == 0 and "-mesh-provider" in as_built.stdout
        flags = _run(*entry, "-mesh-provider=istio", "-h", env=_env(venv, tmp_path))
        assert flags.returncode == 0 and "-mesh-provider" in flags.stdout
        version = _run(*entry, "-version", env=_env(venv, tmp_path))
        assert version.stdout.strip() == "0.1.0"
    assert _snapshot(venv) == before, "nothing written into the install"


@pytest.mark.parametrize(
    ("image", "port_flags"),
    [
        ("loadtester", lambda p: [f"-port={p}"]),
        ("demoapp", lambda p: [f"--port={p}", f"--port-metrics={_free_port()}"]),
    ],
)
def test_server_images_start_with_their_cmd(
    venv: pathlib.Path, tmp_path: pathlib.Path, image: str, port_flags: object
) -> None:
    text = (IMAGES / f"Dockerfile.{image}").read_text()
    entry, cmd = dockerlint.exec_form(text, "ENTRYPOINT"), dockerlint.exec_form(text, "CMD")
    port = _free_port()
    replaced = port_flags(port)  # type: ignore[operator]
    names = {flag.split("=")[0] for flag in replaced}
    argv = [*entry, *[a for a in cmd if a.split("=")[0] not in names], *replaced]
    before = _snapshot(venv)
    process = subprocess.Popen(
        argv,
        env=_env(venv, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        deadline, status = time.monotonic() + 20, 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=2
                ) as response:
                    status = response.status
                    break
            except OSError:
                time.sleep(0.2)
        assert status == 200, f"{argv} did not answer /healthz"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    assert _snapshot(venv) == before, "nothing written into the install"
    assert os.access(tmp_path, os.W_OK)
