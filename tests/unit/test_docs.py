"""The documentation says what the code does.

- The generated reference pages (Canary, MetricTemplate, AlertProvider, CLI) equal what
  ``flagger.docs_gen`` generates now: change a model or a flag and this fails until
  ``python -m flagger.docs_gen`` is run.
- Every ``yaml`` block in ``docs/`` passes ``flagger validate`` (blocks of other kinds, such as
  Deployments or Helm values, are skipped by the validator itself, as for a rendered chart).
- Every shell command in ``sh``/``bash``/``console`` blocks that starts with ``flagger`` or
  ``flagger-loadtester`` parses with the real argument parsers (a real subcommand and real
  flags), every ``kubectl flagger`` command parses with the plugin's parser, and every other
  ``kubectl`` command names a real kubectl subcommand.
- The metrics reference names every metric the daemon exposes, with its labels.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import re
import shlex
from collections.abc import Iterator

import prometheus_client
import pytest
import yaml

from flagger import cli, cli_ops, docs_gen, simulation, validate_command
from flagger.alerting import delivery
from flagger.observability import metrics as metrics_module
from flagger.webhooks.loadtester import access as loadtester_access
from flagger.webhooks.loadtester import app
from flagger.webhooks.loadtester import commands as loadtester_commands
from tests import conftest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SHELL_LANGUAGES = ("sh", "bash", "shell", "console")

#: kubectl v1.35's subcommands, as `kubectl help` lists them.
KUBECTL = frozenset(
    (
        "create",
        "expose",
        "run",
        "set",
        "explain",
        "get",
        "edit",
        "delete",
        "rollout",
        "scale",
        "autoscale",
        "certificate",
        "cluster-info",
        "top",
        "cordon",
        "uncordon",
        "drain",
        "taint",
        "describe",
        "logs",
        "attach",
        "exec",
        "port-forward",
        "proxy",
        "cp",
        "auth",
        "debug",
        "events",
        "diff",
        "apply",
        "patch",
        "replace",
        "wait",
        "kustomize",
        "label",
        "annotate",
        "completion",
        "alpha",
        "api-resources",
        "api-versions",
        "config",
        "plugin",
        "version",
    )
)

#: kubectl's global flags that take a value as the next word.
KUBECTL_GLOBAL_FLAGS = frozenset(
    (
        "-n",
        "--namespace",
        "--context",
        "--kubeconfig",
        "--cluster",
        "--user",
        "-s",
        "--server",
        "--token",
        "--as",
        "--request-timeout",
    )
)


def _markdown_files() -> list[pathlib.Path]:
    return sorted(DOCS.rglob("*.md"))


def _blocks(languages: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(``file:line``, text) of every fenced block in one of ``languages``."""
    fence = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
    for path in _markdown_files():
        text = path.read_text()
        for match in fence.finditer(text):
            if match.group(1) in languages:
                line = text.count("\n", 0, match.start()) + 1
                yield f"{path.relative_to(ROOT)}:{line}", match.group(2)


# --- generated pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("page", sorted(docs_gen.PAGES))
def test_generated_page_is_up_to_date(page: str) -> None:
    wanted = docs_gen.render_all()[page]
    path = ROOT / page
    assert path.exists(), f"{page} is missing: run `python -m flagger.docs_gen`"
    assert path.read_text() == wanted, f"{page} is stale: run `python -m flagger.docs_gen`"


def test_canary_reference_covers_the_fields_users_write() -> None:
    text = (DOCS / "reference" / "canary.md").read_text()
    for field in (
        "`targetRef`",
        "`stepWeights`",
        "`thresholdRange`",
        "`templateRef`",
        "`webhooks`",
        "`sessionAffinity`",
        "`gatewayRefs`",
        "`trafficPolicy`",
        "`primaryReadyThreshold`",
        "`muteAlert`",
    ):
        assert f"| {field} |" in text, field
    assert "| `threshold` | integer |  | Failed checks allowed before rollback" in text


def test_cli_reference_lists_every_subcommand_and_daemon_flag() -> None:
    text = (DOCS / "reference" / "cli.md").read_text()
    for command in ("plugins", "validate", "crds", "run", "playground", "simulate"):
        assert f"## flagger {command}\n" in text
    for flag in (
        "`-mesh-provider`",
        "`-enable-leader-election`",
        "`--metric`",
        "`-allow`",
        "`-gates-configmap`",
    ):
        assert flag in text


def test_check_mode_reports_a_stale_page(tmp_path: pathlib.Path) -> None:
    assert docs_gen.main(["--root", str(tmp_path)]) == 0
    assert docs_gen.main(["--root", str(tmp_path), "--check"]) == 0
    (tmp_path / "docs" / "reference" / "cli.md").write_text("old\n")
    assert docs_gen.main(["--root", str(tmp_path), "--check"]) == 1


# --- YAML blocks --------------------------------------------------------------------------------


def test_every_yaml_block_passes_flagger_validate(tmp_path: pathlib.Path) -> None:
    blocks = list(_blocks(("yaml", "yml")))
    assert len(blocks) >= 20, "docs/ should hold the tutorials' manifests"
    failures, validated = [], 0
    for i, (where, text) in enumerate(blocks):
        path = tmp_path / f"block{i}.yaml"
        path.write_text(text)
        out, err = io.StringIO(), io.StringIO()
        status = validate_command.run([str(path)], out, err)
        validated += out.getvalue().count("OK ")
        if status != 0:
            failures.append(f"{where}: {out.getvalue()}{err.getvalue()}".replace(str(path), ""))
    assert not failures, "\n".join(failures)
    assert validated >= 15, "the docs' Canary, MetricTemplate and AlertProvider manifests"


# --- shell commands -----------------------------------------------------------------------------


def _commands(block: str) -> Iterator[list[str]]:
    """Each simple command of a shell block: continuation lines joined, here-docs skipped,
    ``$ `` prompts and output lines (in ``console`` blocks) dropped, split on | && || ;."""
    lines: list[str] = []
    heredoc: str | None = None
    pending = ""
    for raw in block.splitlines():
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        line = pending + raw
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        found = re.search(r"<<-?\s*'?\"?(\w+)", line)
        if found:
            heredoc = found.group(1)
            line = line[: found.start()]
        lines.append(line)
    for line in lines:
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in [*lexer, ";"]:  # unbalanced quotes fail the test: fix the docs
            if token and set(token) <= set("|&;()"):  # an operator: | || && ; ...
                while words and re.fullmatch(r"\w+=.*", words[0]):  # VAR=value command
                    words = words[1:]
                if words:
                    yield words
                words = []
            else:
                words.append(token)


def _parse_flagger(args: list[str]) -> str:
    """The parser's complaint, or ``""`` when ``flagger args`` parses."""
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
        args = ["run", *args]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parsed = cli.build_parser().parse_args(args)
            if parsed.command == "simulate":
                simulation.build_parser().parse_args(parsed.rest)
        except SystemExit as exc:
            return err.getvalue() if exc.code else ""
    return ""


def _parse_kubectl_plugin(args: list[str]) -> str:
    """``kubectl flagger ARGS``: the plugin's parser's complaint, or ``""``."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            cli_ops.build_kubectl_parser().parse_args(args)
        except SystemExit as exc:
            return err.getvalue() if exc.code else ""
    return ""


def _parse_loadtester(args: list[str]) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            app.parse_args(args, environ={})
        except SystemExit as exc:
            return err.getvalue() if exc.code else ""
    return ""


def _kubectl_subcommand(args: list[str]) -> str:
    """The first word after kubectl's global flags (``-n test``, ``--context=x``, ...)."""
    words = iter(args)
    for word in words:
        if word in KUBECTL_GLOBAL_FLAGS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return ""


def test_every_documented_command_is_real() -> None:
    checked = {"flagger": 0, "flagger-loadtester": 0, "kubectl": 0}
    problems = []
    for where, block in _blocks(SHELL_LANGUAGES):
        for words in _commands(block):
            program = pathlib.PurePath(words[0]).name
            if program == "flagger":
                problem = _parse_flagger(words[1:])
            elif program == "flagger-loadtester":
                problem = _parse_loadtester(words[1:])
            elif program == "kubectl" and _kubectl_subcommand(words[1:]) == "flagger":
                problem = _parse_kubectl_plugin(words[words.index("flagger") + 1 :])
            elif program == "kubectl":
                sub = _kubectl_subcommand(words[1:])
                problem = "" if sub in KUBECTL else f"kubectl has no subcommand {sub!r}"
            else:
                continue
            checked[program] += 1
            if problem:
                problems.append(f"{where}: {shlex.join(words)}\n    {problem.strip()}")
    assert not problems, "\n".join(problems)
    assert checked["flagger"] >= 10 and checked["kubectl"] >= 20, checked
    assert checked["flagger-loadtester"] >= 2, checked


def _allow_rules(words: list[str]) -> list[str]:
    """The ``-allow`` values of a ``flagger-loadtester`` command line."""
    rules = []
    for i, word in enumerate(words):
        if word in ("-allow", "--allow") and i + 1 < len(words):
            rules.append(words[i + 1])
        elif word.startswith(("-allow=", "--allow=")):
            rules.append(word.split("=", 1)[1])
    return rules


def test_documented_allow_rules_admit_the_documented_load_tests() -> None:
    """Every ``-allow`` rule in the docs compiles; the strict-mode examples admit the load
    tests the docs' Canaries run (``cmd:`` values) that strict mode can run, and refuse the
    attacks docs/security.md lists."""
    rules: list[str] = []
    for _where, block in _blocks(SHELL_LANGUAGES):
        for words in _commands(block):
            if pathlib.PurePath(words[0]).name == "flagger-loadtester":
                rules += _allow_rules(words)
    assert len(rules) >= 4, rules
    access = loadtester_access.Access(allow=loadtester_access.compile_rules(rules))
    commands = set()
    for path in DOCS.rglob("*.md"):
        commands.update(re.findall(r'cmd: "?(hey [^"\n]+?)"?\n', path.read_text()))
    assert "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/" in commands
    # and every cmd task of Flagger's own documentation manifests (bash tasks are refused in
    # strict mode, as docs/security.md says)
    for path in conftest.upstream_manifests():
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict) or document.get("kind") != "Canary":
                continue
            for hook in (document["spec"].get("analysis") or {}).get("webhooks") or []:
                metadata = hook.get("metadata") or {}
                if "cmd" in metadata and metadata.get("type", "cmd") == "cmd":
                    commands.add(metadata["cmd"])
    assert len(commands) >= (15 if conftest.upstream_manifests() else 1), sorted(commands)
    for command in sorted(commands):
        access.argv(command)  # raises Refused, naming the command and the reason
    for attack in (
        "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/; touch x",
        "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/>x",
        "curl -sd test -o /etc/x http://podinfo-canary.test:9898/",
    ):
        with pytest.raises(loadtester_commands.Refused):
            access.argv(attack)


def test_command_checks_catch_mistakes() -> None:
    """The checks above can fail: a made-up flag or subcommand is reported."""
    assert _parse_flagger(["run", "-mesh-provider", "istio"]) == ""
    assert _parse_flagger(["-mesh-provider=kubernetes", "-namespace=test"]) == ""
    assert "unrecognized" in _parse_flagger(["run", "-no-such-flag"])
    assert "invalid choice" in _parse_flagger(["deploy"])
    assert "unrecognized" in _parse_flagger(["simulate", "c.yaml", "--metrics", "x=1"])
    assert _parse_loadtester(["-port=8080", "-allow", "hey .*"]) == ""
    assert "unrecognized" in _parse_loadtester(["-tokens", "x"])
    assert _kubectl_subcommand(["-n", "test", "get", "canary"]) == "get"
    assert _kubectl_subcommand(["--context=prod", "rollout", "status"]) == "rollout"
    assert _parse_kubectl_plugin(["promote", "podinfo", "-n", "test", "--full"]) == ""
    assert "unrecognized" in _parse_kubectl_plugin(["abort", "podinfo", "--full"])
    assert "invalid choice" in _parse_kubectl_plugin(["rollback", "podinfo"])
    assert list(_commands("flagger-loadtester -allow 'a \\| b' && X=1 flagger crds")) == [
        ["flagger-loadtester", "-allow", "a \\| b"],
        ["flagger", "crds"],
    ]
    assert list(_commands("$ kubectl -n test get canary \\\n  podinfo | jq .\n")) == [
        ["kubectl", "-n", "test", "get", "canary", "podinfo"],
        ["jq", "."],
    ]


# --- metrics reference --------------------------------------------------------------------------


def test_metrics_reference_names_every_metric_and_label() -> None:
    text = (DOCS / "metrics.md").read_text()
    metrics = metrics_module.Metrics(prometheus_client.CollectorRegistry(), process_metrics=False)
    collectors = [
        c
        for c in vars(metrics).values()
        if isinstance(c, prometheus_client.metrics.MetricWrapperBase)
    ]
    collectors.append(delivery.FailureCounter().counter)
    assert len(collectors) >= 9
    for collector in collectors:
        name = collector._name
        if isinstance(collector, prometheus_client.Counter):
            name += "_total"
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, f"docs/metrics.md has no row for {name}"
        for label in collector._labelnames:
            assert f"`{label}`" in row, (name, label)


# --- links --------------------------------------------------------------------------------------


def _anchors(path: pathlib.Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file, plus explicit ``<a id="...">`` anchors."""
    text = path.read_text()
    found = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_relative_links_point_at_files_and_headings_that_exist() -> None:
    broken = []
    for path in _markdown_files():
        text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
