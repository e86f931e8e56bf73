"""A small interpreter for the part of Go's ``text/template`` that query templates use.

Flagger renders queries with Go's ``text/template``, ``missingkey=error``, no data (``.`` is
nil) and a set of zero-argument functions. Templates written for Flagger use:

- function calls, optionally followed by a key chain: ``{{ namespace }}``,
  ``{{ variables.direction }}``;
- string and integer literals and the builtins ``printf``, ``print``, ``println``, ``index``,
  ``len`` and ``urlquery``, in commands and pipelines:
  ``{{ printf "kube_%s__%s" namespace ingress }}``, ``{{ target | printf "%s-.*" }}``;
- trim markers ``{{-`` / ``-}}`` and comments ``{{/* ... */}}``.

Those are rendered with Go's semantics. Control structures (``if``, ``range``...), variables
(``$x``), parentheses and the remaining builtins are refused with a :class:`TemplateSyntaxError`
naming the action, rather than rendered differently from Go. Messages follow Go's
(``template: tmpl:1: function "foo" not defined``) and add what is available.

Exceptions::

    TemplateError (ValueError)
     ├── TemplateSyntaxError   the text cannot be parsed (Go's ``Parse`` error)
     └── MissingKeyError       a key chain names a key that is not there

Everything here is pure.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias

__all__ = ["MissingKeyError", "TemplateError", "TemplateSyntaxError", "Value", "render"]

#: What a template value can be: a string, an integer or a string map.
Value: TypeAlias = str | int | Mapping[str, str]
Functions: TypeAlias = Mapping[str, Callable[[], Value]]

TEMPLATE_NAME = "tmpl"  # Flagger's template name; it appears in Go's messages
BUILTINS = ("printf", "print", "println", "index", "len", "urlquery")
_UNSUPPORTED_BUILTINS = frozenset(
    {"and", "call", "html", "slice", "js", "not", "or", "eq", "ge", "gt", "le", "lt", "ne"}
)
_KEYWORDS = frozenset(
    {
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "nil",
        "true",
        "false",
    }
)
_SPACE = " \t\r\n"
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_CHAIN = re.compile(rf"(?P<ident>{_IDENT})?(?P<fields>(?:\.{_IDENT})*)")
_NUMBER = re.compile(r"-?[0-9]+")
_VERB = re.compile(r"%(?P<flags>[-+# 0]*)(?P<width>[0-9]*)(?P<verb>.?)", re.S)


class TemplateError(ValueError):
    """A template could not be rendered; the message says where and why."""


class TemplateSyntaxError(TemplateError):
    """The template text is not valid, or uses a construct not supported here."""


class MissingKeyError(TemplateError):
    """A key chain reads a key that does not exist (``missingkey=error``).

    ``key`` is the missing key and ``available`` the keys that exist at that point.
    """

    def __init__(self, message: str, key: str, available: tuple[str, ...]) -> None:
        super().__init__(message)
        self.key = key
        self.available = available


# --- the parse tree -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Operand:
    """A function call or ``.Field`` access (``name``/``fields``) or a literal (``literal``)."""

    name: str = ""
    fields: tuple[str, ...] = ()
    literal: str | int | None = None

    @property
    def is_function(self) -> bool:
        return bool(self.name) and self.literal is None


@dataclasses.dataclass(frozen=True)
class _Action:
    pipeline: tuple[tuple[_Operand, ...], ...]  # commands joined by ``|``
    source: str  # the action as written, for messages
    line: int
    column: int


@dataclasses.dataclass(frozen=True)
class _Where:
    template: str
    offset: int

    def parse_error(self, detail: str) -> TemplateSyntaxError:
        line = self.template.count("\n", 0, self.offset) + 1
        return TemplateSyntaxError(
            f"template parsing failed: template: {TEMPLATE_NAME}:{line}: {detail}"
        )


# --- parsing --------------------------------------------------------------------------------


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _parse(template: str, functions: Sequence[str]) -> list[str | _Action]:
    """Split a template into text and actions, raising on the first syntax error (Go parses
    the whole template before executing any of it)."""
    nodes: list[str | _Action] = []
    pos = 0
    trim_next = False
    while True:
        start = template.find("{{", pos)
        text = template[pos:] if start < 0 else template[pos:start]
        if trim_next:
            text = text.lstrip(_SPACE)
        if start < 0:
            if text:
                nodes.append(text)
            return nodes
        where = _Where(template, start)
        inner = start + 2
        if template.startswith("-", inner) and template[inner + 1 : inner + 2] in tuple(_SPACE):
            text = text.rstrip(_SPACE)
            inner += 2
        if text:
            nodes.append(text)
        body_start = _skip_space(template, inner)
        if template.startswith("/*", body_start):
            pos, trim_next = _skip_comment(template, body_start, where)
            continue
        end = _action_end(template, body_start, where)
        body = template[inner:end]
        trim_next = body.endswith("-") and body[-2:-1] in tuple(_SPACE)
        if trim_next:
            body = body[:-1]
        nodes.append(_parse_action(body.strip(_SPACE), functions, _Where(template, body_start)))
        pos = end + 2


def _skip_comment(template: str, body_start: int, where: _Where) -> tuple[int, bool]:
    """The position after a ``{{/* */}}`` comment and whether it trims what follows."""
    close = template.find("*/", body_start + 2)
    if close < 0:
        raise where.parse_error("unclosed comment")
    end = template.find("}}", close + 2)
    between = template[close + 2 : end].strip(_SPACE) if end >= 0 else "?"
    if between not in ("", "-"):
        raise where.parse_error("comment ends before closing delimiter")
    return end + 2, between == "-"


def _action_end(template: str, pos: int, where: _Where) -> int:
    """The offset of the ``}}`` closing an action, skipping quoted strings."""
    while pos < len(template):
        char = template[pos]
        if template.startswith("}}", pos):
            return pos
        if char in '"`':
            close = _string_end(template, pos)
            if close < 0:
                kind = "raw quoted" if char == "`" else "quoted"
                raise where.parse_error(f"unterminated {kind} string")
            pos = close
        pos += 1
    raise where.parse_error("unclosed action")


def _string_end(text: str, pos: int) -> int:
    """The offset of the quote closing the string opened at ``pos``, or -1."""
    quote = text[pos]
    pos += 1
    while pos < len(text):
        if text[pos] == "\\" and quote == '"':
            pos += 2
            continue
        if text[pos] == quote:
            return pos
        if text[pos] == "\n" and quote == '"':
            return -1
        pos += 1
    return -1


def _tokens(body: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(body):
        char = body[pos]
        if char in _SPACE:
            pos += 1
        elif char == "|":
            tokens.append("|")
            pos += 1
        elif char in '"`':
            close = _string_end(body, pos)
            tokens.append(body[pos : close + 1])
            pos = close + 1
        else:
            start = pos
            while pos < len(body) and body[pos] not in _SPACE + '|"`':
                pos += 1
            tokens.append(body[start:pos])
    return tokens


def _parse_action(body: str, functions: Sequence[str], where: _Where) -> _Action:
    line = where.template.count("\n", 0, where.offset) + 1
    column = where.offset - (where.template.rfind("\n", 0, where.offset) + 1)

    def unsupported() -> TemplateSyntaxError:
        return where.parse_error(
            f"unsupported action {{{{ {body} }}}}: query templates call the functions "
            f"{', '.join(functions)} (with keys, e.g. variables.KEY) and the builtins "
            f"{', '.join(BUILTINS)}; control structures and variables are not supported"
        )

    commands: list[tuple[_Operand, ...]] = []
    command: list[_Operand] = []
    for token in [*_tokens(body), "|"]:
        if token == "|":
            if not command:
                raise where.parse_error("missing value for command")
            commands.append(tuple(command))
            command = []
            continue
        operand = _operand(token, unsupported)
        if operand.name and not operand.literal and operand.name in _KEYWORDS:
            raise unsupported()
        if operand.is_function and operand.name not in functions:
            if operand.name in BUILTINS and not operand.fields:
                pass
            elif operand.name in _UNSUPPORTED_BUILTINS:
                raise unsupported()
            else:
                raise where.parse_error(
                    f'function "{operand.name}" not defined (available: {", ".join(functions)})'
                )
        command.append(operand)
    return _Action(tuple(commands), body, line, column)


def _operand(token: str, unsupported: Callable[[], TemplateSyntaxError]) -> _Operand:
    if token.startswith("`"):
        return _Operand(literal=token[1:-1])
    if token.startswith('"'):
        try:
            value = json.loads(token)
        except ValueError:
            raise unsupported() from None
        return _Operand(literal=str(value))
    if _NUMBER.fullmatch(token):
        return _Operand(literal=int(token))
    chain = _CHAIN.fullmatch(token)
    if chain is None or not token:
        raise unsupported()
    fields = tuple(f for f in chain.group("fields").split(".") if f)
    return _Operand(name=chain.group("ident") or "", fields=fields)


# --- execution ------------------------------------------------------------------------------


def render(
    template: str, functions: Functions, empty_hints: Mapping[str, str] | None = None
) -> str:
    """Render ``template`` with zero-argument ``functions`` (and Go's builtins listed above).

    ``empty_hints`` maps a function returning a map to the hint a :class:`MissingKeyError`
    gives when that map is empty (default: "no keys are set").
    """
    executor = _Executor(functions, empty_hints or {})
    out: list[str] = []
    for node in _parse(template, tuple(functions)):
        out.append(node if isinstance(node, str) else _show(executor.run(node)))
    return "".join(out)


@dataclasses.dataclass(frozen=True)
class _Executor:
    functions: Functions
    empty_hints: Mapping[str, str]

    def run(self, action: _Action) -> Value:
        """The value of an action's pipeline: each command's result is the last argument of
        the next command."""
        piped: Value | None = None
        for head, *rest in action.pipeline:
            args = [self.evaluate(operand, action) for operand in rest]
            if piped is not None:
                args.append(piped)
            if head.is_function and not head.fields:
                piped = self.call(head.name, args, action)
            elif args:
                raise _exec_error(action, f"can't give argument to non-function {_name(head)}")
            else:
                piped = self.evaluate(head, action)
        assert piped is not None, "the parser never yields an empty pipeline"
        return piped

    def evaluate(self, operand: _Operand, action: _Action) -> Value:
        """A literal, a function's result, or a key chain on it."""
        if operand.literal is not None:
            return operand.literal
        if not operand.name:
            key = operand.fields[0]
            raise MissingKeyError(
                f"template execution failed: {_where(action)}: nil data; no entry for key "
                f'"{key}" (query templates have no data: call a function instead, e.g. '
                f"{{{{ {key.lower()} }}}}; available: {', '.join(self.functions)})",
                key,
                (),
            )
        value = self.call(operand.name, [], action)
        for field in operand.fields:
            if not isinstance(value, Mapping):
                raise _exec_error(
                    action, f"can't evaluate field {field} in type {_type_name(value)}"
                )
            if field not in value:
                available = tuple(sorted(value))
                hint = (
                    f"available keys: {', '.join(available)}"
                    if available
                    else self.empty_hints.get(operand.name, "no keys are set")
                )
                raise MissingKeyError(
                    f"template execution failed: {_where(action)}: map has no entry for key "
                    f'"{field}" ({hint})',
                    field,
                    available,
                )
            value = value[field]
        return value

    def call(self, name: str, args: list[Value], action: _Action) -> Value:
        """Call one of the template's functions or a supported builtin."""
        if name in self.functions:
            if args:
                raise _exec_error(
                    action, f"wrong number of args for {name}: want 0 got {len(args)}"
                )
            return self.functions[name]()
        return _builtin(name, args, action)


def _builtin(name: str, args: list[Value], action: _Action) -> Value:
    if name == "printf":
        if not args:
            raise _exec_error(action, "wrong number of args for printf: want at least 1 got 0")
        if not isinstance(args[0], str):
            raise _exec_error(action, "printf format must be a string")
        return _sprintf(args[0], args[1:])
    if name == "print":
        return _sprint(args)
    if name == "println":
        return " ".join(_show(a) for a in args) + "\n"
    if name == "urlquery":
        return urllib.parse.quote_plus(_sprint(args))
    if name == "len":
        if len(args) != 1:
            raise _exec_error(action, f"wrong number of args for len: want 1 got {len(args)}")
        if isinstance(args[0], int):
            raise _exec_error(action, "error calling len: len of type int")
        return len(args[0])
    # index: a missing map key gives the zero value, as Go's index does
    if not args:
        raise _exec_error(action, "wrong number of args for index: want at least 1 got 0")
    value = args[0]
    for key in args[1:]:
        if not isinstance(value, Mapping):
            raise _exec_error(
                action, f"error calling index: can't index item of type {_type_name(value)}"
            )
        value = value.get(str(key), "")
    return value


def _sprintf(fmt: str, args: Sequence[Value]) -> str:
    """Go's ``fmt.Sprintf`` for the verbs ``%s %v %d %q %%`` with flags and width."""
    out: list[str] = []
    pos = used = 0
    for match in _VERB.finditer(fmt):
        out.append(fmt[pos : match.start()])
        pos = match.end()
        verb, flags, width = match.group("verb"), match.group("flags"), match.group("width")
        if verb == "%":
            out.append("%")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[used]
        used += 1
        out.append(_format_one(verb, flags, width, arg))
    out.append(fmt[pos:])
    if used < len(args):
        extra = ", ".join(f"{_type_name(a)}={_show(a)}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_one(verb: str, flags: str, width: str, arg: Value) -> str:
    spec = f"%{flags}{width}"
    if verb in ("s", "v") and (verb == "v" or isinstance(arg, str)):
        return (spec + "s") % _show(arg)
    if verb == "d" and isinstance(arg, int):
        return (spec + "d") % arg
    if verb == "q" and isinstance(arg, str):
        return (spec + "s") % json.dumps(arg, ensure_ascii=False)
    return f"%!{verb}({_type_name(arg)}={_show(arg)})"


def _sprint(args: Sequence[Value]) -> str:
    """Go's ``fmt.Sprint``: a space between two operands when neither is a string."""
    out = ""
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _show(arg)
    return out


def _show(value: Value) -> str:
    """A value as Go prints it (``map[k1:v1 k2:v2]`` for a map)."""
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{value[k]}" for k in sorted(value)) + "]"
    return str(value)


def _type_name(value: Value) -> str:
    if isinstance(value, Mapping):
        return "map[string]string"
    return "int" if isinstance(value, int) else "string"


def _name(operand: _Operand) -> str:
    if operand.literal is not None:
        return json.dumps(operand.literal)
    return operand.name + "".join(f".{f}" for f in operand.fields)


def _where(action: _Action) -> str:
    return (
        f"template: {TEMPLATE_NAME}:{action.line}:{action.column}: "
        f'executing "{TEMPLATE_NAME}" at <{action.source}>'
    )


def _exec_error(action: _Action, detail: str) -> TemplateError:
    return TemplateError(f"template execution failed: {_where(action)}: {detail}")
