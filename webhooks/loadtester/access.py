"""Who may ask the loadtester for what.

Flagger's loadtester runs any shell command anyone on the network posts. Three checks narrow it:

- ``-namespace-regexp`` (Flagger's): a payload whose namespace does not match gets 403
  ``Forbidden``. Matching is a search, as Go's ``Regexp.MatchString``: ``^test$`` to pin it.
- ``-token`` / ``LOADTESTER_TOKEN`` (beyond Flagger): every endpoint except ``/healthz`` wants
  ``Authorization: Bearer <token>`` or a ``token`` query parameter, else 401. Flagger's webhook
  calls send no headers, so a Canary puts the token in its webhook URL
  (``url: http://flagger-loadtester.test/?token=...``); people and CI jobs can use the header.
- ``-allow`` (beyond Flagger, repeatable): regular expressions a task's command line must match
  in full (``hey -z \\S+ -q \\d+ -c \\d+ http://[a-z.-]+:\\d+/``), else 403 naming the command.
  The command line is what the loadtester would run: ``metadata.cmd`` for ``cmd`` and ``bash``,
  ``kubectl <cmd>`` / ``helm <cmd>`` / ``helmv3 <cmd>`` for the tool tasks. None given: anything,
  as in Flagger.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
from collections.abc import Sequence

__all__ = ["Access", "compile_patterns"]


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
    allow: tuple[re.Pattern[str], ...] = ()

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
        return self.namespace_regexp is None or self.namespace_regexp.search(namespace) is not None

    def command_allowed(self, command: str) -> bool:
        """Whether the allow-list (if any) has a pattern matching ``command`` in full."""
        return not self.allow or any(p.fullmatch(command) for p in self.allow)

    def refusal(self, command: str) -> str:
        """The 403 message for a command the allow-list refuses."""
        return (
            f'command "{command}" is not allowed by this loadtester: it matches none of the '
            f"-allow patterns ({', '.join(p.pattern for p in self.allow)})"
        )
