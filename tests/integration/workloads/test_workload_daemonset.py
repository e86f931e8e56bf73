"""The DaemonSet workload controller on the local control plane.

Matrix: initialize creates `podinfo-primary` (selector relabelled, owner reference, configs
copied) which becomes ready on the kwok node; scale to zero adds the
`flagger.app/scale-to-zero` node selector to the target only and scale from zero removes it;
promotion copies the template without that selector; a revision change is detected.
"""

from __future__ import annotations

from typing import Any

import pytest
from workload_fixtures import (  # type: ignore[import-not-found]
    create_canary,
    eventually,
    with_status,
)

from flagger.kube import client as kube_client
from flagger.workloads import controller, daemonset, readiness
from tests.support import objects

pytestmark = pytest.mark.cluster


def podinfo_ds(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "podinfo", "namespace": namespace, "labels": {"name": "podinfo"}},
        "spec": {
            "selector": {"matchLabels": {"name": "podinfo"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"name": "podinfo"}},
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                            "envFrom": [{"configMapRef": {"name": "podinfo-config"}}],
                        }
                    ]
                },
            },
        },
    }


async def test_daemonset_lifecycle(client: kube_client.Kube, namespace: str) -> None:
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "podinfo-config", "namespace": namespace},
            "data": {"color": "blue"},
        }
    )
    await client.create(podinfo_ds(namespace))
    canary = await create_canary(client, namespace, target_kind="DaemonSet")
    workload = controller.for_canary(client, canary)
    assert isinstance(workload, daemonset.DaemonSetController)

    result = await workload.initialize(canary)
    assert result.primary_created
    primary = await client.get("apps/v1", "DaemonSet", "podinfo-primary", namespace)
    assert primary is not None
    assert primary["spec"]["selector"] == {"matchLabels": {"name": "podinfo-primary"}}
    assert primary["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    container = primary["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": "podinfo-config-primary"}}]
    ready = await eventually(lambda: workload.is_primary_ready(canary), lambda r: r.ready)
    assert ready == readiness.Readiness.ok()

    await workload.scale_to_zero(canary)
    target = await client.get("apps/v1", "DaemonSet", "podinfo", namespace)
    assert target is not None
    assert target["spec"]["template"]["spec"]["nodeSelector"] == {
        "flagger.app/scale-to-zero": "true"
    }
    # the target's pods go away; an empty DaemonSet counts as ready
    await eventually(lambda: workload.is_canary_ready(canary), lambda r: r.ready)

    current = await workload.revision(canary)
    synced = with_status(
        canary,
        phase="Initialized",
        lastAppliedSpec=current.spec_hash,
        lastPromotedSpec=current.spec_hash,
        trackedConfigs=current.tracked_configs,
    )
    assert not await workload.has_target_changed(synced)

    await workload.scale_from_zero(canary)
    target = await client.get("apps/v1", "DaemonSet", "podinfo", namespace)
    assert target is not None and "nodeSelector" not in target["spec"]["template"]["spec"]
    await client.patch(
        "apps/v1",
        "DaemonSet",
        "podinfo",
        namespace,
        objects.image_patch("ghcr.io/stefanprodan/podinfo:6.0.1"),
        patch_type="strategic",
    )
    assert await workload.has_target_changed(synced)
    await workload.scale_to_zero(canary)  # promotion happens with the target scaled down too
    await workload.promote(canary)
    primary = await client.get("apps/v1", "DaemonSet", "podinfo-primary", namespace)
    assert primary is not None
    pod = primary["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.0.1"
    assert "nodeSelector" not in pod
    await eventually(lambda: workload.is_primary_ready(canary), lambda r: r.ready)
