"""A DaemonSet stopped by Flagger (scale-to-zero node selector) is not a new revision."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from flagger.workloads import daemonset, deployment, revision, workload_options

TARGET: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent"},
    "spec": {
        "template": {
            "metadata": {"labels": {"app": "agent"}},
            "spec": {
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "containers": [{"name": "agent", "image": "agent:1.0"}],
            },
        }
    },
}


def test_scale_to_zero_selector_is_not_a_new_revision() -> None:
    controller = daemonset.DaemonSetController(None, workload_options.Options())  # type: ignore[arg-type]
    stopped = copy.deepcopy(TARGET)
    stopped["spec"]["template"]["spec"]["nodeSelector"][daemonset.SCALE_TO_ZERO_SELECTOR] = "true"
    assert controller.revision_hash(stopped) == controller.revision_hash(TARGET)
    assert controller.revision_hash(TARGET) == revision.template_hash(TARGET["spec"]["template"])

    changed = copy.deepcopy(stopped)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:1.1"
    assert controller.revision_hash(changed) != controller.revision_hash(TARGET)


def test_deployment_hash_is_the_template_hash() -> None:
    controller = deployment.DeploymentController(None, workload_options.Options())  # type: ignore[arg-type]
    target = copy.deepcopy(TARGET)
    target["kind"] = "Deployment"
    assert controller.revision_hash(target) == revision.template_hash(target["spec"]["template"])


def test_the_hash_of_a_stored_version_is_computed_once_and_a_new_version_hashed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    real = revision.template_hash

    def counted(template: object) -> str:
        calls.append(template)
        return real(template)  # type: ignore[arg-type]

    monkeypatch.setattr(revision, "template_hash", counted)
    controller = deployment.DeploymentController(None)  # type: ignore[arg-type]
    uid = str(uuid.uuid4())  # the memory is per (kind, uid, resourceVersion), process-wide
    stored = {
        "metadata": {"name": "podinfo", "uid": uid, "resourceVersion": "41"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}},
    }
    first = controller.revision_hash(stored)
    assert controller.revision_hash(stored) == first
    assert len(calls) == 1  # an idle tick does not hash the same version again

    changed = {
        "metadata": {"name": "podinfo", "uid": uid, "resourceVersion": "42"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:2"}]}}},
    }
    assert controller.revision_hash(changed) != first
    assert len(calls) == 2
