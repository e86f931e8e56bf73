"""A Canary's ``status``: where the rollout is, written by the controller.

``phase`` follows Flagger's state machine (:class:`CanaryPhase`); ``conditions`` holds one
``Promoted`` condition whose status is True on Initialized and Succeeded, False on Failed and
Unknown otherwise, with the phase as its reason.
"""

from __future__ import annotations

import enum

import pydantic

from flagger.api import common
from flagger.api.common import field

PROMOTED_CONDITION = "Promoted"


class CanaryPhase(enum.StrEnum):
    """The phases of a canary run; the empty value is a canary Flagger has not seen yet."""

    NEW = ""
    INITIALIZING = "Initializing"
    INITIALIZED = "Initialized"
    WAITING = "Waiting"
    PROGRESSING = "Progressing"
    WAITING_PROMOTION = "WaitingPromotion"
    PROMOTING = "Promoting"
    FINALISING = "Finalising"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


class CanaryCondition(common.FlaggerModel):
    """A status condition of a canary (Flagger only sets ``Promoted``)."""

    type: str = common.required("Type of this condition")
    status: str = common.required("Status of this condition")
    last_update_time: common.Timestamp | None = field("LastUpdateTime of this condition")
    last_transition_time: common.Timestamp | None = field("LastTransitionTime of this condition")
    reason: str = common.required("Reason for the current status of this condition")
    message: str | None = field("Message associated with this condition")


class CanaryActionRecord(common.FlaggerModel):
    """The last request made by hand (``flagger.app/action``) and what the daemon did with it."""

    id: str = common.required("Id of the request (from the flagger.app/action annotation)")
    action: str = common.required("promote, abort, retry, pause or resume")
    full: bool | None = field("promote --full: skip every remaining step")
    requested_by: str | None = field("Who asked, as the API server named them")
    accepted: bool = common.required("Whether the daemon acted on the request")
    message: str | None = field("What the daemon did, or why it could not")
    handled_at: common.Timestamp | None = field("When the daemon handled the request")


class CanaryStatus(common.FlaggerModel):
    """CanaryStatus defines the observed state of a canary."""

    phase: CanaryPhase | None = pydantic.Field(
        default=None, strict=False, description="Analysis phase of this canary"
    )
    failed_checks: common.IntNumber | None = field(
        "Failed check count of the current canary analysis"
    )
    canary_weight: common.IntNumber | None = field("Traffic weight routed to canary")
    iterations: common.IntNumber | None = field("Iteration count of the current canary analysis")
    tracked_configs: dict[str, str] | None = field("TrackedConfig of this canary")
    last_applied_spec: str | None = field("LastAppliedSpec of this canary")
    last_promoted_spec: str | None = field("LastPromotedSpec of this canary")
    last_transition_time: common.Timestamp | None = field("LastTransitionTime of this canary")
    last_check_time: common.Timestamp | None = field(
        "When the analysis last ran its checks (an extension): the next check waits until "
        "analysis.interval has passed since then, also when the daemon restarts"
    )
    session_affinity_cookie: str | None = field("Session affinity cookie of the current canary run")
    primary_session_affinity_cookie: str | None = field(
        "Primary session affinity cookie of the current canary run"
    )
    previous_session_affinity_cookie: str | None = field(
        "Session affinity cookie of the previous canary run"
    )
    conditions: list[CanaryCondition] | None = field("Status conditions of this canary")
    promoted_revisions: list[str] | None = field(
        "The last promoted revisions, oldest first, kept with the flagger.app/rollback-window "
        "annotation (an extension)"
    )
    paused: bool | None = field("The analysis is paused by hand (flagger pause); resume goes on")
    last_action: CanaryActionRecord | None = field(
        "The last request made by hand (flagger.app/action annotation) and its outcome"
    )

    @property
    def effective_phase(self) -> CanaryPhase:
        """The phase; unset reads as :attr:`CanaryPhase.NEW`."""
        return self.phase if self.phase is not None else CanaryPhase.NEW
