"""Adopting a revision hash Flagger (Go) wrote, when the primary proves nothing changed."""

from __future__ import annotations

from typing import Any

from flagger.analysis import observation
from flagger.api import canary as canary_api
from flagger.controller import switchover
from tests.support import canaries


class _Workload:
    def __init__(self, matches: bool) -> None:
        self.matches = matches
        self.asked = 0

    async def primary_matches_target(self, canary: canary_api.Canary) -> bool:
        self.asked += 1
        return self.matches


class _Kube:
    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    async def get(self, *args: Any) -> dict[str, Any]:
        return {"metadata": {"name": "podinfo"}, "status": {}}

    async def replace_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.written.append(obj["status"])
        return obj


def _canary(phase: str, applied: str = "go-hash", promoted: str = "go-hash") -> canary_api.Canary:
    status = {
        "phase": phase,
        "lastAppliedSpec": applied,
        "lastPromotedSpec": promoted,
        "trackedConfigs": {"configmap/env": "c73dd9fca58e98a9"},
    }
    return canaries.canary(canaries.podinfo_spec(analysis=None), namespace="test", status=status)


OURS = observation.Revision("our-hash", {"configmap/env": "c73dd9fca58e98a9"})


async def test_settled_canary_adopts_our_hash_silently() -> None:
    kube, workload = _Kube(), _Workload(matches=True)
    adopted = await switchover.adopt_foreign_revision(kube, _canary("Succeeded"), workload, OURS)  # type: ignore[arg-type]
    assert adopted.status is not None
    assert (adopted.status.last_applied_spec, adopted.status.last_promoted_spec) == (
        "our-hash",
        "our-hash",
    )
    assert kube.written[0]["lastAppliedSpec"] == "our-hash"


async def test_a_real_change_is_not_adopted() -> None:
    kube, workload = _Kube(), _Workload(matches=False)
    canary = _canary("Succeeded")
    assert await switchover.adopt_foreign_revision(kube, canary, workload, OURS) is canary  # type: ignore[arg-type]
    assert kube.written == []


async def test_only_settled_canaries_are_considered() -> None:
    for canary in (_canary("Progressing"), _canary("Failed"), _canary("Succeeded", promoted="x")):
        kube, workload = _Kube(), _Workload(matches=True)
        assert await switchover.adopt_foreign_revision(kube, canary, workload, OURS) is canary  # type: ignore[arg-type]
        assert workload.asked == 0


async def test_our_own_hash_costs_nothing() -> None:
    kube, workload = _Kube(), _Workload(matches=True)
    canary = _canary("Succeeded", applied="our-hash", promoted="our-hash")
    assert await switchover.adopt_foreign_revision(kube, canary, workload, OURS) is canary  # type: ignore[arg-type]
    assert workload.asked == 0
