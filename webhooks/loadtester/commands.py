"""Command lines the loadtester runs under an allow-list: parsed into argv, never given to a shell.

With ``-allow`` rules the loadtester is in *strict mode*. A task's command line is split into an
argument vector by a small quoting-aware lexer, checked, and executed directly (``execvp``: no
``sh -c``), so nothing in it can start a second command. Checks, in order, each refusal naming
what was refused:

1. **Shell syntax is refused outright**, even though no shell would interpret it, so that a
   command either means what it says or is not run:

   - anywhere, quoted or not: ``$`` (variables, ``$(...)``, ``${IFS}``), backticks, ``;``,
     ``|``, ``<``, ``>``, backslashes and control characters (newline, NUL, ...);
   - outside quotes: ``&``, ``(``, ``)``, globs ``* ? [ ]``, ``{ }``, ``~``, ``!``, ``#``.
     Quoted, these are ordinary characters (``'http://app/?a=1&b=2'``, ``'{"k": 1}'``).

   Words are separated by spaces or tabs; ``'...'`` and ``"..."`` group a word (no escapes).
2. **Dangerous arguments are refused** whatever the rules say: ``--`` anywhere; an argument
   with a URL scheme other than ``http``/``https`` (``file://``, ``gopher://``...); and, per
   program, options that read or write local files or switch identity (:data:`DANGEROUS`):
   curl's ``-o``/``--output``, ``-O``, ``-K``/``--config``, ``-T``, ``-D``, ``-c``, ``-b``,
   ``-F``, ``--unix-socket``, ``-:``/``--next``, any ``@file`` argument (also inside a
   bundle such as ``-sSo`` or an abbreviation such as ``--out``); hey's ``-D`` (body from a
   file) and ``-o``; kubectl's and helm's credential and kubeconfig flags and helm's
   ``--post-renderer``.
3. **The argv must match a rule.** An ``-allow`` rule is argv-shaped: shell-style words (quotes
   group, backslashes are kept for the regular expressions), one regular expression per
   argument, each matching its argument in full (``re.fullmatch``), the first one the program.
   ``-allow 'hey -z \\d+[smh] -q \\d+ -c \\d+ http://[a-z0-9.-]+(:\\d+)?/\\S*'`` admits
   ``hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/`` and nothing with another number
   of arguments.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Sequence

__all__ = [
    "DANGEROUS",
    "Refused",
    "Rule",
    "compile_rule",
    "dangerous_argument",
    "split",
]


class Refused(ValueError):
    """A command line strict mode does not run; the message says why."""


#: Characters refused anywhere in a command line, with what a shell would make of them.
_ALWAYS = {
    "$": "variable expansion or command substitution",
    "`": "command substitution",
    ";": "command separator",
    "|": "pipe",
    "<": "redirection",
    ">": "redirection",
    "\\": "backslash escape",
}
#: Characters refused outside quotes.
_UNQUOTED = {
    "&": "background job or && list",
    "(": "subshell",
    ")": "subshell",
    "*": "glob",
    "?": "glob",
    "[": "glob",
    "]": "glob",
    "{": "brace expansion",
    "}": "brace expansion",
    "~": "home directory expansion",
    "!": "history expansion",
    "#": "comment",
}
_QUOTES = "'\""
_BLANKS = " \t"


def _control(char: str) -> bool:
    return ord(char) < 32 or ord(char) == 127


def split(command: str) -> list[str]:
    """The argument vector of ``command``; :class:`Refused` for shell syntax (see above)."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    quote = ""
    for char in command:
        if char in _ALWAYS:
            raise Refused(f"{_ALWAYS[char]} ({char!r}) is not allowed")
        if _control(char) and not (char == "\t" and not quote):
            raise Refused(f"control character {char!r} is not allowed")
        if quote:
            if char == quote:
                quote = ""
            else:
                word.append(char)
            continue
        if char in _BLANKS:
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            continue
        in_word = True
        if char in _QUOTES:
            quote = char
        elif char in _UNQUOTED:
            raise Refused(f"unquoted {_UNQUOTED[char]} ({char!r}) is not allowed")
        else:
            word.append(char)
    if quote:
        raise Refused(f"unterminated {quote} quote")
    if in_word:
        words.append("".join(word))
    if not words:
        raise Refused("empty command")
    return words


#: Options refused per program (by the program's base name): long names (an unambiguous
#: abbreviation or ``--name=value`` counts too), and short letters (also inside a bundle).
DANGEROUS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "curl": (
        frozenset(
            {
                "output",
                "output-dir",
                "remote-name",
                "remote-name-all",
                "remote-header-name",
                "config",
                "upload-file",
                "dump-header",
                "cookie-jar",
                "cookie",
                "trace",
                "trace-ascii",
                "trace-config",
                "libcurl",
                "stderr",
                "etag-save",
                "etag-compare",
                "hsts",
                "alt-svc",
                "netrc",
                "netrc-file",
                "netrc-optional",
                "create-dirs",
                "form",
                "form-string",
                "unix-socket",
                "abstract-unix-socket",
                "next",
                "variable",
                "engine",
                "proxy-header",
            }
        ),
        frozenset("oOKTDcbFJn:"),
    ),
    "hey": (frozenset({"D", "o"}), frozenset({"D", "o"})),
    "kubectl": (
        frozenset(
            {
                "kubeconfig",
                "token",
                "as",
                "as-group",
                "as-uid",
                "server",
                "certificate-authority",
                "client-certificate",
                "client-key",
                "insecure-skip-tls-verify",
                "username",
                "password",
                "cache-dir",
            }
        ),
        frozenset("s"),
    ),
    "helm": (
        frozenset(
            {
                "kubeconfig",
                "kube-token",
                "kube-as-user",
                "kube-as-group",
                "kube-apiserver",
                "kube-ca-file",
                "kube-insecure-skip-tls-verify",
                "registry-config",
                "repository-config",
                "repository-cache",
                "post-renderer",
                "post-renderer-args",
            }
        ),
        frozenset(),
    ),
}
DANGEROUS["helmv3"] = DANGEROUS["helm"]

#: Programs whose options are Go ``flag`` style (one or two dashes, never bundled).
_GO_FLAGS = frozenset({"hey"})
#: Programs that accept unambiguous abbreviations of long options.
_ABBREVIATES = frozenset({"curl"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def _long_refused(name: str, refused: frozenset[str], abbreviates: bool) -> bool:
    if name in refused:
        return True
    return abbreviates and len(name) >= 2 and any(r.startswith(name) for r in refused)


def dangerous_argument(argv: Sequence[str]) -> str | None:
    """Why ``argv`` is refused whatever the rules say, or None."""
    program = argv[0].rsplit("/", 1)[-1]
    long_names, letters = DANGEROUS.get(program, (frozenset(), frozenset()))
    for arg in argv[1:]:
        if arg == "--":
            return 'argument "--" is not allowed (it ends option parsing)'
        scheme = _SCHEME.match(arg)
        if scheme and scheme.group(1).lower() not in ("http", "https"):
            return f"argument {arg!r}: only http:// and https:// URLs are allowed"
        if program == "curl" and not scheme and (arg.startswith("@") or "=@" in arg or "=<" in arg):
            return f"argument {arg!r}: curl would read a local file"
        if not arg.startswith("-") or arg == "-":
            continue
        if program in _GO_FLAGS:
            name = arg.lstrip("-").split("=", 1)[0]
            if name in long_names:
                return f"option {arg!r} of {program} is not allowed"
            continue
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
            if _long_refused(name, long_names, program in _ABBREVIATES):
                return f"option {arg!r} of {program} is not allowed"
            continue
        bundle = arg[1:]
        found = next((c for c in bundle if c in letters), None)
        if found is not None:
            return f"option {arg!r} of {program} is not allowed (-{found})"
    return None


@dataclasses.dataclass(frozen=True)
class Rule:
    """One argv-shaped ``-allow`` rule: a regular expression per argument."""

    source: str
    words: tuple[re.Pattern[str], ...]

    def matches(self, argv: Sequence[str]) -> bool:
        """Whether ``argv`` has as many arguments as the rule and each matches in full."""
        return len(argv) == len(self.words) and all(
            pattern.fullmatch(arg) is not None
            for pattern, arg in zip(self.words, argv, strict=True)
        )


def compile_rule(text: str) -> Rule:
    """Compile an ``-allow`` rule; :class:`ValueError` names what is wrong with it."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""  # keep backslashes: they belong to the regular expressions
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError as exc:
        raise ValueError(f"-allow {text!r}: {exc}") from None
    if not words:
        raise ValueError(f"-allow {text!r}: empty rule")
    compiled = []
    for word in words:
        try:
            compiled.append(re.compile(word))
        except re.error as exc:
            raise ValueError(
                f"-allow {text!r}: invalid regular expression {word!r}: {exc}"
            ) from None
    return Rule(text, tuple(compiled))
