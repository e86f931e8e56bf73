"""Who may ask the loadtester for what.

Flagger's loadtester runs any shell command anyone on the network posts. Four checks narrow it:

- **No token, no network** (beyond Flagger): without ``-token`` the loadtester listens on
  127.0.0.1 only, and refuses to start on another address unless ``-insecure-allow-anyone`` is
  given (:func:`listen_refusal`).
- ``-namespace-regexp`` (Flagger's): a payload whose namespace does not match gets 403
  ``Forbidden``. Matching is a search, as Go's ``Regexp.MatchString``: ``^test$`` to pin it. A
  namespace that is not a Kubernetes name (``"test\n"``, which Python's ``$`` would admit) is
  refused before the expression is tried.
- ``-token`` / ``LOADTESTER_TOKEN`` (beyond Flagger): every endpoint except ``/healthz`` wants
  ``Authorization: Bearer <token>`` or a ``token`` query parameter, else 401. Flagger's webhook
  calls send no headers, so a Canary puts the token in its webhook URL
  (``url: http://flagger-loadtester.test/?token=...``); people and CI jobs can use the header.
- ``-allow`` (beyond Flagger, repeatable): argv-shaped rules
  (:mod:`flagger.webhooks.loadtester.commands`). With at least one, the loadtester is in strict
  mode: ``cmd`` and tool tasks are split into argv, refused (403 naming the command and the
  reason) on shell syntax, dangerous arguments or when no rule matches, and executed without a
  shell; ``bash`` tasks are refused (they exist to run shell syntax). The argv of a tool task is
  ``kubectl <cmd>``, ``helm <cmd>`` or ``helmv3 <cmd>``. None given: anything, as in Flagger
  (``cmd`` runs ``sh -c``).
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import re
from collections.abc import Sequence

from . import commands

__all__ = ["Access", "compile_patterns", "compile_rules", "listen_refusal", "valid_namespace"]

#: A Kubernetes namespace name (an RFC 1123 label).
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def valid_namespace(namespace: str) -> bool:
    """Whether ``namespace`` is a Kubernetes namespace name (matched in full)."""
    return _NAMESPACE.fullmatch(namespace) is not None


def listen_refusal(host: str, token: str, insecure: bool) -> str | None:
    """Why the loadtester must not listen on ``host`` without a token, or None."""
    if token or insecure or not host:
        return None
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"refusing to listen on {host} without -token: anyone who reaches it could run "
        f"commands. Set -token (or LOADTESTER_TOKEN), listen on 127.0.0.1, or pass "
        f"-insecure-allow-anyone to accept that risk"
    )


def compile_rules(rules: Sequence[str]) -> tuple[commands.Rule, ...]:
    """Compile ``-allow`` rules; :class:`ValueError` names the bad one."""
    return tuple(commands.compile_rule(rule) for rule in rules)


def compile_patterns(patterns: Sequence[str], flag: str) -> tuple[re.Pattern[str], ...]:
    """Compile regular expressions given to ``flag``; :class:`ValueError` names the bad one."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"{flag}: invalid regular expression {pattern!r}: {exc}") from None
    return tuple(compiled)


@dataclasses.dataclass(frozen=True)
class Access:
    """The loadtester's access rules (all optional)."""

    token: str = ""
    namespace_regexp: re.Pattern[str] | None = None
    allow: tuple[commands.Rule, ...] = ()

    def token_ok(self, authorization: str | None, query_token: str | None = None) -> bool:
        """Whether the request carries the token, as an ``Authorization: Bearer`` header or a
        ``token`` query parameter (always true when no token is configured)."""
        if not self.token:
            return True
        if query_token is not None:
            return hmac.compare_digest(query_token.encode(), self.token.encode())
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    def namespace_ok(self, namespace: str) -> bool:
        """Whether ``-namespace-regexp`` lets a payload from ``namespace`` in."""
        if self.namespace_regexp is None:
            return True
        return valid_namespace(namespace) and self.namespace_regexp.search(namespace) is not None

    @property
    def strict(self) -> bool:
        """Whether an allow-list is set: commands are parsed and run without a shell."""
        return bool(self.allow)

    def argv(self, command: str, program: str = "") -> list[str]:
        """The argv strict mode runs for ``command`` (prefixed by ``program`` for tool tasks).

        Raises :class:`~flagger.webhooks.loadtester.commands.Refused` with the 403 message.
        """
        line = f"{program} {command}" if program else command
        try:
            argv = ([program] if program else []) + commands.split(command)
        except commands.Refused as exc:
            raise commands.Refused(self._refused(line, str(exc))) from None
        danger = commands.dangerous_argument(argv)
        if danger is not None:
            raise commands.Refused(self._refused(line, danger))
        if not any(rule.matches(argv) for rule in self.allow):
            rules = "; ".join(repr(rule.source) for rule in self.allow)
            raise commands.Refused(
                self._refused(line, f"it matches none of the -allow rules ({rules})")
            )
        return argv

    @staticmethod
    def _refused(line: str, why: str) -> str:
        return f'command "{line}" is not allowed by this loadtester: {why}'
