"""Strict mode's command lines: the lexer (quotes group words; shell syntax refused, quoted or
not as documented), argv-shaped ``-allow`` rules (one regular expression per argument, matched in
full), and the dangerous arguments refused whatever the rules say (curl, hey, kubectl, helm)."""

from __future__ import annotations

import pytest

from flagger.webhooks.loadtester import commands


def test_quotes_group_words_and_keep_their_content_literally() -> None:
    assert commands.split("hey -z 1m  -H 'Cookie: type=insider'\thttp://podinfo.test/") == [
        "hey",
        "-z",
        "1m",
        "-H",
        "Cookie: type=insider",
        "http://podinfo.test/",
    ]
    assert commands.split("""curl -sd '{"a": [1]}' "http://x/?a=1&b=2#top" ''""") == [
        "curl",
        "-sd",
        '{"a": [1]}',
        "http://x/?a=1&b=2#top",
        "",
    ]


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("hey x; touch m", "command separator"),
        ("hey x | tee m", "pipe"),
        ("hey x > m", "redirection"),
        ("hey < m", "redirection"),
        ("hey $(touch m)", "command substitution"),
        ("hey 'x$HOME'", "variable expansion"),
        ('hey "`touch m`"', "command substitution"),
        ("hey x\\;", "backslash"),
        ("hey x\ntouch m", "control character"),
        ("hey 'x\ny'", "control character"),
        ("hey x\x00", "control character"),
        ("hey x && touch m", "background job"),
        ("hey x & touch m", "background job"),
        ("hey (x)", "subshell"),
        ("hey /???/t*", "glob"),
        ("hey [ab]", "glob"),
        ("hey {a,b}", "brace expansion"),
        ("hey ~/x", "home directory"),
        ("hey !!", "history"),
        ("hey x #y", "comment"),
        ("hey 'x", "unterminated ' quote"),
        ('hey "x', 'unterminated " quote'),
        ("   ", "empty command"),
    ],
)
def test_shell_syntax_is_refused_naming_it(command: str, why: str) -> None:
    with pytest.raises(commands.Refused, match=why):
        commands.split(command)


@pytest.mark.parametrize(
    "argv",
    [
        ["curl", "-o", "/etc/x", "http://a/"],
        ["curl", "-sSo", "/etc/x", "http://a/"],
        ["curl", "--output", "/etc/x", "http://a/"],
        ["curl", "--out", "/etc/x", "http://a/"],  # curl takes unambiguous abbreviations
        ["curl", "--output-dir=/etc", "http://a/"],
        ["curl", "-K", "/tmp/cfg", "http://a/"],
        ["curl", "--config", "/tmp/cfg"],
        ["curl", "-d", "@/etc/passwd", "http://a/"],
        ["curl", "--data-binary", "x=@/etc/passwd", "http://a/"],
        ["curl", "-F", "f=@/etc/passwd", "http://a/"],
        ["curl", "-T", "/etc/passwd", "http://a/"],
        ["curl", "-c", "/tmp/jar", "http://a/"],
        ["curl", "--unix-socket", "/var/run/docker.sock", "http://a/"],
        ["curl", "-:", "http://a/"],
        ["curl", "file:///etc/passwd"],
        ["curl", "gopher://127.0.0.1:6379/_x"],
        ["curl", "http://a/", "--", "-o"],
        ["hey", "-D", "/etc/passwd", "http://a/"],
        ["hey", "--D=/etc/passwd", "http://a/"],
        ["hey", "-o", "csv", "http://a/"],
        ["/usr/bin/hey", "-o=csv", "http://a/"],
        ["kubectl", "--kubeconfig=/tmp/k", "get", "pods"],
        ["kubectl", "--token", "x", "get", "pods"],
        ["kubectl", "-s", "https://evil", "get", "pods"],
        ["helm", "test", "x", "--post-renderer", "/bin/sh"],
        ["helmv3", "--kube-token=x", "test", "x"],
    ],
)
def test_dangerous_arguments_are_named(argv: list[str]) -> None:
    assert commands.dangerous_argument(argv) is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["hey", "-z", "1m", "-q", "10", "-c", "2", "-h2", "-host", "app.example.com", "http://a/"],
        ["hey", "-x", "http://127.0.0.1:3128", "-H", "Cookie: canary=always", "http://a/"],
        ["curl", "-sd", "test", "http://podinfo-canary.test:9898/token"],
        ["curl", "-sS", "--fail", "-X", "POST", "https://a/?x=@y"],
        ["kubectl", "-n", "test", "get", "pods", "-o", "name"],
        ["helm", "test", "podinfo", "--timeout", "3m"],
    ],
)
def test_ordinary_arguments_pass(argv: list[str]) -> None:
    assert commands.dangerous_argument(argv) is None


def test_rules_are_argv_shaped_and_match_each_word_in_full() -> None:
    rule = commands.compile_rule(r"hey -z \d+[smh] -H 'Cookie: [a-z]+=\w+' http://\S+")
    assert rule.matches(["hey", "-z", "1m", "-H", "Cookie: type=insider", "http://a/"])
    assert not rule.matches(["hey", "-z", "1m", "-H", "Cookie: type=insider"])
    assert not rule.matches(["hey", "-z", "1m\n", "-H", "Cookie: type=insider", "http://a/"])
    assert not rule.matches(["hey", "-z", "1mx", "-H", "Cookie: type=insider", "http://a/"])
    assert not rule.matches(["heyy", "-z", "1m", "-H", "Cookie: type=insider", "http://a/"])
    with pytest.raises(ValueError, match="invalid regular expression"):
        commands.compile_rule("hey (")
    with pytest.raises(ValueError, match="empty rule"):
        commands.compile_rule("  ")
