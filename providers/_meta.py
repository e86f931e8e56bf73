"""What every router shares: the names of the generated objects, who owns them, and the
metadata Flagger stamps on them.

A Canary ``podinfo`` (``spec.service.name`` unset, target ``podinfo``) routes through three
Services and the mesh objects named after them:

- ``podinfo`` (the *apex*, what clients call), ``podinfo-primary`` and ``podinfo-canary``;
- objects Flagger creates carry a controller owner reference to the Canary, so Kubernetes
  deletes them with it;
- annotations Flagger writes always carry the two Flux opt-outs below, so Flux does not fight
  Flagger over objects whose spec Flagger rewrites on every step;
- before Flagger rewrites an object it did not create, the object's spec is kept in the
  ``flagger.kubernetes.io/original-configuration`` annotation (unless kubectl's
  last-applied-configuration already holds it), so ``finalize`` can put it back.

Routers talk to the API server through :class:`KubeClient`, the subset of
``flagger.kube.client.Kube`` they need (raw JSON dicts in and out).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Protocol

from flagger.api import canary as canary_api
from flagger.api import common

__all__ = [
    "CONFIG_ANNOTATION",
    "KUBECTL_ANNOTATION",
    "KubeClient",
    "RouterError",
    "canary_id",
    "controller_owner",
    "filter_metadata",
    "owner_reference",
    "service_names",
]

#: Where kubectl keeps the last applied manifest (a JSON string of the whole object).
KUBECTL_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
#: Where Flagger keeps the spec of an object it took over (a JSON string of the spec).
CONFIG_ANNOTATION = "flagger.kubernetes.io/original-configuration"
#: Flux opt-outs Flagger adds to the annotations of the objects it manages.
TOOLKIT_ANNOTATIONS: Mapping[str, str] = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}

JSON = dict[str, Any]


class KubeClient(Protocol):
    """The part of ``flagger.kube.client.Kube`` routers use."""

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None: ...

    async def create(self, obj: JSON) -> JSON: ...

    async def replace(self, obj: JSON) -> JSON: ...


class RouterError(Exception):
    """A router could not read or write its objects; the message names the object and why."""


def canary_id(canary: canary_api.Canary) -> str:
    """``name.namespace``, as Flagger prints a canary in logs and events."""
    return f"{canary.name}.{canary.namespace}"


def service_names(canary: canary_api.Canary) -> tuple[str, str, str]:
    """The apex, primary and canary Service names (Flagger's ``GetServiceNames``)."""
    apex = canary.spec.effective_service_name
    return apex, f"{apex}-primary", f"{apex}-canary"


def owner_reference(canary: canary_api.Canary) -> JSON:
    """A controller owner reference to the Canary, so its objects are deleted with it."""
    return {
        "apiVersion": common.API_VERSION,
        "kind": canary_api.KIND,
        "name": canary.name,
        "uid": str(canary.metadata.get("uid") or ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_owner(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The owner reference marked ``controller: true`` on an object, if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


def filter_metadata(annotations: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``annotations`` with Flux's opt-outs added (Flagger's ``filterMetadata``)."""
    return {**(annotations or {}), **TOOLKIT_ANNOTATIONS}


def deep_copy(obj: JSON) -> JSON:
    """A deep copy of a JSON object (so callers' dicts are never modified)."""
    return copy.deepcopy(obj)
