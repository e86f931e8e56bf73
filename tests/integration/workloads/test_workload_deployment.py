"""The Deployment workload controller on the local control plane.

Matrix: initialize (primary, selector relabelled, owner reference, `-primary` ConfigMap and
Secret copies with renamed references, opted-out and registry configs left alone, the primary
becoming ready), revision and config checksums, config change detection, promotion (template,
flagger-id, labels, configs), scale to zero / from zero, the HPA primary copy, readiness
messages for a rollout that cannot finish, and the progress deadline.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from workload_fixtures import (  # type: ignore[import-not-found]
    as_model,
    create_canary,
    eventually,
    with_status,
)

from flagger.kube import client as kube_client
from flagger.workloads import (
    configs,
    contract,
    controller,
    deployment,
    readiness,
    revision,
    workload_errors,
    workload_options,
)
from tests.support import objects

pytestmark = pytest.mark.cluster

IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.0"
NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1"


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def create_configs(kube: kube_client.Kube, namespace: str) -> None:
    for obj in [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "podinfo-config-env",
                "namespace": namespace,
                "labels": {"app": "podinfo", "kustomize.toolkit.fluxcd.io/name": "apps"},
            },
            "data": {"PODINFO_UI_COLOR": "#34577c"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "podinfo-config-vol", "namespace": namespace},
            "data": {"output": "console", "textmode": "true"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "shared",
                "namespace": namespace,
                "annotations": {"flagger.app/config-tracking": "disabled"},
            },
            "data": {"region": "eu"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": "podinfo-secret-env",
                "namespace": namespace,
                "annotations": {LAST_APPLIED: '{"stringData":{"password":"s3cr3t"}}'},
            },
            "data": {"password": b64("s3cr3t")},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "registry", "namespace": namespace},
            "data": {".dockerconfigjson": b64("{}")},
        },
    ]:
        await kube.create(obj)


def podinfo(namespace: str, replicas: int = 2, image: str = IMAGE) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "podinfo",
            "namespace": namespace,
            "labels": {"app": "podinfo", "team": "web", "kustomize.toolkit.fluxcd.io/name": "apps"},
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": 3,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
            },
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": {
                "metadata": {
                    "labels": {"app": "podinfo", "version": "1"},
                    "annotations": {"prometheus.io/scrape": "true"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": image,
                            "ports": [
                                {"name": "http", "containerPort": 9898},
                                {"name": "grpc", "containerPort": 9999},
                            ],
                            "env": [
                                {
                                    "name": "PASSWORD",
                                    "valueFrom": {
                                        "secretKeyRef": {
                                            "name": "podinfo-secret-env",
                                            "key": "password",
                                        }
                                    },
                                },
                                {
                                    "name": "REGION",
                                    "valueFrom": {
                                        "configMapKeyRef": {"name": "shared", "key": "region"}
                                    },
                                },
                            ],
                            "envFrom": [{"configMapRef": {"name": "podinfo-config-env"}}],
                            "volumeMounts": [{"name": "config", "mountPath": "/etc/podinfo"}],
                        }
                    ],
                    "imagePullSecrets": [{"name": "registry"}],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "podinfo-config-vol"}},
                        {"name": "creds", "secret": {"secretName": "registry"}},
                    ],
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "topologyKey": "kubernetes.io/hostname",
                                        "labelSelector": {"matchLabels": {"app": "podinfo"}},
                                    },
                                }
                            ]
                        }
                    },
                },
            },
        },
    }


async def setup(
    kube: kube_client.Kube,
    namespace: str,
    settings: workload_options.Options | None = None,
    **canary_spec: Any,
) -> Any:
    await create_configs(kube, namespace)
    await kube.create(podinfo(namespace))
    canary = await create_canary(kube, namespace, **canary_spec)
    return canary, deployment.DeploymentController(kube, settings or workload_options.Options())


async def test_initialize_creates_the_primary(client: kube_client.Kube, namespace: str) -> None:
    canary, workload = await setup(client, namespace)
    result = await workload.initialize(canary)
    assert result.primary_created
    assert f"Deployment podinfo-primary.{namespace} created" in result.log_lines
    assert "ConfigMap podinfo-config-env-primary synced" in result.log_lines

    primary = await client.get("apps/v1", "Deployment", "podinfo-primary", namespace)
    assert primary is not None
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["spec"]["replicas"] == 2
    assert primary["spec"]["minReadySeconds"] == 3
    # -include-label-prefix unset: Flagger copies no target label (Go's includeLabelsByPrefix)
    assert primary["metadata"]["labels"] == {"app": "podinfo-primary"}
    owner = primary["metadata"]["ownerReferences"]
    assert owner == [
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "name": "podinfo",
            "uid": canary.metadata["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    template = primary["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "podinfo-primary", "version": "1"}
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert template["metadata"]["annotations"]["flagger-id"]
    pod = template["spec"]
    container = pod["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": "podinfo-config-env-primary"}}]
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "podinfo-secret-env-primary"
    assert container["env"][1]["valueFrom"]["configMapKeyRef"]["name"] == "shared"  # opted out
    assert pod["volumes"][0]["configMap"]["name"] == "podinfo-config-vol-primary"
    assert pod["volumes"][1]["secret"]["secretName"] == "registry"  # registry secret: untracked
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["podAffinityTerm"]["labelSelector"]["matchLabels"] == {"app": "podinfo-primary"}

    cm = await client.get("v1", "ConfigMap", "podinfo-config-env-primary", namespace)
    assert cm is not None and cm["data"] == {"PODINFO_UI_COLOR": "#34577c"}
    assert not cm["metadata"].get("labels")  # unset -include-label-prefix: none copied
    assert cm["metadata"]["ownerReferences"][0]["uid"] == canary.metadata["uid"]
    secret = await client.get("v1", "Secret", "podinfo-secret-env-primary", namespace)
    assert secret is not None and secret["type"] == "Opaque"
    assert secret["data"] == {"password": b64("s3cr3t")}
    # No annotation is copied onto -primary configs: last-applied holds stringData in clear.
    assert not secret["metadata"].get("annotations")
    assert await client.get("v1", "ConfigMap", "shared-primary", namespace) is None
    assert await client.get("v1", "Secret", "registry-primary", namespace) is None

    # kwok makes the pods Ready: the first run waits for the primary, then reports ready
    ready = await eventually(lambda: workload.initialize(canary), lambda r: r.readiness.ready)
    assert not ready.primary_created and ready.log_lines == ()


async def test_revision_and_config_changes(client: kube_client.Kube, namespace: str) -> None:
    canary, workload = await setup(client, namespace)
    await workload.initialize(canary)
    current = await workload.revision(canary)
    target = await client.get("apps/v1", "Deployment", "podinfo", namespace)
    assert target is not None
    assert current.spec_hash == revision.template_hash(target["spec"]["template"])
    assert sorted(current.tracked_configs) == [
        "configmap/podinfo-config-env",
        "configmap/podinfo-config-vol",
        "secret/podinfo-secret-env",
    ]
    assert current.tracked_configs["configmap/podinfo-config-env"] == configs.checksum(
        {"PODINFO_UI_COLOR": "#34577c"}
    )

    synced = with_status(
        canary,
        phase="Initialized",
        lastAppliedSpec=current.spec_hash,
        lastPromotedSpec=current.spec_hash,
        trackedConfigs=current.tracked_configs,
    )
    assert not await workload.has_target_changed(synced)
    assert await workload.have_dependencies_changed(synced) == configs.ConfigChanges(False)

    # the opted-out ConfigMap changes: nothing to analyse
    await client.patch("v1", "ConfigMap", "shared", namespace, {"data": {"region": "us"}})
    assert not (await workload.have_dependencies_changed(synced)).changed
    # a tracked ConfigMap changes: a new revision with Flagger's message
    await client.patch(
        "v1",
        "ConfigMap",
        "podinfo-config-env",
        namespace,
        {"data": {"PODINFO_UI_COLOR": "#ff0000"}},
    )
    changes = await workload.have_dependencies_changed(synced)
    assert changes == configs.ConfigChanges(True, ("ConfigMap podinfo-config-env has changed",))
    # the template changes
    await client.patch(
        "apps/v1",
        "Deployment",
        "podinfo",
        namespace,
        objects.image_patch("ghcr.io/stefanprodan/podinfo:6.0.1"),
        patch_type="strategic",
    )
    assert await workload.has_target_changed(synced)


async def test_promote_copies_template_and_configs(
    client: kube_client.Kube, namespace: str
) -> None:
    canary, workload = await setup(client, namespace)
    await workload.initialize(canary)
    before = await client.get("apps/v1", "Deployment", "podinfo-primary", namespace)
    assert before is not None
    await client.patch(
        "apps/v1",
        "Deployment",
        "podinfo",
        namespace,
        {
            "metadata": {"labels": {"release": "2"}},
            "spec": {
                "replicas": 3,
                "template": {"spec": {"containers": [{"name": "podinfod", "image": NEW_IMAGE}]}},
            },
        },
        patch_type="strategic",
    )
    await client.patch(
        "v1",
        "ConfigMap",
        "podinfo-config-env",
        namespace,
        {"data": {"PODINFO_UI_COLOR": "#ff0000"}},
    )

    result = await workload.promote(canary)
    assert result == contract.Promotion(
        "podinfo-primary", ("ConfigMap podinfo-config-env-primary synced",)
    )

    after = await client.get("apps/v1", "Deployment", "podinfo-primary", namespace)
    assert after is not None
    container = after["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/stefanprodan/podinfo:6.0.1"
    assert container["envFrom"] == [{"configMapRef": {"name": "podinfo-config-env-primary"}}]
    assert after["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert after["spec"]["replicas"] == 3  # no autoscaler: replicas follow the target
    assert after["metadata"]["labels"] == {"app": "podinfo-primary"}
    old_id = before["spec"]["template"]["metadata"]["annotations"]["flagger-id"]
    assert after["spec"]["template"]["metadata"]["annotations"]["flagger-id"] != old_id
    cm = await client.get("v1", "ConfigMap", "podinfo-config-env-primary", namespace)
    assert cm is not None and cm["data"] == {"PODINFO_UI_COLOR": "#ff0000"}
    # promoting again with nothing changed writes no config
    assert (await workload.promote(canary)).log_lines == ()


async def test_scale_to_zero_and_back(client: kube_client.Kube, namespace: str) -> None:
    canary, workload = await setup(client, namespace)
    await workload.initialize(canary)
    await workload.scale_to_zero(canary)
    target = await client.get("apps/v1", "Deployment", "podinfo", namespace)
    assert target is not None and target["spec"]["replicas"] == 0
    generation = target["metadata"]["generation"]
    await workload.scale_to_zero(canary)  # already at zero: no spec write
    again = await client.get("apps/v1", "Deployment", "podinfo", namespace)
    assert again is not None and again["metadata"]["generation"] == generation

    await workload.scale_from_zero(canary)  # the primary's replicas
    target = await client.get("apps/v1", "Deployment", "podinfo", namespace)
    assert target is not None and target["spec"]["replicas"] == 2
    verdict = await eventually(lambda: workload.is_canary_ready(canary), lambda r: r.ready)
    assert verdict == readiness.Readiness.ok()

    await workload.scale_to_zero(canary)
    await client.patch(
        "apps/v1", "Deployment", "podinfo-primary", namespace, {"spec": {"replicas": 4}}
    )
    await workload.finalize(canary)  # revertOnDeletion: the primary's capacity
    target = await client.get("apps/v1", "Deployment", "podinfo", namespace)
    assert target is not None and target["spec"]["replicas"] == 4


def hpa(namespace: str, max_replicas: int = 4) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "podinfo", "namespace": namespace, "labels": {"app": "podinfo"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 2,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 99},
                    },
                }
            ],
        },
    }


async def test_hpa_primary_copy(client: kube_client.Kube, namespace: str) -> None:
    await client.create(hpa(namespace))
    canary, workload = await setup(
        client,
        namespace,
        autoscalerRef={
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
            "primaryScalerReplicas": {"minReplicas": 3},
        },
    )
    await workload.initialize(canary)
    line = await workload.reconcile_primary_scaler(canary, init=True)
    assert line == f"HorizontalPodAutoscaler podinfo-primary.{namespace} created"
    primary = await client.get(
        "autoscaling/v2", "HorizontalPodAutoscaler", "podinfo-primary", namespace
    )
    assert primary is not None
    assert primary["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "podinfo-primary",
    }
    assert (primary["spec"]["minReplicas"], primary["spec"]["maxReplicas"]) == (3, 4)
    assert primary["spec"]["metrics"] == hpa(namespace)["spec"]["metrics"]
    assert primary["metadata"]["ownerReferences"][0]["kind"] == "Canary"

    await client.patch(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "podinfo",
        namespace,
        {"spec": {"maxReplicas": 8}},
    )
    assert await workload.reconcile_primary_scaler(canary, init=True) is None  # init: untouched
    line = await workload.reconcile_primary_scaler(canary, init=False)
    assert line == f"HorizontalPodAutoscaler podinfo-primary.{namespace} updated"
    primary = await client.get(
        "autoscaling/v2", "HorizontalPodAutoscaler", "podinfo-primary", namespace
    )
    assert primary is not None and primary["spec"]["maxReplicas"] == 8
    assert await workload.reconcile_primary_scaler(canary, init=False) is None  # in sync

    # with an autoscaler, promotion leaves the primary's replicas to the HPA
    await client.patch("apps/v1", "Deployment", "podinfo", namespace, {"spec": {"replicas": 5}})
    await workload.promote(canary)
    dep = await client.get("apps/v1", "Deployment", "podinfo-primary", namespace)
    assert dep is not None and dep["spec"]["replicas"] == 2
    # scale from zero falls back to the HPA minimum when target and primary have none
    await client.patch("apps/v1", "Deployment", "podinfo", namespace, {"spec": {"replicas": 0}})
    await client.patch(
        "apps/v1", "Deployment", "podinfo-primary", namespace, {"spec": {"replicas": 0}}
    )
    await workload.scale_from_zero(canary)
    target = await client.get("apps/v1", "Deployment", "podinfo", namespace)
    assert target is not None and target["spec"]["replicas"] == 2


def unschedulable(namespace: str, name: str, progress_deadline: int) -> dict[str, Any]:
    body = podinfo(namespace)
    body["metadata"]["name"] = name
    body["spec"]["progressDeadlineSeconds"] = progress_deadline
    del body["spec"]["minReadySeconds"]  # must stay below the deadline
    body["spec"]["template"]["spec"] = {
        "containers": [{"name": "podinfod", "image": IMAGE}],
        "nodeSelector": {"no-such-node": "true"},  # pods stay Pending, never available
    }
    return body


async def test_rollout_that_cannot_finish(client: kube_client.Kube, namespace: str) -> None:
    await client.create(unschedulable(namespace, "podinfo", progress_deadline=600))
    canary = await create_canary(client, namespace)
    workload = deployment.DeploymentController(client)
    verdict = await eventually(
        lambda: workload.is_canary_ready(canary),
        lambda r: "updated replicas are available" in r.message,
    )
    assert verdict == readiness.Readiness.waiting(
        f"canary deployment podinfo.{namespace} not ready: waiting for rollout to finish: "
        "0 of 2 (readyThreshold 100%) updated replicas are available"
    )

    # canaryReadyThreshold 50% of 2 updated replicas still needs 1 available
    half = await create_canary_with(client, namespace, "half", canaryReadyThreshold=50)
    verdict = await workload.is_canary_ready(half)
    assert verdict.message.endswith("0 of 1 (readyThreshold 50%) updated replicas are available")

    # the Canary's progressDeadlineSeconds applies to Available=False/MinimumReplicasUnavailable
    strict = await create_canary_with(client, namespace, "strict", progressDeadlineSeconds=1)
    verdict = await eventually(
        lambda: workload.is_canary_ready(strict), lambda r: not r.retriable, timeout=10
    )
    assert not verdict.ready and "updated replicas are available" in verdict.message


async def create_canary_with(
    kube: kube_client.Kube, namespace: str, name: str, **analysis_or_spec: Any
) -> Any:
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    }
    for key, value in analysis_or_spec.items():
        if key.endswith("ReadyThreshold"):
            spec["analysis"][key] = value
        else:
            spec[key] = value
    return as_model(
        await kube.create(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec,
            }
        )
    )


async def test_progress_deadline_exceeded(client: kube_client.Kube, namespace: str) -> None:
    # the Deployment's own deadline of 1 s: kube-controller-manager marks it
    # Progressing=False/ProgressDeadlineExceeded, which is not retriable
    await client.create(unschedulable(namespace, "podinfo", progress_deadline=1))
    canary = await create_canary(client, namespace)
    workload = deployment.DeploymentController(client)
    verdict = await eventually(
        lambda: workload.is_canary_ready(canary), lambda r: not r.retriable, timeout=20
    )
    assert verdict == readiness.Readiness.failed(
        f'canary deployment podinfo.{namespace} not ready: deployment "podinfo" exceeded its '
        "progress deadline"
    )


async def test_progress_deadline_from_status_write(
    client: kube_client.Kube, namespace: str
) -> None:
    """The condition written through the status subresource, as the brief suggests."""
    await client.create(unschedulable(namespace, "podinfo", progress_deadline=600))
    canary = await create_canary(client, namespace)
    workload = deployment.DeploymentController(client)
    await eventually(
        lambda: workload.is_canary_ready(canary),
        lambda r: "updated replicas are available" in r.message,
    )
    current = await client.get("apps/v1", "Deployment", "podinfo", namespace)
    assert current is not None
    current["status"]["conditions"] = [
        c for c in current["status"].get("conditions", []) if c["type"] != "Progressing"
    ] + [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "simulated",
            "lastUpdateTime": "2024-01-01T00:00:00Z",
            "lastTransitionTime": "2024-01-01T00:00:00Z",
        }
    ]
    written = await client.replace_status(current)
    # read back what was written (the controller may rewrite status afterwards)
    assert readiness.deployment_readiness(written, deadline_seconds=600) == (
        readiness.Readiness.failed('deployment "podinfo" exceeded its progress deadline')
    )


async def test_metadata_and_factory(client: kube_client.Kube, namespace: str) -> None:
    canary, _ = await setup(client, namespace, service={"port": 9898, "portDiscovery": True})
    workload = controller.for_canary(
        client, canary, workload_options.Options(selector_labels=("name", "app"))
    )
    found = await workload.get_metadata(canary)
    assert (found.label, found.label_value, found.primary_label_value) == (
        "app",
        "podinfo",
        "podinfo-primary",
    )
    assert found.ports == {"grpc": 9999}

    missing = with_status(canary)
    missing.spec.target_ref.name = "nope"
    with pytest.raises(workload_errors.WorkloadError) as caught:
        await workload.initialize(missing)
    assert caught.value.message == (
        f'deployment nope.{namespace} get query error: deployments.apps "nope" not found'
    )


async def test_include_label_prefix_filters_labels_and_promoted_annotations(
    client: kube_client.Kube, namespace: str
) -> None:
    """`-include-label-prefix=team,release`: only those keys reach the primary, and promotion
    replaces the primary's annotations with the target's, filtered the same way (Flagger)."""
    settings = workload_options.Options(include_label_prefixes=("team", "release"))
    canary, workload = await setup(client, namespace, settings)
    await workload.initialize(canary)
    primary = await client.get("apps/v1", "Deployment", "podinfo-primary", namespace)
    assert primary is not None
    assert primary["metadata"]["labels"] == {"app": "podinfo-primary", "team": "web"}
    await client.patch(
        "apps/v1",
        "Deployment",
        "podinfo",
        namespace,
        {
            "metadata": {
                "labels": {"release": "2", "argocd.argoproj.io/instance": "shop"},
                "annotations": {"release/notes": "v2", "owner": "someone"},
            }
        },
    )
    await workload.promote(canary)
    after = await client.get("apps/v1", "Deployment", "podinfo-primary", namespace)
    assert after is not None
    assert after["metadata"]["labels"] == {"app": "podinfo-primary", "team": "web", "release": "2"}
    annotations = after["metadata"].get("annotations") or {}
    assert annotations.get("release/notes") == "v2"
    assert "owner" not in annotations
