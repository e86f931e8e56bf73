"""The wheel installs the built-ins under the flagger namespace and registers them as plugins.

Builds the wheel, installs it into a fresh virtual environment, and looks at what landed there.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tomllib
import venv

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_package_directory_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping: dict[str, str] = config["package-dir"]
    found = set()
    for package, directory in mapping.items():
        for init in (ROOT / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / directory).parts
            found.add(".".join((package, *relative)))
    assert found - listed == set(), "add these packages to [tool.setuptools] packages"


def test_wheel_installs_builtins_under_the_flagger_namespace(tmp_path: pathlib.Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        check=True,
    )
    wheel = next(dist.glob("flagger-*.whl"))
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True)

    probe = subprocess.run(
        [
            str(python),
            "-c",
            (
                "import flagger.providers, flagger.metrics, flagger.webhooks, sysconfig, os;"
                "print(flagger.providers.__file__);"
                "print(' '.join(sorted(os.listdir(sysconfig.get_paths()['purelib']))))"
            ),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    provider_file, listing = probe.stdout.splitlines()
    assert provider_file.startswith(str(env)), "imported from the fresh venv, not the checkout"
    top_level = set(listing.split())
    assert "flagger" in top_level
    assert not top_level & {"providers", "metrics", "webhooks"}, "generic top-level modules leaked"

    plugins = subprocess.run(
        [str(env / "bin" / "flagger"), "plugins"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    rows = [line.split() for line in plugins.stdout.splitlines()[1:]]
    assert ["router", "istio", "flagger"] in [row[:3] for row in rows]
    assert ["metric-backend", "prometheus", "flagger"] in [row[:3] for row in rows]
    assert ["notifier", "slack", "flagger"] in [row[:3] for row in rows]
