"""Knative Serving facts shared by the Knative target kind (``flagger.workloads.knative``) and
the ``knative`` router (``flagger.providers.knative``): the API, Flagger's primary-revision
annotation, and the ``spec.traffic`` split."""

from __future__ import annotations

from typing import Any

__all__ = ["API_VERSION", "KIND", "PRIMARY_REVISION", "traffic"]

API_VERSION = "serving.knative.dev/v1"
KIND = "Service"
#: The annotation on the Knative Service naming the primary revision (Flagger's).
PRIMARY_REVISION = "flagger.app/primary-revision"


def traffic(primary_revision: str, primary: int, canary: int) -> list[dict[str, Any]]:
    """Knative's ``spec.traffic`` for the weights: the latest revision is the canary."""
    return [
        {"latestRevision": True, "percent": canary},
        {"revisionName": primary_revision, "percent": primary},
    ]
