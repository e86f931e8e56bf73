"""The ``fakemesh`` router: a made-up mesh whose routing table is a ConfigMap.

For a Canary whose apex Service is ``podinfo`` the router keeps ConfigMap ``podinfo-fakemesh``
in the Canary's namespace, owned by the Canary::

    data:
      primary: "<service>-primary=90"
      canary: "<service>-canary=10"
      mirrored: "false"

A real mesh would program its proxies from such an object; here it only proves that the daemon
drives a router it has never heard of through the :class:`flagger.plugins.Router` protocol.
``finalize`` (``revertOnDeletion``) deletes the ConfigMap.
"""

from __future__ import annotations

from typing import Any

API_VERSION = "v1"
KIND = "ConfigMap"


def table_name(canary: Any) -> str:
    """``<apex service>-fakemesh``."""
    return f"{canary.spec.effective_service_name}-fakemesh"


def routing_table(canary: Any, primary: int, canary_weight: int, mirrored: bool) -> dict[str, str]:
    """The ConfigMap data for a weight split."""
    apex = canary.spec.effective_service_name
    return {
        "primary": f"{apex}-primary={primary}",
        "canary": f"{apex}-canary={canary_weight}",
        "mirrored": "true" if mirrored else "false",
    }


def read_table(data: dict[str, str]) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) from the ConfigMap data."""
    primary = int(data["primary"].rpartition("=")[2])
    canary = int(data["canary"].rpartition("=")[2])
    return primary, canary, data.get("mirrored") == "true"


class FakeMeshRouter:
    """Implements :class:`flagger.plugins.Router` with a ConfigMap per canary.

    ``kube`` is the daemon's client (``PluginContext.kube``): ``get``, ``create``, ``replace``
    and ``delete`` with plain JSON dicts.
    """

    def __init__(self, kube: Any) -> None:
        self.kube = kube

    async def reconcile(self, canary: Any) -> None:
        if await self._get(canary) is not None:
            return
        await self.kube.create(
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": {
                    "name": table_name(canary),
                    "namespace": canary.namespace,
                    "labels": {"app.kubernetes.io/managed-by": "flagger-plugin-example"},
                    "ownerReferences": [
                        {
                            "apiVersion": "flagger.app/v1beta1",
                            "kind": "Canary",
                            "name": canary.name,
                            "uid": str(canary.metadata.get("uid") or ""),
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "data": routing_table(canary, 100, 0, False),
            }
        )

    async def set_routes(
        self, canary: Any, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        found = await self._require(canary)
        data = routing_table(canary, primary_weight, canary_weight, mirrored)
        if found.get("data") != data:
            await self.kube.replace({**found, "data": data})

    async def get_routes(self, canary: Any) -> tuple[int, int, bool]:
        found = await self._require(canary)
        return read_table(dict(found.get("data") or {}))

    async def finalize(self, canary: Any) -> None:
        await self.kube.delete(API_VERSION, KIND, table_name(canary), canary.namespace)

    async def _get(self, canary: Any) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self.kube.get(
            API_VERSION, KIND, table_name(canary), canary.namespace
        )
        return found

    async def _require(self, canary: Any) -> dict[str, Any]:
        found = await self._get(canary)
        if found is None:
            raise LookupError(
                f"fakemesh routing table {table_name(canary)}.{canary.namespace} "
                "not found; it is created by reconcile"
            )
        return found
