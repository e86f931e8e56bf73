"""Which container images the playground can run, and how.

There is no container runtime in the playground: the node agent runs a local program in place of
an image it knows. An :class:`ImageProgram` says how to turn a container into a command line:

- ``argv``: the program to run (a Python module of this package, with the agent's interpreter);
- ``binaries``: names of the image's own entry point (``./podinfo``) that a container's
  ``command`` starts with; that first word is dropped and the rest are the program's flags;
- ``host_args``: flags binding the program to its pod IP (``--host {pod_ip}``), because every pod
  shares the machine's loopback interface and must listen on its own address only;
- ``env``: variables derived from the image, with ``{tag}`` standing for the image tag.

:data:`DEFAULT_IMAGES` is the table, keyed by repository; callers extend it with their own
entries (``{**DEFAULT_IMAGES, "example.org/app": ImageProgram(...)}``). Images missing from the
table run no process: the agent marks their pods Ready and says so in an Event.
"""

from __future__ import annotations

import dataclasses
import posixpath
import sys
from collections.abc import Mapping, Sequence

__all__ = ["DEFAULT_IMAGES", "ImageProgram", "lookup", "split_image"]


@dataclasses.dataclass(frozen=True)
class ImageProgram:
    """How to run a container of one image as a local process."""

    argv: tuple[str, ...]
    binaries: frozenset[str] = frozenset()
    host_args: tuple[str, ...] = ()
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def command_line(self, command: Sequence[str], args: Sequence[str], pod_ip: str) -> list[str]:
        """The process's argv for a container's ``command`` and ``args`` (already expanded)."""
        words = [*command, *args]
        if words and posixpath.basename(words[0]) in self.binaries:
            words = words[1:]
        return [*self.argv, *words, *(arg.format(pod_ip=pod_ip) for arg in self.host_args)]

    def environment(self, tag: str) -> dict[str, str]:
        """The image's own variables for ``tag``."""
        return {name: value.format(tag=tag) for name, value in self.env.items()}


def _python_module(module: str) -> tuple[str, ...]:
    return (sys.executable, "-m", module)


DEFAULT_IMAGES: dict[str, ImageProgram] = {
    "ghcr.io/stefanprodan/podinfo": ImageProgram(
        argv=_python_module("flagger.playground.demoapp"),
        binaries=frozenset({"podinfo"}),
        host_args=("--host", "{pod_ip}"),
        env={"PODINFO_VERSION": "{tag}"},
    ),
    "ghcr.io/fluxcd/flagger-loadtester": ImageProgram(
        argv=_python_module("flagger.webhooks.loadtester.app"),
        binaries=frozenset({"loadtester"}),
        host_args=("-host", "{pod_ip}"),
    ),
}
# The same programs under the names the images had before they moved to ghcr.io.
DEFAULT_IMAGES["stefanprodan/podinfo"] = DEFAULT_IMAGES["ghcr.io/stefanprodan/podinfo"]
DEFAULT_IMAGES["weaveworks/flagger-loadtester"] = DEFAULT_IMAGES[
    "ghcr.io/fluxcd/flagger-loadtester"
]


def split_image(image: str) -> tuple[str, str]:
    """``registry/repo:tag@digest`` -> (``registry/repo``, ``tag``); the tag defaults to
    ``latest``. A ``docker.io/`` (and ``docker.io/library/``) prefix is dropped."""
    name = image.split("@", 1)[0]
    repository, tag = name, "latest"
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        repository, tag = name[:colon], name[colon + 1 :]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/"):
        if repository.startswith(prefix):
            repository = repository[len(prefix) :]
            break
    return repository, tag


def lookup(images: Mapping[str, ImageProgram], image: str) -> tuple[ImageProgram, str] | None:
    """The program for ``image`` and the image's tag, or None when the table lacks it."""
    repository, tag = split_image(image)
    program = images.get(repository)
    return None if program is None else (program, tag)
