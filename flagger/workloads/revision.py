"""Revision detection: a stable hash of the target's pod template.

Flagger hashes `spec.template` with FNV-32a over a deterministic deep print of the Go struct
and encodes the decimal digest with Kubernetes' `rand.SafeEncodeString` (no vowels, no
look-alike digits), giving short values such as `5d7f8c9b6`. We cannot reproduce Go's struct
printer, so ours is:

    fnv32a( json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=False) )

then the same safe encoding of the decimal value. The JSON of the stored object is canonical
(keys sorted, no whitespace), so the hash depends only on the template's content: it is the same
across processes, restarts and Python versions, and changes whenever any field of the template
does (image, env, annotations such as `kubectl rollout restart`'s `restartedAt`). A hash written
by Go Flagger will differ from ours once; on upgrade that reads as one new revision.

`has_changed` applies Flagger's rule: changed when `lastAppliedSpec` is empty, or the hash
differs from both `lastAppliedSpec` and `lastPromotedSpec` (going back to the promoted spec is
a manual rollback and starts no analysis).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["fnv32a", "has_changed", "safe_encode", "template_hash"]

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
# k8s.io/apimachinery/pkg/util/rand: consonants and digits that do not form words
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    """The 32-bit FNV-1a hash of `data`."""
    value = _FNV32_OFFSET
    for byte in data:
        value ^= byte
        value = (value * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Kubernetes' `rand.SafeEncodeString`: each character mapped into the safe alphabet."""
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in text)


def template_hash(template: Mapping[str, Any] | None) -> str:
    """The revision of a pod template (`spec.template` of a Deployment or DaemonSet)."""
    canonical = json.dumps(
        template or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return safe_encode(str(fnv32a(canonical.encode("utf-8"))))


def has_changed(current_hash: str, last_applied: str | None, last_promoted: str | None) -> bool:
    """Flagger's rule for "a new revision to analyse"."""
    if not last_applied:
        return True
    if current_hash == last_promoted:
        return False
    return current_hash != last_applied
