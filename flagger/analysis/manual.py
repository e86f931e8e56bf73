"""Actions asked by hand, decided like the rest of a tick: from the inputs, with no I/O.

The shell reads the pending request from the ``flagger.app/action`` annotation
(:mod:`flagger.api.actions`) and hands it over as :attr:`Observation.action
<flagger.analysis.observation.Observation.action>`. A tick that has a request does only this:

============  ==========================================  ========================================
action        when                                        what
============  ==========================================  ========================================
promote       Progressing, Waiting, WaitingPromotion      one step now, its checks and gates
                                                          skipped (the last step promotes;
                                                          in Waiting, the step starts the
                                                          analysis)
promote       same                                        ``--full``: promote now (Promoting)
abort         same                                        roll back now: phase Failed, as a
                                                          failed analysis rolls back
retry         Failed                                      analyse the current revision again
pause         Progressing, Waiting, WaitingPromotion      hold: weights kept, no checks counted
resume        paused                                      go on from where it was held
============  ==========================================  ========================================

Anything else is refused with a Warning event naming why ("cannot promote podinfo.test: no
analysis in progress"); a Canary with ``spec.suspend: true`` is not ticked, and the shell
refuses its requests with :func:`refused_while_suspended`. Either way the request is recorded
in ``status.lastAction`` (id, who, accepted, message), written with the rest of the status, so
it is handled exactly once.
Accepted actions are also sent to the alert providers.
"""

from __future__ import annotations

import datetime
from collections.abc import Generator
from typing import TYPE_CHECKING

from flagger.analysis import checks, decision
from flagger.analysis import status_editor as status_edit
from flagger.api import actions
from flagger.api import status as status_api

if TYPE_CHECKING:
    from flagger.analysis import engine

Phase = status_api.CanaryPhase
Action = actions.Action
Handling = Generator[checks.Request, checks.Response, None]

#: Phases of an analysis that a person can promote, abort or pause.
IN_ANALYSIS = frozenset({Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION})


def refusal(
    run: engine._Tick, request: actions.ActionRequest | actions.InvalidRequest
) -> str | None:
    """Why ``request`` makes no sense now, or None when it does."""
    if isinstance(request, actions.InvalidRequest):
        return request.message
    return why_not(request.action, run.editor.phase, bool(run.editor.status.paused))


def why_not(action: actions.Action, phase: Phase, paused: bool) -> str | None:
    """Why ``action`` makes no sense in ``phase``, or None when it does (the dashboard asks
    the same question to disable its buttons)."""
    if phase in (Phase.TERMINATING, Phase.TERMINATED):
        return "the canary is being deleted"
    if phase in (Phase.NEW, Phase.INITIALIZING):
        return "the canary is not initialized yet"
    if action is Action.RETRY:
        if phase is not Phase.FAILED:
            return f"only a failed analysis can be retried (phase {phase.value})"
        return None
    if phase in (Phase.PROMOTING, Phase.FINALISING):
        return "the promotion is already in progress"
    if phase not in IN_ANALYSIS:
        return "no analysis in progress"
    if action is Action.PAUSE and paused:
        return "the analysis is already paused"
    if action is Action.RESUME and not paused:
        return "the analysis is not paused"
    return None


def handle(run: engine._Tick, request: actions.ActionRequest | actions.InvalidRequest) -> Handling:
    """Act on ``request`` (or refuse it) and record it; the tick then ends."""
    why = refusal(run, request)
    if why is not None:
        message = refusal_message(run.name, request, why)
        run.warn(message)
        _record(run, request, accepted=False, message=message)
        run.act(decision.RecordPhase(run.editor.phase))
        return
    assert isinstance(request, actions.ActionRequest)
    who = request.requested_by or "someone"
    editor = run.editor
    match request.action:
        case Action.PROMOTE if request.full:
            message = f"Promotion of {run.name} requested by {who}: skipping the remaining analysis"
            _accept(run, request, message)
            editor.status.paused = None
            run.promote()
        case Action.PROMOTE:
            message = f"Advance of {run.name} requested by {who}: skipping this step's checks"
            _accept(run, request, message)
            editor.status.paused = None
            run.manual_step = True
            if editor.phase is Phase.WAITING:  # the step is starting the analysis
                yield from run.check_canary_status()
            else:
                yield from run.run_strategy()
        case Action.ABORT:
            message = f"Rollback of {run.name} requested by {who}"
            _accept(run, request, message, severity="warn")
            editor.status.paused = None
            run.rollback()
        case Action.RETRY:
            message = f"Retry of {run.name} requested by {who}: analysing the current revision"
            _accept(run, request, message)
            yield from run.check_canary_status()
        case Action.PAUSE:
            weight = editor.status.canary_weight or 0
            message = f"Analysis of {run.name} paused by {who} at canary weight {weight}"
            _accept(run, request, message)
            editor.status.paused = True
            editor.set_weight(weight)  # stamps lastTransitionTime
        case Action.RESUME:
            message = f"Analysis of {run.name} resumed by {who}"
            _accept(run, request, message)
            editor.status.paused = None
            editor.set_weight(editor.status.canary_weight or 0)
    run.act(decision.RecordPhase(editor.phase))


def refusal_message(
    canary: str, request: actions.ActionRequest | actions.InvalidRequest, why: str
) -> str:
    """``cannot promote podinfo.test: no analysis in progress (request 3f2a91c0 by alice)``."""
    verb = request.action.value if isinstance(request, actions.ActionRequest) else "act on"
    return f"cannot {verb} {canary}: {why}{_asked(request)}"


def refused_while_suspended(
    canary: str, request: actions.ActionRequest | actions.InvalidRequest, now: datetime.datetime
) -> tuple[str, status_api.CanaryActionRecord]:
    """A request made while ``spec.suspend`` is true (the canary is not ticked): the Warning
    event's text and the ``status.lastAction`` record refusing it."""
    why = "the canary is suspended (spec.suspend: true); resume it first"
    message = refusal_message(canary, request, why)
    return message, _record_of(request, accepted=False, message=message, now=now)


def _asked(request: actions.ActionRequest | actions.InvalidRequest) -> str:
    if isinstance(request, actions.InvalidRequest):
        return ""
    who = f" by {request.requested_by}" if request.requested_by else ""
    return f" (request {request.short_id}{who})"


def _accept(
    run: engine._Tick,
    request: actions.ActionRequest,
    message: str,
    severity: decision.AlertSeverity = "info",
) -> None:
    run.event(message, "warning" if severity == "warn" else "info")
    run.alert(message, severity)
    _record(run, request, accepted=True, message=message)


def _record(
    run: engine._Tick,
    request: actions.ActionRequest | actions.InvalidRequest,
    *,
    accepted: bool,
    message: str,
) -> None:
    run.editor.status.last_action = _record_of(
        request, accepted=accepted, message=message, now=run.obs.now
    )


def _record_of(
    request: actions.ActionRequest | actions.InvalidRequest,
    *,
    accepted: bool,
    message: str,
    now: datetime.datetime,
) -> status_api.CanaryActionRecord:
    valid = request if isinstance(request, actions.ActionRequest) else None
    return status_api.CanaryActionRecord(
        id=request.id,
        action=valid.action.value if valid else "invalid",
        full=True if valid and valid.full else None,
        requested_by=(valid.requested_by or None) if valid else None,
        accepted=accepted,
        message=message,
        handled_at=status_edit.timestamp(now),
    )
