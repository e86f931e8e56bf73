"""The canary state machine: Flagger's scheduler as pure code.

A tick of a canary (Flagger's ``advanceCanary``) is decided here from three inputs and nothing
else: the Canary object (spec and status), an :class:`~flagger.analysis.observation.Observation`
of the world made by the I/O shell (target revision and config checksums, primary and canary
readiness, the router's current weights, the time), and the answers to the checks the tick asks
for. No I/O, no asyncio, no clock: the daemon, the unit tests and ``flagger simulate`` run the
very same code.

**Why a generator.** Flagger interleaves checks and decisions within one tick: it calls the
confirm-rollout hooks and then either waits or starts the analysis; it stops at the first
failing rollout hook and never queries the next metric after one is out of range; a 2xx from a
rollback hook aborts everything else. A two-phase ``plan`` then ``decide`` would have to run
checks that Flagger would not run (and webhooks have side effects: a pre-rollout hook may run a
test suite). So :func:`engine.tick` is a generator written like Flagger's straight-line code:
it *yields* one check at a time (:class:`checks.CallWebhook`, :class:`checks.QueryMetric`),
*receives* the answer through ``send``, and *returns* a :class:`decision.Decision`::

    ticking = engine.tick(canary, observation)
    decision = engine.drive(ticking, answer)   # answer(request) -> response; or loop with send()

**Executing a decision.** ``Decision.actions`` are carried out in order by the shell through the
plugins (``SetRoutes`` -> ``router.set_routes``, ``Promote``/``ScaleToZero`` -> the workload
controller, ``RunPostRolloutHooks`` -> webhooks, ``Event``/``Alert`` -> recorder and notifiers,
``Record*`` -> Prometheus metrics). Then ``Decision.status`` (``None`` when unchanged) is
written once. A failing router or workload action ends the tick without the status write, as a
failing call ends Flagger's tick; the next tick starts again from the stored status.

Modules: :mod:`~flagger.analysis.observation` (inputs), :mod:`~flagger.analysis.checks`
(requests and answers), :mod:`~flagger.analysis.decision` (outputs),
:mod:`~flagger.analysis.engine` (the tick), :mod:`~flagger.analysis.status_editor` (how Flagger
edits the status, revision detection), :mod:`~flagger.analysis.weights` (the traffic ladder),
:mod:`~flagger.analysis.messages` (Flagger's wording).
"""

from __future__ import annotations

from flagger.analysis import checks, decision, engine, messages, observation, status_editor, weights

__all__ = ["checks", "decision", "engine", "messages", "observation", "status_editor", "weights"]
