"""Errors of the workload controllers.

`WorkloadError` carries a message worded like Flagger's (e.g. `deployment podinfo.test get
query error: deployments.apps "podinfo" not found`), meant for a Warning event and a status
condition on the one Canary it concerns.
"""

from __future__ import annotations

__all__ = ["WorkloadError"]


class WorkloadError(Exception):
    """The target or an object it needs is missing or unusable; the message says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
