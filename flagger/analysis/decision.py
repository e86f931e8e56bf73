"""What a tick decided: actions for the shell to carry out, then the status to write once.

The shell executes :attr:`Decision.actions` in order through the plugins (router, workload,
webhooks, notifiers, metrics registry). If a router or workload action raises, Flagger records a
Warning event with the error and ends the tick: the shell does the same, skips the remaining
actions and does not write the status, so the next tick starts again from the same state.
Events, logs, alerts, metric records and post-rollout hooks never fail a decision. When every
action has run, the shell writes :attr:`Decision.status` (``None`` means nothing changed).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from flagger.api import canary as canary_api
from flagger.api import status

Severity = Literal["info", "warning", "error"]
AlertSeverity = Literal["info", "warn", "error"]


# --- traffic and workloads -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SetRoutes:
    """``router.set_routes(primary, canary, mirrored)``."""

    primary: int
    canary: int
    mirrored: bool = False


@dataclasses.dataclass(frozen=True)
class Promote:
    """Copy the target's pod template (and tracked configs) to ``<target>-primary``."""


@dataclasses.dataclass(frozen=True)
class ScaleToZero:
    """Scale the target (the canary workload) to zero."""


@dataclasses.dataclass(frozen=True)
class ScaleFromZero:
    """Scale the target up again (its replicas, else the primary's, else the scaler's min, 1)."""


@dataclasses.dataclass(frozen=True)
class PauseTargetScaler:
    """Pause the target's autoscaler (KEDA ``paused-replicas``; a no-op for an HPA)."""


@dataclasses.dataclass(frozen=True)
class ResumeTargetScaler:
    """Resume the target's autoscaler."""


@dataclasses.dataclass(frozen=True)
class ReconcilePrimaryScaler:
    """Re-sync the primary's autoscaler from the target's (done at promotion)."""


# --- hooks, events, alerts, metrics ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunPostRolloutHooks:
    """Call the ``post-rollout`` hooks in order with ``phase``, stopping at the first failure;
    results are only reported (they change no decision).

    The shell records an Event for each result with
    :func:`flagger.analysis.messages.post_rollout_passed` or
    :func:`~flagger.analysis.messages.post_rollout_failed`.
    """

    phase: status.CanaryPhase


@dataclasses.dataclass(frozen=True)
class Event:
    """A Kubernetes Event on the Canary (reason ``Synced``) and a log line with ``msg``.

    ``severity`` info is a Normal event logged at info; warning is a Warning event logged at
    info; error is a Warning event logged at error. ``phase`` is the canary's phase when the
    event is recorded (sent to event webhooks).
    """

    message: str
    severity: Severity
    phase: status.CanaryPhase


@dataclasses.dataclass(frozen=True)
class Log:
    """A log line only (no Kubernetes event)."""

    message: str
    level: Literal["debug", "info", "error"] = "info"


@dataclasses.dataclass(frozen=True)
class Alert:
    """A notification to the canary's alert providers (or the global Slack/Teams notifier).

    ``with_details`` adds the target, threshold, deadline and routing fields Flagger sends on
    initialization and on a new revision.
    """

    message: str
    severity: AlertSeverity
    with_details: bool = False


@dataclasses.dataclass(frozen=True)
class RecordWeight:
    """Set ``flagger_canary_weight`` for the primary and the canary."""

    primary: int
    canary: int


@dataclasses.dataclass(frozen=True)
class RecordPhase:
    """Set ``flagger_canary_status`` from the phase."""

    phase: status.CanaryPhase


@dataclasses.dataclass(frozen=True)
class RecordMetricValue:
    """Set ``flagger_canary_metric_analysis`` for one metric."""

    metric: str
    value: float


@dataclasses.dataclass(frozen=True)
class RecordOutcome:
    """Count a finished run in ``flagger_canary_successes_total`` or ``..._failures_total``."""

    succeeded: bool
    deployment_strategy: canary_api.Strategy


Action = (
    SetRoutes
    | Promote
    | ScaleToZero
    | ScaleFromZero
    | PauseTargetScaler
    | ResumeTargetScaler
    | ReconcilePrimaryScaler
    | RunPostRolloutHooks
    | Event
    | Log
    | Alert
    | RecordWeight
    | RecordPhase
    | RecordMetricValue
    | RecordOutcome
)

#: Actions that change the cluster and may fail (the shell stops at the first failure).
FALLIBLE = (
    SetRoutes,
    Promote,
    ScaleToZero,
    ScaleFromZero,
    PauseTargetScaler,
    ResumeTargetScaler,
    ReconcilePrimaryScaler,
)


@dataclasses.dataclass(frozen=True)
class Decision:
    """The outcome of one tick.

    ``status`` is the complete status to write, or ``None`` when it did not change.
    ``record_duration`` tells the shell to observe the tick's duration in
    ``flagger_canary_duration_seconds`` (Flagger does so once the analysis step is reached).
    """

    actions: tuple[Action, ...]
    status: status.CanaryStatus | None
    record_duration: bool = False

    @property
    def events(self) -> list[Event]:
        """The events, in order."""
        return [a for a in self.actions if isinstance(a, Event)]

    @property
    def messages(self) -> list[str]:
        """The event texts, in order (what ``kubectl describe canary`` shows)."""
        return [e.message for e in self.events]

    @property
    def routes(self) -> SetRoutes | None:
        """The last routing change of the tick, if any."""
        found = [a for a in self.actions if isinstance(a, SetRoutes)]
        return found[-1] if found else None
