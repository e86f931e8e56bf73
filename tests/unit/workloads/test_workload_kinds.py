"""The target kinds table: every kind Flagger's CRD accepts has a row, and the factory, the
daemon's watches and the RBAC rules follow the table."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from flagger import deploy_rbac
from flagger.api import canary as canary_api
from flagger.workloads import (
    controller,
    daemonset,
    deployment,
    kinds,
    knative,
    service,
    statefulset,
    workload_errors,
)
from tests.support import canaries


def _canary(kind: str) -> canary_api.Canary:
    """A valid Canary whose targetRef.kind is then set to ``kind`` (even one the CRD refuses)."""
    analysis = {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10}
    valid = canaries.canary(canaries.podinfo_spec(analysis=analysis), namespace="test")
    object.__setattr__(valid.spec.target_ref, "kind", kind)
    return valid


def test_every_kind_of_the_crd_enum_has_a_row() -> None:
    """Flagger's CRD enum for targetRef.kind is kept by the API model; each value is a row."""
    annotation = typing.get_type_hints(canary_api.TargetReference)["kind"]
    assert set(typing.get_args(annotation)) == {row.kind for row in kinds.KINDS}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("Deployment", deployment.DeploymentController),
        ("DaemonSet", daemonset.DaemonSetController),
        ("StatefulSet", statefulset.StatefulSetController),
    ],
)
def test_for_canary_builds_the_row_controller(kind: str, expected: type[Any]) -> None:
    reader = object()
    found = controller.for_canary(None, _canary(kind), reader=reader)  # type: ignore[arg-type]
    assert type(found) is expected
    assert found.reader is reader  # type: ignore[attr-defined]


def test_knative_service_and_core_service_are_told_apart_by_group() -> None:
    assert kinds.for_target("serving.knative.dev/v1", "Service") is not None
    assert (
        kinds.for_target("serving.knative.dev/v1", "Service").controller
        is knative.KnativeController
    )  # type: ignore[union-attr]
    assert kinds.for_target("v1", "Service").controller is service.ServiceController  # type: ignore[union-attr]


def test_an_unknown_kind_is_a_workload_error() -> None:
    with pytest.raises(workload_errors.WorkloadError, match="workload kind ReplicaSet is not"):
        controller.for_canary(None, _canary("ReplicaSet"))  # type: ignore[arg-type]


def test_rbac_has_the_rule_of_each_workload_kind() -> None:
    for row in kinds.RBAC_KINDS:
        assert ("patch", row.group, row.plural) in deploy_rbac.grants([])
        assert ("watch", row.group, row.plural) in deploy_rbac.grants([])
