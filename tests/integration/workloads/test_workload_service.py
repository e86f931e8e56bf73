"""Plain Service targets (Flagger's ServiceController) against the local control plane.

Matrix: initialisation creates ``-canary`` and ``-primary`` copies owned by the Canary, each with
its own ClusterIP and without kubectl's last-applied annotation; the revision follows the target's
spec; promotion copies the target's spec into the primary with filtered labels; readiness is
always ready; the primary matches the target after promotion (switch-over check).
"""

from __future__ import annotations

from typing import Any

import pytest
from workload_fixtures import as_model  # type: ignore[import-not-found]

from flagger.kube import client as kube_client
from flagger.workloads import controller, service, workload_options

pytestmark = pytest.mark.cluster

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _service(namespace: str, port: int = 9898) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "podinfo",
            "namespace": namespace,
            "labels": {"app": "podinfo", "team": "web"},
            "annotations": {LAST_APPLIED: "{}", "note": "x"},
        },
        "spec": {
            "selector": {"app": "podinfo"},
            "ports": [{"name": "http", "port": port, "targetPort": 9898}],
        },
    }


async def _canary(kube: kube_client.Kube, namespace: str) -> Any:
    created = await kube.create(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": {
                "provider": "gatewayapi:v1",
                "targetRef": {"apiVersion": "v1", "kind": "Service", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
            },
        }
    )
    return as_model(created)


async def test_service_target_lifecycle(client: kube_client.Kube, namespace: str) -> None:
    await client.create(_service(namespace))
    canary = await _canary(client, namespace)
    settings = workload_options.Options(include_label_prefixes=("team",))
    workload = controller.for_canary(client, canary, settings)
    assert isinstance(workload, service.ServiceController)

    init = await workload.initialize(canary)
    assert init.primary_created and init.readiness.ready
    target = await client.get("v1", "Service", "podinfo", namespace)
    assert target is not None
    ips = {target["spec"]["clusterIP"]}
    for name in ("podinfo-canary", "podinfo-primary"):
        copy_ = await client.get("v1", "Service", name, namespace)
        assert copy_ is not None
        assert copy_["spec"]["ports"][0]["port"] == 9898
        assert copy_["spec"]["selector"] == {"app": "podinfo"}
        assert LAST_APPLIED not in (copy_["metadata"].get("annotations") or {})
        assert copy_["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
        ips.add(copy_["spec"]["clusterIP"])
    assert len(ips) == 3  # each copy keeps an IP of its own
    # a second initialisation writes nothing
    assert (await workload.initialize(canary)).log_lines == ()
    assert await workload.primary_matches_target(canary)

    first = await workload.revision(canary)
    await client.patch(
        "v1",
        "Service",
        "podinfo",
        namespace,
        {"spec": {"ports": [{"name": "http", "port": 8080, "targetPort": 9898}]}},
    )
    second = await workload.revision(canary)
    assert second.spec_hash != first.spec_hash and second.tracked_configs == {}
    assert not await workload.primary_matches_target(canary)
    assert (await workload.is_canary_ready(canary)).ready

    # the canary copy follows the target at the next initialisation
    assert (await workload.initialize(canary)).log_lines == (
        f"Service podinfo-canary.{namespace} updated",
    )
    await workload.promote(canary)
    primary = await client.get("v1", "Service", "podinfo-primary", namespace)
    assert primary is not None
    assert [p["port"] for p in primary["spec"]["ports"]] == [8080]
    assert primary["metadata"]["labels"] == {"team": "web"}  # -include-label-prefix=team
    assert await workload.primary_matches_target(canary)
