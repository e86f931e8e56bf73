"""Issue 12: a restarted daemon never checks before ``analysis.interval`` since the last check
(``status.lastCheckTime``), and ``revertOnDeletion`` never blocks a deletion forever."""

from __future__ import annotations

import datetime
import types
from typing import Any

import pytest

from flagger.api import canary as canary_api
from flagger.controller import finalize, ticking
from flagger.kube import errors as kube_errors

NOW = datetime.datetime(2026, 12, 3, 11, 0, 0, 400_000, tzinfo=datetime.UTC)


def _canary(phase: str = "Progressing", last_check: str | None = "2026-12-03T10:59:57Z") -> Any:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "resourceVersion": "7",
            "finalizers": ["finalizer.flagger.app", "other"],
        },
        "spec": {
            "revertOnDeletion": True,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "10s", "threshold": 5, "stepWeight": 10},
        },
        "status": {"phase": phase, "lastAppliedSpec": "rev-1", "lastCheckTime": last_check},
    }


def _parsed(doc: dict[str, Any]) -> canary_api.Canary:
    return canary_api.Canary.model_validate(doc)


def test_a_check_three_seconds_ago_holds_the_next_for_the_rest_of_the_interval() -> None:
    wait = ticking.seconds_until_due(_parsed(_canary()), "rev-1", NOW, manual=False)
    assert wait is not None and 6.5 < wait < 7.0


def test_nothing_holds_a_new_revision_a_manual_request_or_a_settled_canary() -> None:
    assert ticking.seconds_until_due(_parsed(_canary()), "rev-2", NOW, manual=False) is None
    assert ticking.seconds_until_due(_parsed(_canary()), "rev-1", NOW, manual=True) is None
    settled = _parsed(_canary(phase="Succeeded"))
    assert ticking.seconds_until_due(settled, "rev-1", NOW, manual=False) is None
    never = _parsed(_canary(last_check=None))
    assert ticking.seconds_until_due(never, "rev-1", NOW, manual=False) is None
    old = _parsed(_canary(last_check="2026-12-03T10:59:50Z"))
    assert ticking.seconds_until_due(old, "rev-1", NOW, manual=False) is None


def test_the_stamp_rounds_up_so_the_next_check_is_never_early() -> None:
    assert ticking.check_stamp(NOW) == "2026-12-03T11:00:01Z"
    assert ticking.check_stamp(NOW.replace(microsecond=0)) == "2026-12-03T11:00:00Z"


class _Kube:
    """The Canary being deleted, and whatever else ``objects`` holds."""

    def __init__(self, objects: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.objects = objects
        self.patches: list[dict[str, Any]] = []

    async def get(self, api_version: str, kind: str, name: str, namespace: str) -> Any:
        return self.objects.get((kind, name))

    async def replace_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects["Canary", "podinfo"] = obj
        return obj

    async def patch(self, *args: Any) -> dict[str, Any]:
        self.patches.append(args[-1])
        return {}


class _Recorder:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def record_warning(self, canary: Any, message: str) -> None:
        self.warnings.append(message)

    def record_info(self, canary: Any, message: str) -> None:
        pass


async def _delete(kube: _Kube) -> tuple[bool, _Recorder]:
    doc = _canary()
    doc["metadata"]["deletionTimestamp"] = "2026-12-03T11:00:00Z"
    kube.objects["Canary", "podinfo"] = doc
    recorder = _Recorder()
    shell = types.SimpleNamespace(kube=kube, recorder=recorder)
    done = await finalize.handle_finalizer(shell, _parsed(doc), doc)  # type: ignore[arg-type]
    return done, recorder


async def test_the_finalizer_is_released_with_a_warning_when_the_target_is_gone() -> None:
    kube = _Kube({})
    done, recorder = await _delete(kube)
    assert done
    assert recorder.warnings == [
        "Releasing finalizer of podinfo.test without reverting: Deployment podinfo.test is gone"
    ]
    assert kube.patches == [{"metadata": {"finalizers": ["other"], "resourceVersion": "7"}}]


async def test_the_finalizer_is_released_when_the_namespace_is_being_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refusal = (
        'services "podinfo-canary" is forbidden: unable to create new content in namespace '
        "test because it is being terminated"
    )

    async def revert(*_: Any) -> bool:  # the API server refuses to recreate the -canary Service
        raise kube_errors.Forbidden(403, "Forbidden", refusal)

    monkeypatch.setattr(finalize, "_revert", revert)
    kube = _Kube({("Deployment", "podinfo"): {"metadata": {}}})
    done, recorder = await _delete(kube)
    assert done
    assert recorder.warnings == [
        "Releasing finalizer of podinfo.test without reverting: namespace test is being deleted"
    ]
    assert kube.patches[-1]["metadata"]["finalizers"] == ["other"]
