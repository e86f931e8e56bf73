"""Writing a Canary's status: read, set, PUT the status subresource, retry on 409.

Flagger does the same (get, modify, UpdateStatus, retry on conflict): the daemon is not the
only writer of the object (users edit the spec), so a stale resourceVersion is normal. With the
daemon's `CachedKube` the read is the watch cache's copy (its resourceVersion, no request, no
copy); a 409 makes the next read go to the API server.
"""

from __future__ import annotations

from typing import Any

from flagger.kube import cache, errors
from flagger.kube import client as kube_client

API_VERSION = "flagger.app/v1beta1"
ATTEMPTS = 5


async def write(
    kube: kube_client.Kube, name: str, namespace: str, status: dict[str, Any]
) -> dict[str, Any] | None:
    """Replace the status of Canary ``namespace/name``; ``None`` when it no longer exists."""
    for attempt in range(ATTEMPTS):
        current = await cache.peek(kube, API_VERSION, "Canary", name, namespace)
        if current is None:
            return None
        if current.get("status") == status:
            return dict(current)
        try:
            return await kube.replace_status({**current, "status": status})
        except errors.Conflict:
            if attempt == ATTEMPTS - 1:
                raise
    return None
