"""Weights and metric values over time, for the dashboard's charts.

The dashboard watches the Canaries it shows (a list+watch cache, :mod:`flagger.kube.informers`)
and keeps a sample of the canary weight and the phase every time either changes, so a weight
chart fills in from the moment the dashboard starts. With ``--prometheus`` it asks Prometheus
for the last hour of the daemon's own series instead (``flagger_canary_weight`` and
``flagger_canary_metric_analysis``), which covers rollouts older than the dashboard.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from flagger.api import common
from flagger.kube import client as kube_client
from flagger.kube import informers

__all__ = ["History", "Sample", "prometheus_series"]

MAX_SAMPLES = 2000


@dataclasses.dataclass(frozen=True)
class Sample:
    """The canary's weight and phase as seen at ``time`` (seconds since the epoch)."""

    time: float
    weight: int
    phase: str
    paused: bool


def _reduce(obj: dict[str, Any]) -> tuple[int, str, bool]:
    status = obj.get("status") or {}
    weight = status.get("canaryWeight")
    return (
        weight if isinstance(weight, int) else 0,
        str(status.get("phase") or ""),
        bool(status.get("paused")),
    )


class History:
    """Samples of every canary's weight, kept from a watch of the Canaries."""

    def __init__(
        self,
        kube: kube_client.Kube,
        namespace: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.samples: dict[informers.ObjectKey, collections.deque[Sample]] = {}
        self.informer = informers.Informer(
            kube, common.API_VERSION, "Canary", namespace, reduce=_reduce
        )
        self.informer.subscribe(self._changed)

    def _changed(
        self,
        key: informers.ObjectKey,
        old: tuple[int, str, bool] | None,
        new: tuple[int, str, bool] | None,
    ) -> None:
        if new is None:
            self.samples.pop(key, None)
            return
        found = self.samples.setdefault(key, collections.deque(maxlen=MAX_SAMPLES))
        found.append(Sample(self.clock(), *new))

    def start(self) -> None:
        self.informer.start()

    async def stop(self) -> None:
        await self.informer.stop()

    def weights(self, namespace: str, name: str) -> list[tuple[float, int]]:
        """(time, weight) points, ending now."""
        found = list(self.samples.get(informers.ObjectKey(namespace, name), ()))
        points = [(s.time, s.weight) for s in found]
        if points:
            points.append((self.clock(), points[-1][1]))
        return points


async def prometheus_series(
    session: aiohttp.ClientSession, url: str, query: str, seconds: float = 3600.0
) -> dict[str, list[tuple[float, float]]]:
    """A range query of the last ``seconds``: series keyed by their ``metric`` label (or ``""``);
    empty when Prometheus does not answer (the chart falls back to the dashboard's samples)."""
    end = time.time()
    params = {
        "query": query,
        "start": f"{end - seconds:.0f}",
        "end": f"{end:.0f}",
        "step": "2",
    }
    try:
        async with session.get(
            f"{url.rstrip('/')}/api/v1/query_range",
            params=params,
            timeout=aiohttp.ClientTimeout(total=5),
        ) as response:
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return {}
    series: dict[str, list[tuple[float, float]]] = {}
    for result in ((body or {}).get("data") or {}).get("result") or []:
        label = str((result.get("metric") or {}).get("metric") or "")
        series[label] = [(float(t), float(v)) for t, v in result.get("values") or []]
    return series
