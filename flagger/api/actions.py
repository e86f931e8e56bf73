"""Actions asked by hand: how a person's promote/abort/retry/pause/resume reaches the daemon.

A request is one annotation on the Canary, ``flagger.app/action``, whose value is a small JSON
object::

    flagger.app/action: '{"action":"promote","full":true,"id":"3f2a91c0...","requestedBy":"alice",
                          "requestedAt":"2026-12-03T10:42:00Z"}'

- It is metadata, not spec: it never bumps ``metadata.generation`` and is owned by the field
  manager that wrote it (``flagger-cli``), so a GitOps tool re-applying the Canary manifest
  (server-side apply with its own field manager, or ``kubectl apply``'s three-way merge) neither
  removes it nor sees drift to fight.
- ``id`` makes a request happen once: the daemon writes the id of the request it handled, with
  what it did, in ``status.lastAction`` in the same status write as the rollout's new state, so
  neither a re-apply nor a daemon restart repeats or loses it. A request with the id already in
  ``status.lastAction`` is done.
- ``requestedBy`` is who asked, as the API server told the requester (a SelfSubjectReview); the
  API server's audit log holds the authoritative record of the PATCH.

This module is the protocol's one home: the names, parsing, encoding, and the status record.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ANNOTATION",
    "FIELD_MANAGER",
    "Action",
    "ActionError",
    "ActionRequest",
    "InvalidRequest",
    "parse",
    "pending",
]

#: The annotation carrying the latest request.
ANNOTATION = "flagger.app/action"
#: The field manager of the requests written by ``flagger`` and the dashboard.
FIELD_MANAGER = "flagger-cli"


class Action(enum.StrEnum):
    """What a person can ask of a rollout."""

    PROMOTE = "promote"
    ABORT = "abort"
    RETRY = "retry"
    PAUSE = "pause"
    RESUME = "resume"


class ActionError(ValueError):
    """The annotation cannot be read; the message names the problem and the fix."""


@dataclasses.dataclass(frozen=True)
class ActionRequest:
    """One request read from (or written to) the ``flagger.app/action`` annotation."""

    action: Action
    id: str
    full: bool = False
    requested_by: str = ""
    requested_at: str = ""

    @property
    def short_id(self) -> str:
        """The first 8 characters of the id, for messages."""
        return self.id[:8]

    @property
    def label(self) -> str:
        """``promote``, ``promote --full``, ``abort``..."""
        return f"{self.action.value} --full" if self.full else self.action.value

    def encode(self) -> str:
        """The annotation's value."""
        body: dict[str, Any] = {"action": self.action.value, "id": self.id}
        if self.full:
            body["full"] = True
        if self.requested_by:
            body["requestedBy"] = self.requested_by
        if self.requested_at:
            body["requestedAt"] = self.requested_at
        return json.dumps(body, separators=(",", ":"))


def parse(value: str) -> ActionRequest:
    """Read an annotation value; :class:`ActionError` names what is wrong with it."""
    try:
        body = json.loads(value)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ActionError(
            f"{ANNOTATION} must be a JSON object such as "
            '\'{"action":"promote","id":"1"}\'; use `flagger promote NAME`'
        )
    name = body.get("action")
    try:
        action = Action(str(name))
    except ValueError:
        choices = ", ".join(a.value for a in Action)
        raise ActionError(f"{ANNOTATION}: action {name!r} is not one of {choices}") from None
    ident = body.get("id")
    if not isinstance(ident, str) or not ident:
        raise ActionError(f"{ANNOTATION}: id must be a non-empty string naming the request")
    full = body.get("full", False)
    if not isinstance(full, bool):
        raise ActionError(f"{ANNOTATION}: full must be true or false")
    return ActionRequest(
        action=action,
        id=ident,
        full=full,
        requested_by=str(body.get("requestedBy") or ""),
        requested_at=str(body.get("requestedAt") or ""),
    )


@dataclasses.dataclass(frozen=True)
class InvalidRequest:
    """An annotation that cannot be read: reported once (by its made-up ``id``), then ignored."""

    id: str
    message: str


def pending(
    annotations: Mapping[str, str] | None, handled_id: str | None
) -> ActionRequest | InvalidRequest | None:
    """The request waiting for the daemon, or None when there is none or it was handled."""
    value = (annotations or {}).get(ANNOTATION)
    if not value:
        return None
    try:
        request: ActionRequest | InvalidRequest = parse(value)
    except ActionError as exc:
        digest = hashlib.sha256(value.encode()).hexdigest()[:16]
        request = InvalidRequest(f"invalid-{digest}", str(exc))
    return None if request.id == handled_id else request
