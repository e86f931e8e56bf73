"""The rollback window: a revision promoted before is promoted again without analysis.

The matrix: the window remembers the last K promoted revisions (initialization, promotions, a
revision promoted twice moves to the end, K bounds the list); a revert to a remembered revision
after a promotion is promoted in one tick; a revert during the analysis of a new revision ends
that analysis the same way; a revision that fell out of the window, a config change, and a
canary without the annotation go through the full analysis, as in Flagger.
"""

from __future__ import annotations

from typing import Any

from flagger import simulation
from flagger.analysis import decision, observation, status_editor
from flagger.api import canary as canary_api
from flagger.api import status
from tests.unit.analysis import analysis_fixtures as fx

Phase = status.CanaryPhase
KNOWN_GOOD = "Rolling back podinfo.test to revision {} known good, skipping analysis"


def _canary(window: str | None) -> canary_api.Canary:
    canary = fx.make_canary(
        {"interval": "1m", "threshold": 2, "maxWeight": 50, "stepWeight": 25, "metrics": []}
    )
    if window is None:
        return canary
    meta: dict[str, Any] = {
        **canary.metadata,
        "annotations": {"flagger.app/rollback-window": window},
    }
    return canary.model_copy(update={"metadata": meta})


def _run_to_end(world: simulation.World) -> list[str]:
    """Tick until Succeeded or Failed; the event texts."""
    texts: list[str] = []
    for _ in range(50):
        result = world.tick()
        texts += [a.message for a in result.actions if isinstance(a, decision.Event)]
        if world.phase in (Phase.SUCCEEDED, Phase.FAILED):
            return texts
        world.advance_clock()
    raise AssertionError(f"still {world.phase}: {texts}")


def _promote(world: simulation.World, revision: str) -> None:
    fx.new_revision(world, revision)
    texts = _run_to_end(world)
    assert world.phase is Phase.SUCCEEDED, texts
    world.advance_clock()


def test_window_remembers_the_last_promoted_revisions() -> None:
    world = fx.initialized(_canary("2"))
    assert world.status.promoted_revisions == [simulation.FIRST_REVISION]
    _promote(world, "rev-2")
    _promote(world, "rev-3")
    assert world.status.promoted_revisions == ["rev-2", "rev-3"]


def test_revert_after_promotion_is_promoted_in_one_tick() -> None:
    world = fx.initialized(_canary("3"))
    _promote(world, "rev-2")
    fx.new_revision(world, simulation.FIRST_REVISION)
    result = world.tick()
    events = [a.message for a in result.actions if isinstance(a, decision.Event)]
    assert events == [
        KNOWN_GOOD.format(simulation.FIRST_REVISION),
        "Copying podinfo.test template spec to podinfo-primary.test",
        "Promotion completed! Scaling down podinfo.test",
    ]
    assert world.phase is Phase.SUCCEEDED
    kinds = [type(a) for a in result.actions]
    assert decision.Promote in kinds and decision.ScaleToZero in kinds
    assert decision.ScaleFromZero not in kinds  # no canary pods for a known-good revision
    assert world.routes == observation.Routes(100, 0)
    assert world.status.last_promoted_spec == simulation.FIRST_REVISION
    assert world.status.promoted_revisions == ["rev-2", simulation.FIRST_REVISION]


def test_revert_during_an_analysis_ends_it_at_once() -> None:
    world = fx.initialized(_canary("3"))
    fx.new_revision(world, "rev-bad")
    world.tick()  # new revision: canary scaled up
    world.advance_clock()
    world.tick()  # weight 25
    assert world.phase is Phase.PROGRESSING and world.routes.canary == 25
    world.advance_clock()
    fx.new_revision(world, simulation.FIRST_REVISION)  # kubectl rollout undo
    result = world.tick()
    assert KNOWN_GOOD.format(simulation.FIRST_REVISION) in [
        a.message for a in result.actions if isinstance(a, decision.Event)
    ]
    assert world.phase is Phase.SUCCEEDED
    assert world.routes == observation.Routes(100, 0)
    assert decision.ScaleToZero() in result.actions


def test_without_window_or_outside_it_the_analysis_runs() -> None:
    for window in (None, "0", "1"):
        world = fx.initialized(_canary(window))
        _promote(world, "rev-2")
        fx.new_revision(world, simulation.FIRST_REVISION)
        texts = _run_to_end(world)
        assert texts[0] == "New revision detected! Scaling up podinfo.test", (window, texts)
        assert not any("known good" in t for t in texts)
        assert "Advance podinfo.test canary weight 50" in texts


def test_a_config_change_is_a_new_revision() -> None:
    world = fx.initialized(
        _canary("3"), revision=observation.Revision("rev-1", {"configmap/a": "1"})
    )
    _promote(world, "rev-2")
    world.revision = observation.Revision("rev-1", {"configmap/a": "2"})
    texts = _run_to_end(world)
    assert texts[0] == "New revision detected! Scaling up podinfo.test"


def test_revision_key_covers_configs() -> None:
    assert status_editor.revision_key("abc", None) == "abc"
    assert status_editor.revision_key("abc", {}) == "abc"
    one = status_editor.revision_key("abc", {"configmap/a": "1", "secret/b": "2"})
    assert one == status_editor.revision_key("abc", {"secret/b": "2", "configmap/a": "1"})
    assert one != status_editor.revision_key("abc", {"configmap/a": "9", "secret/b": "2"})
