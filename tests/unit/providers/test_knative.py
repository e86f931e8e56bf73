"""The knative provider as Flagger's knative router and controller run it, on an in-memory API:
initialisation pins the latest revision as primary with all the traffic, weights go to
``spec.traffic``, routes are read from ``status.traffic``, promotion moves the primary
annotation, readiness is the Revision's Ready condition, finalisation removes the annotation."""

from __future__ import annotations

import copy
from typing import Any

from flagger.api import canary as canary_api
from flagger.providers import knative
from flagger.workloads import controller
from flagger.workloads import knative as knative_workload

PRIMARY = knative_workload.PRIMARY_REVISION


class _Kube:
    """A tiny API server: objects by (kind, name); Knative copies spec.traffic to status."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}

    def put(self, obj: dict[str, Any]) -> None:
        self.objects[(obj["kind"], obj["metadata"]["name"])] = obj

    async def get(self, api_version: str, kind: str, name: str, namespace: str) -> Any:
        found = self.objects.get((kind, name))
        return copy.deepcopy(found) if found is not None else None

    async def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        stored = self.objects[(obj["kind"], obj["metadata"]["name"])]
        stored["metadata"] = copy.deepcopy(obj["metadata"])
        stored["spec"] = copy.deepcopy(obj["spec"])
        stored["status"]["traffic"] = copy.deepcopy(obj["spec"].get("traffic") or [])
        return stored

    async def patch(
        self, api_version: str, kind: str, name: str, namespace: str, patch: Any
    ) -> Any:
        stored = self.objects[(kind, name)]
        annotations = stored["metadata"].setdefault("annotations", {})
        annotations.update((patch.get("metadata") or {}).get("annotations") or {})
        if "traffic" in (patch.get("spec") or {}):
            stored["spec"]["traffic"] = patch["spec"]["traffic"]
            stored["status"]["traffic"] = copy.deepcopy(patch["spec"]["traffic"])
        return stored


def _service(latest: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"template": {"spec": {"containers": [{"image": "podinfo:6.0.0"}]}}},
        "status": {"latestCreatedRevisionName": latest},
    }


def _revision(name: str, ready: bool) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {"name": name, "namespace": "test"},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]},
    }


CANARY = canary_api.Canary.model_validate(
    {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": "knative",
            "targetRef": {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "name": "podinfo",
            },
            "analysis": {"interval": "1m", "threshold": 2, "maxWeight": 50, "stepWeight": 10},
        },
    }
)


async def test_knative_lifecycle() -> None:
    kube = _Kube()
    kube.put(_service("podinfo-00001"))
    kube.put(_revision("podinfo-00001", ready=True))
    workload = controller.for_canary(kube, CANARY)  # type: ignore[arg-type]
    assert isinstance(workload, knative_workload.KnativeController)
    router = knative.KnativeRouter(kube)  # type: ignore[arg-type]

    await workload.initialize(CANARY)
    await router.reconcile(CANARY)
    service = kube.objects[("Service", "podinfo")]
    assert service["metadata"]["annotations"][PRIMARY] == "podinfo-00001"
    assert service["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 0},
        {"revisionName": "podinfo-00001", "percent": 100},
    ]
    assert await router.get_routes(CANARY) == (100, 0, False)
    assert (await workload.is_primary_ready(CANARY)).ready
    first = await workload.revision(CANARY)

    # Knative creates a new revision: a new revision to analyse, not ready yet
    kube.objects[("Service", "podinfo")]["status"]["latestCreatedRevisionName"] = "podinfo-00002"
    kube.put(_revision("podinfo-00002", ready=False))
    assert (await workload.revision(CANARY)).spec_hash != first.spec_hash
    waiting = await workload.is_canary_ready(CANARY)
    assert not waiting.ready and waiting.retriable
    assert waiting.message == "Knative Revision podinfo-00002.test is not ready"

    await router.set_routes(CANARY, 60, 40, False)
    assert await router.get_routes(CANARY) == (60, 40, False)
    assert not await workload.primary_matches_target(CANARY)

    await workload.promote(CANARY)
    assert kube.objects[("Service", "podinfo")]["metadata"]["annotations"][PRIMARY] == (
        "podinfo-00002"
    )
    assert await workload.primary_matches_target(CANARY)
    await router.finalize(CANARY)
    assert PRIMARY not in kube.objects[("Service", "podinfo")]["metadata"]["annotations"]
