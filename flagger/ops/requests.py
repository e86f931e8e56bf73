"""Asking the daemon for an action: one PATCH of the ``flagger.app/action`` annotation.

The PATCH is a JSON merge patch of ``metadata.annotations`` only, sent with the field manager
``flagger-cli`` (the client of :func:`flagger.ops.connection.connect`): it touches no field a
GitOps source owns, and a Canary that does not exist is a 404 (a server-side apply would try to
create it). See :mod:`flagger.api.actions` for the protocol and ``docs/how-it-works.md`` for
what the daemon does with it.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

from flagger.api import actions, common
from flagger.kube import client as kube_client
from flagger.kube import errors
from flagger.ops import connection

__all__ = ["Sent", "send"]


@dataclasses.dataclass(frozen=True)
class Sent:
    """A request written to the Canary."""

    request: actions.ActionRequest
    resource_version: str


async def send(
    kube: kube_client.Kube,
    name: str,
    namespace: str,
    action: actions.Action,
    *,
    full: bool = False,
    user: str | None = None,
) -> Sent:
    """Write the request on Canary ``namespace/name`` (as the user ``kube`` is logged in as)."""
    if user is None:
        user = await connection.who_am_i(kube)
    request = actions.ActionRequest(
        action=action,
        id=uuid.uuid4().hex,
        full=full and action is actions.Action.PROMOTE,
        requested_by=user,
        requested_at=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    patch = {"metadata": {"annotations": {actions.ANNOTATION: request.encode()}}}
    try:
        patched = await kube.patch(
            common.API_VERSION,
            "Canary",
            name,
            namespace,
            patch,
        )
    except errors.Forbidden as exc:
        raise connection.CommandError(
            connection.forbidden_message("patch", namespace, user)
        ) from exc
    except errors.NotFound as exc:
        raise connection.CommandError(
            f'canary "{name}" not found in namespace {namespace}'
        ) from exc
    except errors.ApiError as exc:
        raise connection.CommandError(f"cannot {action.value} {name}.{namespace}: {exc}") from exc
    version = str((patched.get("metadata") or {}).get("resourceVersion") or "")
    return Sent(request, version)
