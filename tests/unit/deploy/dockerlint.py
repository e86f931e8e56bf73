"""A small hadolint-like check of the project's Dockerfiles, for what matters to us.

Per file: every ``FROM`` names a tag other than ``latest`` (``ARG`` defaults resolved) or a digest;
no ``ADD`` of URLs (downloads go through ``curl`` and a checksum check in the same ``RUN``); pip
installs are constrained (``--constraint`` or ``--require-hashes``). In the final stage: a
non-root numeric ``USER`` after the last ``RUN``; an exec-form ``ENTRYPOINT``; apt packages
pinned (``pkg=version``) with the lists removed; and nothing written at run time outside ``/tmp``
(``HOME``, ``*_HOME``, ``TMPDIR`` and ``WORKDIR`` under ``/tmp``, ``PYTHONDONTWRITEBYTECODE=1``,
no ``VOLUME``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex

ROOT_USERS = {"0", "root", "0:0", "root:root"}


@dataclasses.dataclass
class Instruction:
    line: int
    keyword: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        keyword, _, args = buffer.partition(" ")
        found.append(Instruction(start, keyword.upper(), args.strip()))
        buffer = ""
    return found


def _env_pairs(args: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(args) if "=" in part)


def check(text: str) -> list[str]:
    """Problems found, as ``line N: message``; empty when the file passes."""
    instructions = parse(text)
    problems: list[str] = []
    args: dict[str, str] = {}
    stages: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.args and not stages:
            name, value = ins.args.split("=", 1)
            args[name] = value
        if ins.keyword == "FROM":
            stages.append([])
            image = re.sub(
                r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), ins.args.split()[0]
            )
            if "@sha256:" not in image:
                tag = image.rsplit("/", 1)[-1].partition(":")[2]
                if not tag or tag == "latest" or "$" in tag:
                    problems.append(
                        f"line {ins.line}: FROM {image}: pin a tag other than latest (or a digest)"
                    )
        elif stages:
            stages[-1].append(ins)
        if ins.keyword == "ADD" and re.search(r"https?://", ins.args):
            problems.append(f"line {ins.line}: ADD of a URL; curl it and check its checksum")
        if ins.keyword == "RUN":
            if "pip install" in ins.args and not re.search(
                r"--constraint|-c |--require-hashes", ins.args
            ):
                problems.append(
                    f"line {ins.line}: pip install without --constraint or --require-hashes"
                )
            if (
                re.search(r"\bcurl\b", ins.args)
                and "http" in ins.args
                and not re.search(r"sha256sum -c|sha512sum -c", ins.args)
            ):
                problems.append(f"line {ins.line}: download without a checksum check")
    if not stages:
        return [*problems, "no FROM"]
    final = stages[-1]
    problems += _check_final(final)
    return problems


def _check_final(final: list[Instruction]) -> list[str]:  # noqa: C901
    problems: list[str] = []
    users = [i for i in final if i.keyword == "USER"]
    runs = [i for i in final if i.keyword == "RUN"]
    if not users:
        problems.append("final stage: no USER (the image would run as root)")
    else:
        user = users[-1]
        if user.args in ROOT_USERS or user.args.split(":")[0] in ("0", "root"):
            problems.append(f"line {user.line}: USER {user.args} is root")
        elif not user.args.split(":")[0].isdigit():
            problems.append(
                f"line {user.line}: USER {user.args}: use a numeric uid so "
                "runAsNonRoot can verify it"
            )
        if runs and runs[-1].line > user.line:
            problems.append(f"line {runs[-1].line}: RUN after USER")
    entry = [i for i in final if i.keyword == "ENTRYPOINT"]
    if not entry:
        problems.append("final stage: no ENTRYPOINT")
    else:
        try:
            assert isinstance(json.loads(entry[-1].args), list)
        except (ValueError, AssertionError):
            problems.append(f"line {entry[-1].line}: ENTRYPOINT in shell form; use exec form")
    for run in runs:
        if "apt-get install" in run.args:
            words = run.args.split("apt-get install", 1)[1].split("&&")[0].split()
            unpinned = [w for w in words if not w.startswith("-") and "=" not in w]
            if unpinned:
                problems.append(f"line {run.line}: apt packages not pinned: {unpinned}")
            if "rm -rf /var/lib/apt/lists" not in run.args:
                problems.append(f"line {run.line}: apt lists left in the image")
    env: dict[str, str] = {}
    for ins in final:
        if ins.keyword == "ENV":
            env.update(_env_pairs(ins.args))
        if ins.keyword == "VOLUME":
            problems.append(f"line {ins.line}: VOLUME; mount an emptyDir at /tmp instead")
        if ins.keyword == "WORKDIR" and not ins.args.startswith("/tmp"):
            problems.append(f"line {ins.line}: WORKDIR {ins.args} outside /tmp")
    for name, value in env.items():
        if (name == "HOME" or name.endswith("_HOME") or name == "TMPDIR") and not (
            value == "/tmp" or value.startswith("/tmp/")
        ):
            problems.append(f"final stage: {name}={value} is written at run time; use /tmp")
    if env.get("PYTHONDONTWRITEBYTECODE") != "1":
        problems.append("final stage: PYTHONDONTWRITEBYTECODE=1 missing (bytecode writes)")
    if "HOME" not in env:
        problems.append("final stage: HOME not set under /tmp")
    return problems


def exec_form(text: str, keyword: str) -> list[str]:
    """The final stage's ``ENTRYPOINT`` or ``CMD`` as a list (empty when absent)."""
    found: list[str] = []
    for ins in parse(text):
        if ins.keyword == "FROM":
            found = []
        elif ins.keyword == keyword:
            found = list(json.loads(ins.args))
    return found
