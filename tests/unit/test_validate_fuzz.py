"""`flagger validate` on 2,000 damaged manifests: never a traceback, always a named error.

A seeded generator (the same files on every run, none committed) damages valid Canary,
MetricTemplate and AlertProvider manifests the ways files get damaged: values of the wrong
type, huge or non-finite numbers, deleted, renamed and duplicated keys, deep nesting, alias
bombs, NUL and other control characters, invalid UTF-8, truncation, random byte flips. Each is
run through the real entry point (:func:`flagger.cli.main`), in batches: the exit status must
be 0, 1 or 2, no exception may escape, and nothing may print a traceback or an "internal
validation error".
"""

from __future__ import annotations

import contextlib
import copy
import io
import pathlib
import random
from collections.abc import Callable
from typing import Any

import yaml

from flagger import cli
from flagger.api import documents

SEED = 20261203
FILES = 2000
BATCH = 200

CANARY: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "provider": "istio",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "autoscalerRef": {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
            "primaryScalerReplicas": {"minReplicas": 2, "maxReplicas": 5},
        },
        "progressDeadlineSeconds": 60,
        "service": {
            "port": 9898,
            "targetPort": 9898,
            "gateways": ["public-gateway"],
            "hosts": ["app.example.com"],
            "retries": {"attempts": 3, "perTryTimeout": "1s"},
            "sessionAffinity": {"cookieName": "flagger-cookie", "maxAge": 21600},
        },
        "analysis": {
            "interval": "1m",
            "threshold": 5,
            "maxWeight": 50,
            "stepWeight": 10,
            "metrics": [
                {
                    "name": "request-success-rate",
                    "thresholdRange": {"min": 99},
                    "interval": "1m",
                },
                {
                    "name": "latency",
                    "templateRef": {"name": "latency", "namespace": "istio-system"},
                    "thresholdRange": {"max": 0.5},
                    "interval": "1m",
                },
            ],
            "webhooks": [
                {
                    "name": "load-test",
                    "url": "http://flagger-loadtester.test/",
                    "timeout": "5s",
                    "metadata": {"cmd": "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"},
                }
            ],
            "alerts": [{"name": "on-call", "severity": "error", "providerRef": {"name": "slack"}}],
        },
    },
}
AB_CANARY: dict[str, Any] = copy.deepcopy(CANARY)
AB_CANARY["spec"]["analysis"] = {
    "interval": "1m",
    "threshold": 10,
    "iterations": 10,
    "match": [{"headers": {"x-canary": {"exact": "insider"}}}, {"sourceLabels": {"app": "x"}}],
    "mirror": True,
    "mirrorWeight": 20,
}
TEMPLATE: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "MetricTemplate",
    "metadata": {"name": "latency", "namespace": "istio-system"},
    "spec": {
        "provider": {"type": "prometheus", "address": "http://prometheus.istio-system:9090"},
        "query": "histogram_quantile(0.99, sum(rate(x[{{ interval }}])) by (le))",
    },
}
PROVIDER: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "AlertProvider",
    "metadata": {"name": "slack", "namespace": "test"},
    "spec": {"type": "slack", "channel": "on-call", "secretRef": {"name": "slack-url"}},
}
BASES = (CANARY, AB_CANARY, TEMPLATE, PROVIDER)

# Values that have broken parsers: huge, non-finite, negative, empty, wrongly typed.
NASTY_TEXT = (
    "9" * 4301,
    "-" + "1" * 5000,
    "0x" + "f" * 5000,
    "1e999",
    "-1e999",
    ".inf",
    "-.inf",
    ".nan",
    ".NaN",
    "-1",
    "0",
    "9223372036854775808",
    "-9223372036854775809",
    "1.5",
    "''",
    "~",
    "[]",
    "{}",
    "true",
    "'\\u0000'",
    '"\\x00"',
    '"\\uffff\\ud800"',
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!python/object:os.system {}",
    "'" + "x" * 100_000 + "'",
    "'1h' ",
    "'-5m'",
    "'9999999999999999999999999999999999h'",
    "'1.' ",
    "'.5s'",
    "'1µs'",
    "'" + "9" * 5000 + "s'",
    "'0." + "9" * 5000 + "s'",
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _placeholder(rng: random.Random, base: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A copy of ``base`` with one value replaced by a marker to substitute in the text."""
    doc = copy.deepcopy(base)
    path = rng.choice(_paths(doc)[1:])
    return _set(doc, path, "@@NASTY@@"), "@@NASTY@@"


def _nasty_value(rng: random.Random, base: dict[str, Any]) -> str:
    doc, marker = _placeholder(rng, base)
    return _dump(doc).replace(f"'{marker}'", marker).replace(marker, rng.choice(NASTY_TEXT))


def _wrong_type(rng: random.Random, base: dict[str, Any]) -> str:
    doc = copy.deepcopy(base)
    path = rng.choice(_paths(doc))
    junk: list[Any] = [
        None,
        True,
        -(2**63),
        2**64,
        -0.0,
        1e308,
        "",
        "ünïcødé 🐍",
        "\t\r\x1b[31m",
        [],
        {},
        [[[]]],
        {"": {"": None}},
        {1: 2, None: 3, False: 4},
        list(range(50)),
        {f"k{i}": i for i in range(50)},
    ]
    return _dump(_set(doc, path, rng.choice(junk)))


def _delete_or_rename(rng: random.Random, base: dict[str, Any]) -> str:
    doc = copy.deepcopy(base)
    keyed = [p for p in _paths(doc) if p and not isinstance(p[-1], int)]
    for _ in range(rng.randint(1, 4)):
        keyed = [p for p in _paths(doc) if p and not isinstance(p[-1], int)]
        path = rng.choice(keyed)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        value = parent.pop(path[-1])
        if rng.random() < 0.5:
            parent[rng.choice([path[-1].upper(), path[-1] + "s", path[-1][:-1], ""])] = value
    return _dump(doc)


def _duplicate_key(rng: random.Random, base: dict[str, Any]) -> str:
    lines = _dump(base).splitlines()
    index = rng.randrange(len(lines))
    return "\n".join([*lines[: index + 1], lines[index], *lines[index + 1 :]]) + "\n"


def _deep(rng: random.Random, base: dict[str, Any]) -> str:
    depth = rng.choice([50, 99, 100, 101, 500, 1000, 5000, 20000])
    opener, closer = rng.choice([("[", "]"), ("{a: ", "}"), ("- ", "")])
    if opener == "- ":
        nested = "".join("  " * i + "- \n" for i in range(min(depth, 600))) + "  " * depth + "x\n"
        return _dump(base) + "extra:\n" + nested
    doc, marker = _placeholder(rng, base)
    return _dump(doc).replace(f"'{marker}'", opener * depth + "1" + closer * depth)


def _alias_bomb(rng: random.Random, base: dict[str, Any]) -> str:
    width = rng.randint(2, 12)
    levels = rng.randint(2, 9)
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    extra = "\n".join(lines) + "\n"
    if rng.random() < 0.2:
        extra += "self: &self [*self]\n"
    doc, marker = _placeholder(rng, base)
    return extra + _dump(doc).replace(f"'{marker}'", f"*l{levels - 1}")


def _control_characters(rng: random.Random, base: dict[str, Any]) -> str:
    text = _dump(base)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice("\x00\x01\x07\x0b\x0c\x1b\x7f\x85\ufeff\ufffe") + text[at:]
    return text


def _truncated(rng: random.Random, base: dict[str, Any]) -> str:
    text = _dump(base)
    return text[: rng.randrange(len(text))]


def _structure_text(rng: random.Random, base: dict[str, Any]) -> str:
    """Text-level damage: YAML punctuation dropped in at random places."""
    text = _dump(base)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice(list(":-[]{}&*!|>'\"%@`#,?\n\t ")) + text[at:]
    return text


def _documents(rng: random.Random, base: dict[str, Any]) -> str:
    """Several documents, Lists, empty documents, directives, non-mapping documents."""
    parts = [
        _dump(rng.choice(BASES)),
        "",
        "# only a comment\n",
        "%YAML 1.1\n---\n" + _dump(base),
        "just a string\n",
        "- a\n- list\n",
        "42\n",
        _dump({"apiVersion": "v1", "kind": "List", "items": [base, rng.choice(BASES), 5]}),
        _dump({"apiVersion": "v1", "kind": "List", "items": {"not": "a list"}}),
        _dump({**base, "kind": rng.choice(["canary", "Canaries", "", None, 5, ["Canary"]])}),
        _dump({**base, "apiVersion": rng.choice(["flagger.app/v2", "flagger.app/", 5, None])}),
        _dump({**base, "metadata": rng.choice([None, [], "x", {"name": 5}, {"name": ""}])}),
    ]
    return "---\n".join(rng.sample(parts, rng.randint(1, len(parts))))


MUTATORS: tuple[Callable[[random.Random, dict[str, Any]], str], ...] = (
    _nasty_value,
    _nasty_value,
    _wrong_type,
    _wrong_type,
    _delete_or_rename,
    _duplicate_key,
    _deep,
    _alias_bomb,
    _control_characters,
    _truncated,
    _structure_text,
    _documents,
)


def generate(directory: pathlib.Path, count: int, seed: int = SEED) -> list[pathlib.Path]:
    """``count`` damaged manifests in ``directory``, the same for the same seed."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    files = []
    for index in range(count):
        base = rng.choice(BASES)
        mutate = MUTATORS[index % len(MUTATORS)]
        data = mutate(rng, base).encode("utf-8", "surrogatepass")
        if rng.random() < 0.04:  # invalid UTF-8
            at = rng.randrange(len(data) + 1)
            data = data[:at] + bytes([rng.choice([0x80, 0xC3, 0xFF, 0xFE])]) + data[at:]
        elif rng.random() < 0.04:  # a few flipped bytes
            flipped = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            data = bytes(flipped)
        path = directory / f"{index:05d}-{mutate.__name__.strip('_')}.yaml"
        path.write_bytes(data)
        files.append(path)
    # the inputs of issue 12 by name: empty, a million keys (10 MB), too large
    (directory / "empty.yaml").write_bytes(b"")
    (directory / "comments.yaml").write_bytes(b"# nothing\n---\n---\n")
    big = b"".join(b"k%d: v\n" % i for i in range(1_000_000))
    (directory / "million-keys.yaml").write_bytes(big)
    (directory / "too-large.yaml").write_bytes(b"#" * (documents.MAX_BYTES + 1))
    named = ("empty.yaml", "comments.yaml", "million-keys.yaml", "too-large.yaml")
    files += [directory / name for name in named]
    return files


def _run(paths: list[pathlib.Path]) -> tuple[int | None, str, str, BaseException | None]:
    out, err = io.StringIO(), io.StringIO()
    raised: BaseException | None = None
    code: int | None = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(["validate", *map(str, paths)])
        except BaseException as exc:  # anything at all escaping the entry point is a failure
            raised = exc
    return code, out.getvalue(), err.getvalue(), raised


def _failures(paths: list[pathlib.Path]) -> list[str]:
    code, out, err, raised = _run(paths)
    text = out + err
    if raised is None and code in (0, 1, 2) and "Traceback" not in text and "internal" not in text:
        return []
    if len(paths) > 1:  # find the culprits one by one
        return [failure for path in paths for failure in _failures([path])]
    return [f"{paths[0].name}: exit {code}, raised {raised!r}, output {text[-300:]!r}"]


def test_fuzzed_manifests_never_crash_validate(tmp_path: pathlib.Path) -> None:
    files = generate(tmp_path, FILES)
    assert len(files) >= 2000
    failures = []
    for start in range(0, len(files), BATCH):
        failures += _failures(files[start : start + BATCH])
    assert failures == [], f"{len(failures)} of {len(files)} files crashed:\n" + "\n".join(
        failures[:20]
    )


def test_each_named_input_gets_a_named_error(tmp_path: pathlib.Path) -> None:
    files = generate(tmp_path, 0)
    cases = {
        "empty.yaml": (1, "no objects (the input is empty or only comments)"),
        "comments.yaml": (1, "no objects"),
        "million-keys.yaml": (2, "invalid YAML: the document has more than 100,000 values"),
        "too-large.yaml": (2, "too large: 16,777,217 bytes, above the limit of 16,777,216"),
    }
    for path in files:
        code, out, err, raised = _run([path])
        expected_code, expected_text = cases[path.name]
        assert raised is None
        assert code == expected_code, (path.name, out, err)
        assert f"ERROR {path}" in err and expected_text in err, err


def test_generator_is_seeded(tmp_path: pathlib.Path) -> None:
    first = [p.read_bytes() for p in generate(tmp_path / "a", 60)]
    again = [p.read_bytes() for p in generate(tmp_path / "b", 60)]
    assert first == again
    assert len(set(first)) > 50


def test_limits_are_what_the_docs_say() -> None:
    reference = (pathlib.Path(__file__).parents[2] / "docs" / "reference" / "cli.md").read_text()
    assert f"{documents.MAX_BYTES // 2**20} MiB" in reference
    assert f"{documents.MAX_DEPTH} levels" in reference
