"""How Flagger edits a Canary's status, and how it tells that the target has a new revision.

Flagger has a few ways of writing the status and each resets different fields, which matters
for what the next tick sees:

- :meth:`StatusEditor.sync` (Flagger's ``SyncStatus``) sets phase, weight, failed checks and
  iterations together (zero unless given), stamps ``lastAppliedSpec`` and ``trackedConfigs``
  from the target as observed, and on Initialized also ``lastPromotedSpec``.
- :meth:`StatusEditor.set_phase` (``SetStatusPhase``) zeroes weight and iterations for every
  phase but Progressing and Waiting (WaitingPromotion keeps ``iterations - 1``), and on
  Initialized and Succeeded records the applied spec as promoted.
- :meth:`StatusEditor.set_weight`, :meth:`~StatusEditor.set_iterations` and
  :meth:`~StatusEditor.set_failed_checks` change one field.

Every edit stamps ``lastTransitionTime``; phase changes update the ``Promoted`` condition (True
on Initialized and Succeeded, False on Failed, Unknown otherwise; the reason is the phase).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping

from flagger.analysis import messages, observation
from flagger.api import canary as canary_api
from flagger.api import status

Phase = status.CanaryPhase

#: Phases of an analysis in flight: a tick in these phases always proceeds.
ACTIVE_PHASES = frozenset(
    {Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING}
)


def timestamp(now: datetime.datetime) -> str:
    """RFC 3339 in UTC with second precision, as ``metav1.Time`` serialises."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=datetime.UTC)
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition_status(phase: Phase) -> str:
    """The ``Promoted`` condition status for a phase."""
    if phase in (Phase.INITIALIZED, Phase.SUCCEEDED):
        return "True"
    if phase is Phase.FAILED:
        return "False"
    return "Unknown"


def make_conditions(
    current: status.CanaryStatus, phase: Phase, kind: str, now: datetime.datetime
) -> list[status.CanaryCondition] | None:
    """The new ``conditions`` for ``phase``, or ``None`` when the condition is unchanged."""
    previous = next(
        (c for c in current.conditions or [] if c.type == status.PROMOTED_CONDITION), None
    )
    new_status = condition_status(phase)
    if previous is not None and previous.status == new_status and previous.reason == phase.value:
        return None
    stamp = timestamp(now)
    transition = stamp
    if previous is not None and previous.status == new_status and previous.last_transition_time:
        transition = previous.last_transition_time
    return [
        status.CanaryCondition(
            type=status.PROMOTED_CONDITION,
            status=new_status,
            last_update_time=stamp,
            last_transition_time=transition,
            reason=phase.value,
            message=messages.condition_message(phase.value, kind),
        )
    ]


def target_changed(current: status.CanaryStatus, revision: observation.Revision) -> bool:
    """Flagger's ``HasTargetChanged``: a hash unlike both the applied and the promoted one.

    Going back to the promoted spec is not a change, so reverting a bad release starts nothing.
    """
    if not current.last_applied_spec:
        return True
    if current.last_promoted_spec == revision.spec_hash:
        return False
    return current.last_applied_spec != revision.spec_hash


def changed_config(
    current: status.CanaryStatus, revision: observation.Revision
) -> tuple[bool, str | None]:
    """Flagger's ``HaveDependenciesChanged``: (changed, the log line naming the config).

    The config is named only when a checksum differs (not when configs were added or removed).
    """
    configs = revision.configs
    if configs is None:
        return False, None
    tracked = current.tracked_configs
    if not configs and tracked is None:
        return False, None
    if configs and tracked is None:
        return True, None
    assert tracked is not None
    if len(configs) != len(tracked):
        return True, None
    for key, checksum in configs.items():
        if tracked.get(key) != checksum:
            kind, _, name = key.partition("/")
            return True, messages.config_changed(kind, name)
    return False, None


def revision_key(spec_hash: str, configs: Mapping[str, str] | None) -> str:
    """A revision as the rollback window remembers it: the pod template hash, plus a digest of
    the tracked config checksums when there are any (a config change is a new revision)."""
    if not configs:
        return spec_hash
    joined = "\n".join(f"{k}={v}" for k, v in sorted(configs.items()))
    return f"{spec_hash}-{hashlib.sha256(joined.encode()).hexdigest()[:10]}"


class StatusEditor:
    """A working copy of the status, edited the way Flagger edits it during one tick."""

    def __init__(
        self,
        canary: canary_api.Canary,
        obs: observation.Observation,
        analysis_iterations: int,
    ) -> None:
        original = canary.status if canary.status is not None else status.CanaryStatus()
        self.original = original
        self.status = original.model_copy(deep=True)
        self.kind = canary.spec.target_ref.kind
        self.revision = obs.revision
        self.now = obs.now
        self.analysis_iterations = analysis_iterations

    @property
    def phase(self) -> Phase:
        return self.status.effective_phase

    @property
    def failed_checks(self) -> int:
        return self.status.failed_checks or 0

    @property
    def iterations(self) -> int:
        return self.status.iterations or 0

    @property
    def changed(self) -> bool:
        """True when the working copy differs from the status the tick started from."""
        return self.status.to_dict() != self.original.to_dict()

    def snapshot(self) -> status.CanaryStatus:
        """A copy of the status as it stands now."""
        return self.status.model_copy(deep=True)

    def _touch(self) -> None:
        self.status.last_transition_time = timestamp(self.now)

    def _conditions(self, phase: Phase) -> None:
        conditions = make_conditions(self.status, phase, self.kind, self.now)
        if conditions is not None:
            self.status.conditions = conditions

    def sync(
        self, phase: Phase, *, weight: int = 0, failed_checks: int = 0, iterations: int = 0
    ) -> None:
        """Flagger's ``SyncStatus``."""
        self._conditions(phase)
        self.status.phase = phase
        self.status.canary_weight = weight
        self.status.failed_checks = failed_checks
        self.status.iterations = iterations
        self.status.last_applied_spec = self.revision.spec_hash
        if phase is Phase.INITIALIZED:
            self.status.last_promoted_spec = self.revision.spec_hash
        self.status.tracked_configs = _configs(self.revision.configs)
        self._touch()

    def sync_revision(self) -> None:
        """``SyncStatus`` with the status unchanged: record the observed revision (Failed).

        Only stamped when the revision differs, so an idle failed canary causes no writes.
        """
        configs = _configs(self.revision.configs)
        if (
            self.status.last_applied_spec == self.revision.spec_hash
            and self.status.tracked_configs == configs
        ):
            return
        self.status.last_applied_spec = self.revision.spec_hash
        self.status.tracked_configs = configs
        self._touch()

    def set_phase(self, phase: Phase) -> None:
        """Flagger's ``SetStatusPhase``."""
        self.status.phase = phase
        self._touch()
        if phase not in (Phase.PROGRESSING, Phase.WAITING):
            self.status.canary_weight = 0
            self.status.iterations = 0
            if phase is Phase.WAITING_PROMOTION:
                self.status.iterations = self.analysis_iterations - 1
        if phase in (Phase.INITIALIZED, Phase.SUCCEEDED):
            self.status.last_promoted_spec = self.status.last_applied_spec
        self._conditions(phase)

    @property
    def applied_revision(self) -> str:
        """The :func:`revision_key` of the revision the status was last synced to."""
        return revision_key(self.status.last_applied_spec or "", self.status.tracked_configs)

    def remember_promoted(self, window: int) -> None:
        """Keep the applied revision among the last ``window`` promoted ones (rollback window);
        a revision promoted again moves to the end. Nothing is kept with no window."""
        if window <= 0 or not self.status.last_applied_spec:
            return
        key = self.applied_revision
        kept = [r for r in self.status.promoted_revisions or [] if r != key]
        self.status.promoted_revisions = [*kept, key][-window:]

    def set_weight(self, weight: int) -> None:
        self.status.canary_weight = weight
        self._touch()

    def set_iterations(self, iterations: int) -> None:
        self.status.iterations = iterations
        self._touch()

    def set_failed_checks(self, failed_checks: int) -> None:
        self.status.failed_checks = failed_checks
        self._touch()


def _configs(configs: Mapping[str, str] | None) -> dict[str, str] | None:
    return dict(configs) if configs is not None else None


def initializing(canary: canary_api.Canary, now: datetime.datetime) -> status.CanaryStatus:
    """The status Flagger writes when it first sees a canary (``setPhaseInitializing``)."""
    current = canary.status if canary.status is not None else status.CanaryStatus()
    new = current.model_copy(deep=True)
    conditions = make_conditions(current, Phase.INITIALIZING, canary.spec.target_ref.kind, now)
    if conditions is not None:
        new.conditions = conditions
        new.last_transition_time = timestamp(now)
        new.phase = Phase.INITIALIZING
    return new
