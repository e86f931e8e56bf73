"""A DaemonSet stopped by Flagger (scale-to-zero node selector) is not a new revision."""

from __future__ import annotations

import copy
from typing import Any

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
