"""Helpers shared by the workload controller tests (polling, Canary objects)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from flagger.api import canary as canary_api
from flagger.kube import client as kube_client

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 30.0
) -> T:
    """Call `probe` until `accept` holds for its result; the last result otherwise fails."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not accepted after {timeout}s: {value!r}")
        await asyncio.sleep(0.2)


async def create_canary(
    kube: kube_client.Kube, namespace: str, target_kind: str = "Deployment", **spec: Any
) -> canary_api.Canary:
    """Create a Canary for `podinfo` and return it as the model (with its uid)."""
    body = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": target_kind, "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
            **spec,
        },
    }
    created = await kube.create(body)
    return as_model(created)


def as_model(obj: dict[str, Any]) -> canary_api.Canary:
    return canary_api.Canary.model_validate(obj)


def with_status(canary: canary_api.Canary, **status: Any) -> canary_api.Canary:
    """The same Canary with `status` fields (camelCase) replaced."""
    body = canary.to_manifest()
    body["status"] = {**(body.get("status") or {}), **status}
    return as_model(body)
