"""A Canary builder for the observability tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flagger.api import canary as canary_api


def build_canary(
    name: str = "podinfo",
    namespace: str = "test",
    target: str | None = None,
    analysis: dict[str, Any] | None = None,
) -> canary_api.Canary:
    return canary_api.Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "targetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": target or name,
                },
                "service": {"port": 9898},
                "analysis": analysis
                if analysis is not None
                else {"interval": "1m", "threshold": 5, "stepWeight": 10},
            },
        }
    )


@pytest.fixture
def make_canary() -> Callable[..., canary_api.Canary]:
    return build_canary
