"""Reading Canaries and their Events as the user: one LIST each, 403s turned into sentences."""

from __future__ import annotations

from typing import Any

from flagger.api import common
from flagger.kube import client as kube_client
from flagger.kube import errors
from flagger.ops import connection, views

__all__ = ["canaries", "canary", "events"]


async def canaries(kube: kube_client.Kube, namespace: str | None) -> list[dict[str, Any]]:
    """Every Canary in ``namespace`` (every namespace when None), sorted by namespace, name."""
    try:
        found = await kube.list(common.API_VERSION, "Canary", namespace)
    except errors.Forbidden as exc:
        raise connection.CommandError(
            connection.forbidden_message("list", namespace or "(all namespaces)")
        ) from exc
    except errors.UnknownKind as exc:
        raise connection.CommandError(
            "the cluster does not serve canaries.flagger.app: install the CRDs (flagger crds)"
        ) from exc
    return sorted(found, key=lambda c: (c["metadata"].get("namespace"), c["metadata"]["name"]))


async def canary(kube: kube_client.Kube, name: str, namespace: str) -> dict[str, Any]:
    """One Canary; :class:`connection.CommandError` when it is missing or not readable."""
    try:
        found = await kube.get(common.API_VERSION, "Canary", name, namespace)
    except errors.Forbidden as exc:
        raise connection.CommandError(connection.forbidden_message("get", namespace)) from exc
    except errors.UnknownKind as exc:
        raise connection.CommandError(
            "the cluster does not serve canaries.flagger.app: install the CRDs (flagger crds)"
        ) from exc
    if found is None:
        raise connection.CommandError(f'canary "{name}" not found in namespace {namespace}')
    return found


async def events(
    kube: kube_client.Kube, namespace: str | None, name: str | None = None
) -> dict[tuple[str, str], list[views.EventLine]]:
    """The Canaries' Events (of one Canary when ``name`` is given); empty when not readable."""
    selector = "involvedObject.kind=Canary"
    if name:
        selector += f",involvedObject.name={name}"
    try:
        items, _ = await kube.list_snapshot("v1", "Event", namespace, field_selector=selector)
    except errors.ApiError:
        return {}  # events are a nicety: a user who may not list them still sees the rest
    return views.events_of(items)
