"""The JSON documents Flagger POSTs to webhooks, byte for byte.

Every hook type receives the same document (Flagger's ``CanaryWebhookPayload``)::

    {"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"6c8f8b5b",
     "metadata":{"cmd":"hey -z 1m http://podinfo-canary.test:9898/"}}

- There is **no** ``type`` field: a receiver cannot tell a pre-rollout call from a rollout call
  except by the URL or the metadata the user put on the hook.
- ``metadata`` is the hook's ``metadata`` map and is left out entirely when it is empty (Go's
  ``omitempty``); keys are sorted, as Go marshals maps.
- ``phase`` is the phase the caller passes (post-rollout hooks get ``Succeeded`` or ``Failed``);
  a canary Flagger has not initialised yet sends ``""``.
- Event hooks get the canary's current phase and three extra metadata keys: ``eventMessage``,
  ``eventType`` (``Normal`` or ``Warning``) and ``timestamp`` (Unix milliseconds, as a string).
  The hook's own metadata is merged in without overriding those three.

**The checksum.** Flagger hashes the pair (``status.trackedConfigs``, ``status.lastAppliedSpec``)
so that a receiver can tell one rollout (a pod template plus the ConfigMaps and Secrets it
tracks) from another: it changes exactly when the revision under analysis changes, and stays the
same across the ticks and hooks of one analysis. Flagger computes it with its ``ComputeHash``
(FNV-32a over a Go debug print of the struct, encoded with Kubernetes' ``SafeEncodeString``).
We keep that meaning and encoding but hash a canonical JSON document instead of a Go debug
print: FNV-32a over ``{"lastAppliedSpec":"<hash>","trackedConfigs":{<sorted>}}`` (``null`` for
absent tracked configs), then the decimal value encoded with the same alphabet. The value is
stable across restarts and Python versions; it is not equal to the string Go Flagger would send
for the same status, which no receiver can rely on anyway since it only compares checksums.

Bodies are encoded as Go's ``encoding/json`` does: compact, with ``<``, ``>``, ``&``, U+2028 and
U+2029 escaped as ``\\u003c``-style sequences.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, TypedDict

from flagger.api import canary as canary_api

__all__ = [
    "EVENT_MESSAGE_KEY",
    "EVENT_TIMESTAMP_KEY",
    "EVENT_TYPE_KEY",
    "Payload",
    "checksum",
    "encode",
    "event_payload",
    "payload",
]

EVENT_MESSAGE_KEY = "eventMessage"
EVENT_TYPE_KEY = "eventType"
EVENT_TIMESTAMP_KEY = "timestamp"

#: Kubernetes' ``rand.SafeEncodeString`` alphabet (no vowels, no confusable characters).
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
_GO_HTML_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


class _PayloadBase(TypedDict):
    name: str
    namespace: str
    phase: str
    checksum: str


class Payload(_PayloadBase, total=False):
    """The webhook document; ``metadata`` is absent when the hook has none."""

    metadata: dict[str, str]


def fnv32a(data: bytes) -> int:
    """The 32-bit FNV-1a hash of ``data`` (Go's ``hash/fnv.New32a``)."""
    value = _FNV32_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Kubernetes' ``rand.SafeEncodeString``: each byte mapped onto a vowel-free alphabet."""
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in text.encode())


def checksum(canary: canary_api.Canary) -> str:
    """A short hash identifying the revision under analysis (see the module docstring)."""
    status = canary.status
    tracked = status.tracked_configs if status is not None else None
    applied = (status.last_applied_spec if status is not None else None) or ""
    document = {
        "lastAppliedSpec": applied,
        "trackedConfigs": dict(sorted(tracked.items())) if tracked is not None else None,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return safe_encode(str(fnv32a(canonical.encode())))


def phase_of(canary: canary_api.Canary) -> str:
    """The canary's current phase as sent on the wire (``""`` before initialisation)."""
    return str(canary.status.effective_phase) if canary.status is not None else ""


def payload(
    canary: canary_api.Canary, phase: str, metadata: Mapping[str, str] | None = None
) -> Payload:
    """The document sent to a hook called in ``phase`` with the hook's ``metadata``."""
    body = Payload(
        name=canary.name,
        namespace=canary.namespace,
        phase=str(phase),
        checksum=checksum(canary),
    )
    if metadata:
        body["metadata"] = dict(sorted(metadata.items()))
    return body


def event_payload(
    canary: canary_api.Canary,
    message: str,
    event_type: str,
    metadata: Mapping[str, str] | None = None,
    *,
    now: float | None = None,
) -> Payload:
    """The document sent to an event hook: the canary's phase plus the event in ``metadata``.

    ``now`` (Unix seconds) defaults to the current time; the hook's ``metadata`` never overrides
    the event keys.
    """
    stamp = time.time() if now is None else now
    merged = {
        EVENT_MESSAGE_KEY: message,
        EVENT_TYPE_KEY: event_type,
        EVENT_TIMESTAMP_KEY: str(int(stamp * 1000)),
    }
    for key, value in (metadata or {}).items():
        merged.setdefault(key, value)
    return payload(canary, phase_of(canary), merged)


def encode(document: Mapping[str, Any]) -> bytes:
    """Serialise as Go's ``json.Marshal`` does (compact, HTML-safe escapes, key order kept)."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in _GO_HTML_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text.encode()
