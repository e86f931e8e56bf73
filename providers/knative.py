"""The ``knative`` router: traffic between two revisions of a Knative Service (Flagger's
``pkg/router/knative.go``).

The primary is the revision named in the Service's ``flagger.app/primary-revision``
annotation, the canary Knative's latest revision; ``set_routes`` writes ``spec.traffic``
(latest revision ``canary``%, primary ``primary``%) and ``get_routes`` reads the percentages
Knative reports in ``status.traffic``. ``reconcile`` records the latest revision as the primary
when the annotation is missing; ``finalize`` removes it. Only Knative Service targets are
routed (validation pairs the provider with the target kind, as Flagger does).
"""

from __future__ import annotations

from typing import Any

from flagger import plugins, router_helpers
from flagger.api import canary as canary_api
from flagger.api import knative_types

__all__ = ["NAME", "KnativeRouter", "flagger_register", "flagger_router"]

NAME = "knative"
#: The role's rules: the target Service's annotation and traffic, the revisions' readiness.
RULES = (
    plugins.AccessRule(
        "serving.knative.dev",
        "services",
        ("get", "update", "patch"),
        "the target's primary-revision annotation and spec.traffic",
    ),
    plugins.AccessRule(
        "serving.knative.dev", "revisions", ("get",), "readiness of the two revisions"
    ),
)
JSON = dict[str, Any]


class KnativeRouter:
    """Routes between the primary and the latest revision of a Knative Service."""

    def __init__(self, kube: router_helpers.KubeClient) -> None:
        self.kube = kube

    def _where(self, canary: canary_api.Canary) -> str:
        return f"Knative Service {canary.spec.target_ref.name}.{canary.namespace}"

    async def _service(self, canary: canary_api.Canary) -> JSON:
        try:
            found: JSON | None = await self.kube.get(
                knative_types.API_VERSION,
                "Service",
                canary.spec.target_ref.name,
                canary.namespace,
            )
        except Exception as exc:
            raise router_helpers.RouterError(
                f"{self._where(canary)} get query error: {exc}"
            ) from exc
        if found is None:
            raise router_helpers.RouterError(f"{self._where(canary)} get query error: not found")
        return found

    async def _update(self, canary: canary_api.Canary, service: JSON, what: str) -> None:
        """Write the whole Service back (Flagger's Update), so a concurrent change conflicts."""
        await router_helpers.write(self.kube.replace, service, f"{self._where(canary)} {what}")

    async def reconcile(self, canary: canary_api.Canary) -> None:
        service = await self._service(canary)
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        if knative_types.PRIMARY_REVISION in annotations:
            return
        latest = str((service.get("status") or {}).get("latestCreatedRevisionName") or "")
        service.setdefault("metadata", {}).setdefault("annotations", {})[
            knative_types.PRIMARY_REVISION
        ] = latest
        await self._update(canary, service, "update query error")

    async def set_routes(
        self, canary: canary_api.Canary, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        service = await self._service(canary)
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        primary = annotations.get(knative_types.PRIMARY_REVISION)
        if primary is None:
            raise router_helpers.RouterError(f"{self._where(canary)} annotation not found")
        traffic = knative_types.traffic(str(primary), primary_weight, canary_weight)
        service.setdefault("spec", {})["traffic"] = traffic
        await self._update(canary, service, "update query error")

    async def get_routes(self, canary: canary_api.Canary) -> tuple[int, int, bool]:
        service = await self._service(canary)
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        primary = annotations.get(knative_types.PRIMARY_REVISION)
        if primary is None:
            raise router_helpers.RouterError(f"{self._where(canary)} annotation not found")
        targets = (service.get("status") or {}).get("traffic") or []
        latest = next((t for t in targets if t.get("latestRevision")), None)
        pinned = next((t for t in targets if t.get("revisionName") == primary), None)
        if latest is None or pinned is None:
            raise router_helpers.RouterError(f"{self._where(canary)} traffic spec invalid")
        if pinned.get("percent") is None:
            raise router_helpers.RouterError(
                f"{self._where(canary)} primary revision traffic percent does not exist"
            )
        if latest.get("percent") is None:
            raise router_helpers.RouterError(
                f"{self._where(canary)} canary revision traffic percent does not exist"
            )
        return int(pinned["percent"]), int(latest["percent"]), False

    async def finalize(self, canary: canary_api.Canary) -> None:
        service = await self._service(canary)
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        if knative_types.PRIMARY_REVISION in annotations:
            del annotations[knative_types.PRIMARY_REVISION]
            await self._update(canary, service, "update query error")


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    """This module serves the ``knative`` routing provider."""
    registry.router(NAME, flagger_router)
    registry.rules(NAME, RULES)


def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    """The Knative router (its Services live in the main cluster, as Flagger's knativeClient)."""
    return KnativeRouter(context.kube) if name == NAME else None
