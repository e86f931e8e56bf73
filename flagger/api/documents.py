"""Reading manifests: YAML documents in, typed flagger.app objects out.

:func:`load_documents` splits multi-document YAML the way ``kubectl`` reads it (timestamps
stay strings, duplicate keys are errors) and remembers where each document starts; input beyond
:data:`MAX_BYTES`, :data:`MAX_DEPTH` levels of nesting, :data:`MAX_NODES` values or integers of
more than :data:`MAX_INT_DIGITS` digits is refused with a :class:`DocumentError`, never a crash;
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

#: Largest input read, in bytes (``helm template`` of a large chart fits; one Kubernetes object
#: is at most about 1.5 MB).
MAX_BYTES = 16 * 1024 * 1024
#: Deepest nesting of mappings and lists (a Canary needs about 15 levels).
MAX_DEPTH = 100
#: Most values (scalars, mappings, lists) in one document (a Canary has a few hundred).
MAX_NODES = 100_000
#: Longest integer, in digits (an int64 has 19; Python refuses to convert above 4,300).
MAX_INT_DIGITS = 100


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
    """SafeLoader reading YAML as Kubernetes does: no timestamps, no duplicate keys; and
    within :data:`MAX_DEPTH`, :data:`MAX_NODES` and :data:`MAX_INT_DIGITS`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def new_document(self) -> None:
        """Start counting the values of the next document."""
        self._nodes = 0

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # Checked while scanning: the scanner's cost grows with the depth of ``[[[...``.
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(None, None, _too_deep(), self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._nodes += 1
        if self._depth >= MAX_DEPTH or self._nodes > MAX_NODES:
            mark = self.get_mark()
            what = (
                _too_deep()
                if self._depth >= MAX_DEPTH
                else f"the document has more than {MAX_NODES:,} values, beyond what a Kubernetes "
                "object can hold; split it"
            )
            raise yaml.composer.ComposerError(None, None, what, mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = len(str(node.value))
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"an integer of {digits:,} characters is out of range (Kubernetes numbers are "
                "64-bit); write a smaller number",
                node.start_mark,
            )
        return super().construct_yaml_int(node)

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


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)

# Timestamps stay strings, as in Kubernetes (``lastTransitionTime`` must round-trip as text).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text: str, source: str) -> list[tuple[Any, int]]:
    """Parse multi-document YAML into ``(document, line)`` pairs, skipping empty documents.

    ``line`` (1-based) is where the document's content starts. Raises :class:`DocumentError`
    naming ``source`` and the line on a YAML syntax error, a duplicate key, a character YAML
    does not allow (such as NUL), or input beyond the limits above.
    """
    if len(text) > MAX_BYTES:  # characters: at most the size in bytes
        raise DocumentError(source, 1, too_large(len(text)))
    documents: list[tuple[Any, int]] = []
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            loader.new_document()
            node = loader.get_node()
            if node is None:
                continue
            _check_expansion(node)
            document = loader.construct_document(node)
            if document is not None:
                documents.append((document, node.start_mark.line + 1))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise DocumentError(source, line, f"invalid YAML: {reason}") from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else "byte"
        raise DocumentError(
            source,
            line,
            f"invalid YAML: character {character} is not allowed in YAML; remove it "
            "(is this a binary file?)",
        ) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(source, 1, f"invalid YAML: {exc}") from exc
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases (``*name``) expand beyond :data:`MAX_NODES` values or
    :data:`MAX_DEPTH` levels, or refer to themselves (the "billion laughs")."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth), aliases expanded
    open_nodes: set[int] = set()

    def measure(node: yaml.Node) -> tuple[int, int]:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in open_nodes:
            raise yaml.composer.ComposerError(
                None,
                None,
                "an alias refers to a value that contains it; remove it",
                node.start_mark,
            )
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        open_nodes.add(id(node))
        values, depth = 1, 0
        for child in children:
            child_values, child_depth = measure(child)
            values, depth = values + child_values, max(depth, child_depth)
        open_nodes.discard(id(node))
        sizes[id(node)] = values, depth + 1
        if values > MAX_NODES or depth + 1 > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"its aliases expand to more than {MAX_NODES:,} values or {MAX_DEPTH} levels; "
                "write the values out or use fewer aliases",
                node.start_mark,
            )
        return sizes[id(node)]

    measure(root)


def _too_deep() -> str:
    return (
        f"the input is nested more than {MAX_DEPTH} levels deep, beyond what a Kubernetes "
        "object needs; flatten it"
    )


def too_large(size: int) -> str:
    """The message for an input of ``size`` bytes above :data:`MAX_BYTES`."""
    return (
        f"too large: {size:,} bytes, above the limit of {MAX_BYTES:,}; split it into smaller files"
    )


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
