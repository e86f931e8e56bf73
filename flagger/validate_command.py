"""``flagger validate FILE...``: check manifests the way the daemon will read them.

Inputs are files, directories (every ``*.yaml``, ``*.yml`` and ``*.json`` below them, sorted) or
``-`` for stdin; each may hold several YAML documents, and ``kind: List`` objects are opened up.
One line per object on stdout:

    OK Canary test/podinfo
    ERROR Canary test/podinfo: spec.analysis.stepWeights: <what is wrong and the fix>
    SKIP Deployment test/podinfo: not a flagger.app object

Warnings (deprecated or ignored settings) and notes (what an extension of Flagger's API, such as
a baseline comparison, will do) go to stderr. Exit status: 0 when every object is valid, 1 when
any is invalid or an input holds no object at all, 2 when an input cannot be read or parsed (with
the file and line). Inputs are read up to the limits of :mod:`flagger.api.documents` (16 MiB per
input; 100 levels of nesting and 100,000 values per document); beyond them the input is refused
as unreadable, quickly and without a traceback.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator, Mapping, Sequence
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
    given: set[tuple[str, str, str]] = set()
    wanted: list[tuple[str, str, str, str, str]] = []
    for source, text in _inputs(paths, err):
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
        for doc, line in _expand(docs):
            invalid |= not _check(doc, f"{source}:{line}", known, out, err)
            _collect(doc, given, wanted)
    for what, path, kind, namespace, name in wanted:
        if (kind, namespace, name) not in given:
            err.write(
                f"WARNING {what}: {path}: {kind} {namespace}/{name} is not among the inputs; "
                "make sure it exists in the cluster (the daemon reports it missing), or "
                "validate it together with this Canary\n"
            )
    if unreadable:
        return 2
    return 1 if invalid else 0


def _check(doc: Any, where: str, known: validation.KnownNames, out: TextIO, err: TextIO) -> bool:
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
    for problem in (p for p in found if not p.is_error):
        label = "NOTE" if problem.severity == "note" else "WARNING"
        err.write(f"{label} {what}: {problem.message}\n")
    if errors:
        out.write(f"ERROR {what}: {'; '.join(errors)}\n")
        return False
    out.write(f"OK {what}\n")
    return True


def _collect(
    doc: Any, given: set[tuple[str, str, str]], wanted: list[tuple[str, str, str, str, str]]
) -> None:
    """Note the MetricTemplates and AlertProviders in the inputs, and what Canaries refer to."""
    try:
        parsed = documents.parse_object(doc)
    except documents.InvalidObjectError:
        return
    if parsed is None:
        return
    namespace = parsed.namespace or ""
    if not isinstance(parsed, canary_api.Canary):
        given.add((parsed.kind, namespace, parsed.name))
        return
    settings = parsed.spec.effective_analysis
    if settings is None:
        return
    what = documents.describe(parsed)
    path = "spec.analysis" if parsed.spec.analysis is not None else "spec.canaryAnalysis"
    for index, metric in enumerate(settings.metrics or []):
        ref = metric.template_ref
        if ref is not None:
            where = f"{path}.metrics[{index}].templateRef"
            wanted.append((what, where, "MetricTemplate", ref.namespace or namespace, ref.name))
    for index, alert in enumerate(settings.alerts or []):
        ref = alert.provider_ref
        if ref is not None:
            where = f"{path}.alerts[{index}].providerRef"
            wanted.append((what, where, "AlertProvider", ref.namespace or namespace, ref.name))


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


def _inputs(paths: Sequence[str], err: TextIO) -> Iterator[tuple[str, str | None]]:
    """``(source name, text)`` for every input; text is None when it cannot be read."""
    for raw in paths:
        if raw == "-":
            text = sys.stdin.read(documents.MAX_BYTES + 1)
            if len(text) > documents.MAX_BYTES:
                err.write(f"ERROR <stdin>: {documents.too_large(len(text))}\n")
                yield "<stdin>", None
            else:
                yield "<stdin>", text
            continue
        path = pathlib.Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
            if not files:
                err.write(f"ERROR {raw}: no {', '.join(SUFFIXES)} files in this directory\n")
                yield raw, None
            for file in files:
                yield from _read(file, err)
        else:
            yield from _read(path, err)


def _read(path: pathlib.Path, err: TextIO) -> Iterator[tuple[str, str | None]]:
    try:
        with path.open("rb") as file:
            data = file.read(documents.MAX_BYTES + 1)
        if len(data) > documents.MAX_BYTES:
            size = max(len(data), path.stat().st_size)
            err.write(f"ERROR {path}: {documents.too_large(size)}\n")
            yield str(path), None
            return
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        err.write(f"ERROR {path}: cannot read: {reason}\n")
        yield str(path), None
        return
    yield str(path), text
