"""What the I/O shell saw before a tick: the facts the decision is a function of.

The shell reads its caches (target revision, tracked configs, readiness, the router's current
weights) and hands them over as one frozen :class:`Observation`. Nothing here is fetched lazily:
the decision code never asks the world a question it could not answer from this object, except
for the checks it requests explicitly (webhooks and metric queries, see
:mod:`flagger.analysis.checks`).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping

from flagger.api import actions


@dataclasses.dataclass(frozen=True)
class Readiness:
    """A workload's readiness as Flagger's ``IsPrimaryReady``/``IsCanaryReady`` report it.

    ``ready`` workloads carry no message. A workload that is not ready carries Flagger's
    message (``Halt advancement podinfo.test waiting for rollout to finish: 0 of 1 (readyThreshold
    100%) updated replicas are available``) and ``retriable``: False means the progress deadline
    is exceeded and the canary must roll back.
    """

    ready: bool = True
    message: str = ""
    retriable: bool = True

    @classmethod
    def ok(cls) -> Readiness:
        """Ready."""
        return cls()

    @classmethod
    def waiting(cls, message: str) -> Readiness:
        """Not ready yet; try again next tick."""
        return cls(ready=False, message=message, retriable=True)

    @classmethod
    def failed(cls, message: str) -> Readiness:
        """Not ready and never will be (progress deadline exceeded)."""
        return cls(ready=False, message=message, retriable=False)


@dataclasses.dataclass(frozen=True)
class Routes:
    """The router's current split, as ``get_routes`` reads it back."""

    primary: int = 100
    canary: int = 0
    mirrored: bool = False


@dataclasses.dataclass(frozen=True)
class Revision:
    """The target as it is now: the pod template hash and the tracked config checksums.

    ``configs`` maps ``configmap/<name>`` and ``secret/<name>`` to a checksum, as
    ``status.trackedConfigs`` does; ``None`` when config tracking is disabled.
    """

    spec_hash: str
    configs: Mapping[str, str] | None = None


@dataclasses.dataclass(frozen=True)
class Observation:
    """Everything one tick is decided from, besides the Canary object itself.

    ``now`` is the time the shell stamps on status changes (``lastTransitionTime`` and the
    ``Promoted`` condition); the decision code never reads a clock. ``action`` is the pending
    request from the ``flagger.app/action`` annotation, read by the shell.
    """

    now: datetime.datetime
    revision: Revision
    routes: Routes = Routes()
    primary: Readiness = Readiness()
    canary: Readiness = Readiness()
    #: A request made by hand and not handled yet (see :mod:`flagger.analysis.manual`).
    action: actions.ActionRequest | actions.InvalidRequest | None = None
    #: With replica-based weights: the primary's and the canary's replicas together.
    replicas: int = 0
