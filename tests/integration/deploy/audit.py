"""Reading the API server's audit log: which (verb, group, resource) a user asked for.

An event's ``objectRef`` names the group and resource (``subresource`` appended as
``canaries/status``, as RBAC spells it); requests to non-resource URLs (discovery: ``/api``,
``/apis``, ``/version``) have none and are listed apart, since every authenticated user may make
them (``system:discovery``).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any

Grant = tuple[str, str, str]


def _grant(event: Mapping[str, Any]) -> Grant | None:
    ref = event.get("objectRef") or {}
    if not ref.get("resource"):
        return None
    resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    return str(event["verb"]), str(ref.get("apiGroup") or ""), resource


def by_user(events: Iterable[Mapping[str, Any]], username: str) -> list[Mapping[str, Any]]:
    return [e for e in events if (e.get("user") or {}).get("username") == username]


def used(events: Iterable[Mapping[str, Any]]) -> collections.Counter[Grant]:
    """How often each (verb, group, resource) was asked for, allowed or not."""
    return collections.Counter(g for g in map(_grant, events) if g is not None)


def denied(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """``verb group/resource uri`` of every request answered 403."""
    return [
        f"{e['verb']} {e.get('requestURI')}"
        for e in events
        if (e.get("responseStatus") or {}).get("code") == 403
    ]


def non_resource(events: Iterable[Mapping[str, Any]]) -> set[str]:
    return {f"{e['verb']} {e.get('requestURI')}" for e in events if _grant(e) is None}


def mutating(events: Iterable[Mapping[str, Any]]) -> collections.Counter[Grant]:
    """The writes among ``used``."""
    return collections.Counter(
        {
            g: n
            for g, n in used(events).items()
            if g[0] in ("create", "update", "patch", "delete", "deletecollection")
        }
    )


def table(counts: Mapping[Grant, int], granted: set[Grant]) -> str:
    """A printable table: every granted or used permission, its count and verdict."""
    rows = []
    for verb, group, resource in sorted(set(counts) | granted, key=lambda g: (g[1], g[2], g[0])):
        key = (verb, group, resource)
        verdict = (
            "ok"
            if key in granted and counts.get(key)
            else "UNUSED"
            if key in granted
            else "NOT GRANTED"
        )
        rows.append(
            f"{group or 'core':<28} {resource:<26} {verb:<7} {counts.get(key, 0):>5}  {verdict}"
        )
    header = f"{'group':<28} {'resource':<26} {'verb':<7} {'count':>5}  verdict"
    return "\n".join([header, *rows])
