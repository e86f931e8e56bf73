"""Credentials out of everything the daemon prints: URLs with their secrets replaced.

People pass credentials in URLs: the loadtester's ``?token=``, presigned ``X-Amz-Signature``,
``access_token``, ``api_key``, ``user:password@``. :func:`redact_url` replaces the userinfo and
the value of every query (or fragment) parameter whose name looks like a credential with
``xxxxx`` (go-retryablehttp's mask), leaving the rest of the URL as written so that people still
see where a call went. :func:`redact` does the same to every URL inside a text, and to
``token=...``-style parameters that appear without a URL (``url='/p?token=x'``).

The sinks use it: the JSON log formatter (message, fields, stack traces), the Event recorder
(so Events, event webhooks and the logs of events), alert messages, and webhook failure texts.
"""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["MASK", "is_sensitive", "redact", "redact_url"]

MASK = "xxxxx"

#: Parameter names that are credentials, compared after lower-casing and ``-`` -> ``_``.
_EXACT = frozenset(
    {
        "key",
        "sig",
        "pass",
        "pwd",
        "passwd",
        "auth",
        "code",
        "session",
        "sessionid",
        "jwt",
        "bearer",
    }
)
#: Parts that make a name a credential wherever they appear in it.
_PARTS = ("token", "secret", "password", "signature", "apikey", "api_key", "credential")
_PREFIXES = ("x_amz_", "x_goog_")
_SUFFIXES = ("_key", "_sig", "_auth")

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`\\]+")
_PARAM = re.compile(r"(?P<lead>[?&#;])(?P<name>[A-Za-z0-9_.\-]+)=(?P<value>[^&#\s\"'<>`\\]*)")


def is_sensitive(name: str) -> bool:
    """Whether a query parameter called ``name`` holds a credential."""
    key = urllib.parse.unquote_plus(name).strip().lower().replace("-", "_")
    return (
        key in _EXACT
        or any(part in key for part in _PARTS)
        or key.startswith(_PREFIXES)
        or key.endswith(_SUFFIXES)
    )


def _params(text: str) -> str:
    def mask(found: re.Match[str]) -> str:
        if not found.group("value") or not is_sensitive(found.group("name")):
            return found.group(0)
        return f"{found.group('lead')}{found.group('name')}={MASK}"

    return _PARAM.sub(mask, text)


def redact_url(url: str) -> str:
    """``url`` with its userinfo and credential parameters replaced by ``xxxxx``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return _params(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    rest = url[len(f"{parts.scheme}://{parts.netloc}") :] if parts.netloc else url
    if parts.netloc and url.startswith(f"{parts.scheme}://{parts.netloc}"):
        return f"{parts.scheme}://{netloc}{_params(rest)}"
    return _params(url)


def redact(text: str) -> str:
    """``text`` with every URL in it redacted, and credential parameters outside URLs too."""
    if "=" not in text and "@" not in text:
        return text
    return _params(_URL.sub(lambda found: redact_url(found.group(0)), text))
