"""``flagger validate FILE...``: check manifests the way the daemon will read them.

Inputs are files, directories (every ``*.yaml``, ``*.yml`` and ``*.json`` below them, sorted) or
``-`` for stdin; each may hold several YAML documents, and ``kind: List`` objects are opened up.
One line per object on stdout:

    OK Canary test/podinfo
    ERROR Canary test/podinfo: spec.analysis.stepWeights: <what is wrong and the fix>
    SKIP Deployment test/podinfo: not a flagger.app object

A Canary's references (``metrics[].templateRef``, ``alerts[].providerRef``, ``autoscalerRef``)
are looked up among the inputs: when a directory given holds objects of that kind in that
namespace, they are taken to be all of them and a missing one is an error; otherwise it is a
warning (the daemon checks the cluster).

Warnings (deprecated or ignored settings) and notes (what an extension of Flagger's API, such as
a baseline comparison, will do) go to stderr. Exit status: 0 when every object is valid, 1 when
any is invalid or an input holds no object at all, 2 when an input cannot be read or parsed (with
the file and line). Inputs are read up to the limits of :mod:`flagger.api.documents` (16 MiB per
input; 100 levels of nesting and 100,000 values per document); beyond them the input is refused
as unreadable, quickly and without a traceback.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

from flagger import plugins
from flagger.alerting import templates
from flagger.api import canary as canary_api
from flagger.api import documents, validation

SUFFIXES = (".yaml", ".yml", ".json")


def known_names(installed: plugins.Plugins) -> validation.KnownNames:
    """The names the installed plugins serve, as validation needs them."""
    return validation.KnownNames(
        routers=installed.names(plugins.Kind.ROUTER),
        metric_providers=installed.names(plugins.Kind.METRIC_BACKEND),
        alert_providers=installed.names(plugins.Kind.NOTIFIER),
    )


def run(
    paths: Sequence[str], out: TextIO, err: TextIO, known: validation.KnownNames | None = None
) -> int:
    """Validate every object in ``paths``; return the exit status."""
    known = known or known_names(plugins.load())
    unreadable = invalid = False
    objects: list[tuple[Any, str]] = []
    complete: list[Any] = []  # objects read from directories: all of their kinds there
    for source, text, in_directory in _inputs(paths, err):
        if text is None:
            unreadable = True
            continue
        try:
            docs = documents.load_documents(text, source)
        except documents.DocumentError as exc:
            err.write(f"ERROR {exc}\n")
            unreadable = True
            continue
        if not docs:
            err.write(f"ERROR {source}: no objects (the input is empty or only comments)\n")
            invalid = True
        expanded = list(_expand(docs))
        objects += [(doc, f"{source}:{line}") for doc, line in expanded]
        if in_directory:
            complete += [doc for doc, _ in expanded]
    given = _given((doc for doc, _ in objects), complete)
    for doc, where in objects:
        invalid |= not _check(doc, where, known, given, out, err)
    if unreadable:
        return 2
    return 1 if invalid else 0


def _check(
    doc: Any,
    where: str,
    known: validation.KnownNames,
    given: set[tuple[str, str, str]],
    out: TextIO,
    err: TextIO,
) -> bool:
    if not isinstance(doc, Mapping):
        out.write(f"SKIP document at {where}: not a Kubernetes object\n")
        return True
    what = documents.describe(doc)
    if not documents.is_flagger_document(doc):
        out.write(f"SKIP {what}: not a flagger.app object\n")
        return True
    found = validation.validate(doc, known)
    errors = [p.message for p in found if p.is_error]
    if doc.get("kind") == "AlertProvider":
        metadata = doc.get("metadata")
        errors += [
            f"{path}: {message}"
            for path, message in templates.annotation_problems(
                metadata if isinstance(metadata, Mapping) else None
            )
        ]
    for reference in _references(doc):
        if (reference.kind, reference.namespace, reference.name) in given:
            continue
        if (reference.kind, reference.namespace, "") in given:
            errors.append(
                f"{reference.path}: {reference.kind} {reference.namespace}/{reference.name} "
                f"is not in the directories given, which hold the {reference.kind}s of "
                f"namespace {reference.namespace}; add it or correct the reference"
            )
        else:
            err.write(
                f"WARNING {what}: {reference.path}: {reference.kind} "
                f"{reference.namespace}/{reference.name} is not among the inputs; make sure "
                "it exists in the cluster (the daemon reports it missing), or validate it "
                "together with this Canary\n"
            )
    for problem in (p for p in found if not p.is_error):
        label = "NOTE" if problem.severity == "note" else "WARNING"
        err.write(f"{label} {what}: {problem.message}\n")
    if errors:
        out.write(f"ERROR {what}: {'; '.join(errors)}\n")
        return False
    out.write(f"OK {what}\n")
    return True


@dataclasses.dataclass(frozen=True)
class _Reference:
    path: str
    kind: str
    namespace: str
    name: str


def _given(docs: Iterable[Any], complete: Iterable[Any]) -> set[tuple[str, str, str]]:
    """``(kind, namespace, name)`` of every object in the inputs, and ``(kind, namespace, "")``
    for each kind a namespace holds in a directory given (taken to hold all of that kind)."""
    given = {key for key in map(_key, docs) if key is not None}
    return given | {
        (kind, namespace, "") for kind, namespace, _ in filter(None, map(_key, complete))
    }


def _key(doc: Any) -> tuple[str, str, str] | None:
    """``(kind, namespace, name)`` of an object, None when it has no usable ones."""
    metadata = doc.get("metadata") if isinstance(doc, Mapping) else None
    if not isinstance(metadata, Mapping):
        return None
    kind, name = doc.get("kind"), metadata.get("name")
    namespace = metadata.get("namespace") or ""
    if isinstance(kind, str) and isinstance(name, str) and isinstance(namespace, str):
        return kind, namespace, name
    return None


def _references(doc: Mapping[str, Any]) -> list[_Reference]:
    """The objects a Canary refers to by name: MetricTemplates, AlertProviders, autoscaler."""
    try:
        parsed = documents.parse_object(doc)
    except documents.InvalidObjectError:
        return []
    if not isinstance(parsed, canary_api.Canary):
        return []
    namespace = parsed.namespace or ""
    found: list[_Reference] = []
    scaler = parsed.spec.autoscaler_ref
    if scaler is not None:
        found.append(_Reference("spec.autoscalerRef", scaler.kind, namespace, scaler.name))
    settings = parsed.spec.effective_analysis
    if settings is None:
        return found
    path = "spec.analysis" if parsed.spec.analysis is not None else "spec.canaryAnalysis"
    for index, metric in enumerate(settings.metrics or []):
        ref = metric.template_ref
        if ref is not None:
            where = f"{path}.metrics[{index}].templateRef"
            found.append(_Reference(where, "MetricTemplate", ref.namespace or namespace, ref.name))
    for index, alert in enumerate(settings.alerts or []):
        ref = alert.provider_ref
        where = f"{path}.alerts[{index}].providerRef"
        found.append(_Reference(where, "AlertProvider", ref.namespace or namespace, ref.name))
    return found


def _expand(docs: list[tuple[Any, int]]) -> Iterator[tuple[Any, int]]:
    """Open up ``kind: List`` objects (as ``kubectl get -o yaml`` prints them)."""
    for doc, line in docs:
        if (
            isinstance(doc, Mapping)
            and doc.get("kind") == "List"
            and isinstance(doc.get("items"), list)
        ):
            yield from ((item, line) for item in doc["items"])
        else:
            yield doc, line


def _inputs(paths: Sequence[str], err: TextIO) -> Iterator[tuple[str, str | None, bool]]:
    """``(source name, text, read from a directory)`` for every input; text is None when it
    cannot be read."""
    for raw in paths:
        if raw == "-":
            text = sys.stdin.read(documents.MAX_BYTES + 1)
            if len(text) > documents.MAX_BYTES:
                err.write(f"ERROR <stdin>: {documents.too_large(len(text))}\n")
                yield "<stdin>", None, False
            else:
                yield "<stdin>", text, False
            continue
        path = pathlib.Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
            if not files:
                err.write(f"ERROR {raw}: no {', '.join(SUFFIXES)} files in this directory\n")
                yield raw, None, True
            for file in files:
                yield (*_read(file, err), True)
        else:
            yield (*_read(path, err), False)


def _read(path: pathlib.Path, err: TextIO) -> tuple[str, str | None]:
    """``(source name, text)`` of a file; text is None when it cannot be read."""
    try:
        with path.open("rb") as file:
            data = file.read(documents.MAX_BYTES + 1)
        if len(data) > documents.MAX_BYTES:
            size = max(len(data), path.stat().st_size)
            err.write(f"ERROR {path}: {documents.too_large(size)}\n")
            return str(path), None
        return str(path), data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        err.write(f"ERROR {path}: cannot read: {reason}\n")
        return str(path), None
