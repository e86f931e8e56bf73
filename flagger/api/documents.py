"""Reading manifests: YAML documents in, typed flagger.app objects out.

:func:`load_documents` splits multi-document YAML the way ``kubectl`` reads it (timestamps
stay strings, duplicate keys are errors) and remembers where each document starts;
:func:`parse_object` turns one document into a :class:`~flagger.api.canary.Canary`,
:class:`~flagger.api.metric_template.MetricTemplate` or
:class:`~flagger.api.alert_provider.AlertProvider`, or ``None`` for anything else.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import pydantic
import yaml

from flagger.api import alert_provider, canary, common, metric_template, problems

FlaggerObject = canary.Canary | metric_template.MetricTemplate | alert_provider.AlertProvider

#: Model class by kind.
KINDS: dict[
    str,
    type[canary.Canary] | type[metric_template.MetricTemplate] | type[alert_provider.AlertProvider],
] = {
    canary.KIND: canary.Canary,
    metric_template.KIND: metric_template.MetricTemplate,
    alert_provider.KIND: alert_provider.AlertProvider,
}
#: Every apiVersion the models accept.
API_VERSIONS = (common.API_VERSION, *common.LEGACY_API_VERSIONS)


class DocumentError(ValueError):
    """A file that is not valid YAML (or not a mapping), located by file and line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line
        self.reason = message


class InvalidObjectError(ValueError):
    """A flagger.app object that does not fit its schema; ``problems`` says where and why."""

    def __init__(self, description: str, found: list[problems.Problem]) -> None:
        lines = "\n".join(f"  {p.message}" for p in found)
        super().__init__(f"{description} is invalid:\n{lines}")
        self.problems = found


class _Loader(yaml.SafeLoader):
    """SafeLoader reading YAML as Kubernetes does: no timestamps, no duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base class reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r}; keep only one (a later one would replace the first)",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# Timestamps stay strings, as in Kubernetes (``lastTransitionTime`` must round-trip as text).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text: str, source: str) -> list[tuple[Any, int]]:
    """Parse multi-document YAML into ``(document, line)`` pairs, skipping empty documents.

    ``line`` (1-based) is where the document's content starts. Raises :class:`DocumentError`
    naming ``source`` and the line on a YAML syntax error or a duplicate key.
    """
    loader = _Loader(text)
    documents: list[tuple[Any, int]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            document = loader.construct_document(node)
            if document is not None:
                documents.append((document, node.start_mark.line + 1))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise DocumentError(source, line, f"invalid YAML: {reason}") from exc
    except yaml.YAMLError as exc:
        raise DocumentError(source, 1, f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return documents


def is_flagger_document(doc: Any) -> bool:
    """True when ``doc`` is a mapping whose apiVersion is in the flagger.app group."""
    if not isinstance(doc, Mapping):
        return False
    api_version = doc.get("apiVersion")
    return isinstance(api_version, str) and api_version.startswith(common.API_GROUP + "/")


def parse_object(doc: Any) -> FlaggerObject | None:
    """Build the typed object for a Canary, MetricTemplate or AlertProvider document.

    Returns ``None`` for other kinds and apiVersions. Raises :class:`InvalidObjectError`
    (with :class:`~flagger.api.problems.Problem` entries) when the document does not fit.
    """
    if not isinstance(doc, Mapping):
        return None
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None or not isinstance(api_version, str) or api_version not in API_VERSIONS:
        return None
    try:
        return model.model_validate(doc)
    except pydantic.ValidationError as exc:
        found = problems.from_validation_error(exc, model)
        raise InvalidObjectError(describe(doc), found) from exc


def describe(obj: common.Resource | Mapping[str, Any]) -> str:
    """``Kind namespace/name`` (``Kind name`` without a namespace), for a model or a document."""
    if isinstance(obj, common.Resource):
        return obj.describe()
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    kind = obj.get("kind") or "object"
    name = metadata.get("name") or "<unnamed>"
    namespace = metadata.get("namespace")
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
