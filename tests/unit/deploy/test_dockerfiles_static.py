"""The Dockerfiles pass our hadolint-like check, and the check catches what it promises to.

Matrix: each of ``deploy/images/Dockerfile.*`` must pass; broken variants (``latest`` tag, root
user, no USER, shell-form ENTRYPOINT, unpinned apt package, HOME outside /tmp, unconstrained pip,
URL ADD, unchecked download) must each be reported.
"""

from __future__ import annotations

import pathlib

import pytest

from tests.unit.deploy import dockerlint

IMAGES = pathlib.Path(__file__).resolve().parents[3] / "deploy" / "images"
DOCKERFILES = sorted(IMAGES.glob("Dockerfile.*"))

GOOD = """\
ARG BASE=docker.io/library/python:3.11.14-slim-bookworm
FROM ${BASE} AS build
RUN pip install --constraint c.txt x.whl
FROM ${BASE}
RUN apt-get update && apt-get install -y hey=0.1.4-2+b4 && rm -rf /var/lib/apt/lists/*
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
ENTRYPOINT ["flagger"]
"""


def test_the_three_images_exist() -> None:
    assert {p.name for p in DOCKERFILES} == {
        "Dockerfile.flagger",
        "Dockerfile.loadtester",
        "Dockerfile.demoapp",
    }


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes(path: pathlib.Path) -> None:
    assert dockerlint.check(path.read_text()) == []


def test_the_reference_passes() -> None:
    assert dockerlint.check(GOOD) == []


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        ("python:3.11.14-slim-bookworm", "python:latest", "pin a tag"),
        ("python:3.11.14-slim-bookworm", "python", "pin a tag"),
        ("USER 10001:10001", "USER root", "is root"),
        ("USER 10001:10001", "USER 0", "is root"),
        ("USER 10001:10001\n", "", "no USER"),
        ("USER 10001:10001", "USER app", "numeric uid"),
        ('ENTRYPOINT ["flagger"]', "ENTRYPOINT flagger", "shell form"),
        ("hey=0.1.4-2+b4", "hey", "not pinned"),
        (" && rm -rf /var/lib/apt/lists/*", "", "apt lists"),
        ("HOME=/tmp", "HOME=/home/app", "use /tmp"),
        ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE"),
        ("--constraint c.txt ", "", "without --constraint"),
        ("USER 10001", "VOLUME /data\nUSER 10001", "VOLUME"),
        ("USER 10001", "WORKDIR /app\nUSER 10001", "outside /tmp"),
        ('ENTRYPOINT ["flagger"]', 'ENTRYPOINT ["flagger"]\nADD https://x/y /y', "ADD of a URL"),
        ("RUN pip install", "RUN curl -fsSLO https://x/kubectl && pip install", "checksum"),
        ('ENTRYPOINT ["flagger"]', 'RUN true\nENTRYPOINT ["flagger"]', "RUN after USER"),
    ],
)
def test_problems_are_reported(old: str, new: str, reported: str) -> None:
    broken = GOOD.replace(old, new, 1)
    assert broken != GOOD
    problems = dockerlint.check(broken)
    assert any(reported in p for p in problems), problems


def test_entrypoints_are_read_in_exec_form() -> None:
    text = (IMAGES / "Dockerfile.flagger").read_text()
    assert dockerlint.exec_form(text, "ENTRYPOINT") == ["flagger"]
    assert dockerlint.exec_form(text, "CMD") == ["run"]


def test_loadtester_ships_what_flaggers_image_ships() -> None:
    """17 of the 53 manifests in Flagger's docs call curl from the loadtester; its image also
    has jq, wrk, ghz and grpc_health_probe. Each must reach the final stage's PATH."""
    text = (IMAGES / "Dockerfile.loadtester").read_text()
    final = text.rsplit("\nFROM ", 1)[1]
    for package in ("hey=", "curl=", "jq=", "wrk=", "git="):
        assert package in final, f"{package} not installed in the final stage"
    copied = " ".join(line for line in final.splitlines() if line.startswith("COPY --from="))
    for binary in ("ghz", "grpc_health_probe", "kubectl", "helm"):
        assert binary in copied, f"{binary} not copied into the final stage"
    assert 'go install "github.com/bojand/ghz/cmd/ghz@' in text
    assert 'go install "github.com/grpc-ecosystem/grpc-health-probe@' in text
