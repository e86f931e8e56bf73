"""What a bench run measures from outside the operator: /proc, the audit log, /metrics."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import itertools
import json
import math
import os
import pathlib
import urllib.request
from collections.abc import Iterable, Sequence

from prometheus_client.parser import text_string_to_metric_families

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READ_VERBS = ("get", "list")
WRITE_VERBS = ("create", "update", "patch", "delete")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size now."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclasses.dataclass(frozen=True)
class Request:
    """One completed API request of the audit log."""

    at: float
    """Unix time the API server received it."""
    verb: str
    resource: str
    """``resource`` or ``resource/subresource``, with the API group (``deployments.apps``)."""
    namespace: str
    name: str


def _unix(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class AuditLog:
    """Reads the API server's audit log incrementally, keeping one user's requests."""

    def __init__(self, path: pathlib.Path, username: str) -> None:
        self.path, self.username = path, username
        self._offset = 0
        self._inode: int | None = None
        self._needle = json.dumps(username)
        self.requests: list[Request] = []

    def poll(self) -> list[Request]:
        """Read what was appended since the last call; return every request of the user.

        A rotated log (kube-apiserver renames it ``audit-<time>.log`` at ``--audit-log-maxsize``)
        is followed: the rest of the renamed file, then the new one from its start."""
        if not self.path.exists():
            return self.requests
        inode = self.path.stat().st_ino
        if self._inode is not None and inode != self._inode:
            rotated = sorted(self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}"))
            if rotated:
                self._read(rotated[-1])
            self._offset = 0
        self._inode = inode
        self._read(self.path)
        return self.requests

    def _read(self, path: pathlib.Path) -> None:
        with path.open("rb") as stream:
            stream.seek(self._offset)
            data = stream.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        for line in data[:end].decode("utf-8", "replace").splitlines():
            if self._needle not in line:
                continue
            event = json.loads(line)
            if event.get("stage") != "ResponseComplete":
                continue
            if (event.get("user") or {}).get("username") != self.username:
                continue
            ref = event.get("objectRef") or {}
            resource = ref.get("resource") or event.get("requestURI", "?").split("?")[0]
            if ref.get("subresource"):
                resource += "/" + ref["subresource"]
            if ref.get("apiGroup"):
                resource += "." + ref["apiGroup"]
            self.requests.append(
                Request(
                    _unix(event["requestReceivedTimestamp"]),
                    str(event["verb"]),
                    resource,
                    str(ref.get("namespace") or ""),
                    str(ref.get("name") or ""),
                )
            )

    def between(self, start: float, end: float) -> list[Request]:
        """The user's requests received in ``[start, end)`` (Unix times)."""
        return [r for r in self.poll() if start <= r.at < end]


def by_verb_and_resource(requests: Iterable[Request]) -> collections.Counter[tuple[str, str]]:
    return collections.Counter((r.verb, r.resource) for r in requests)


def tick_starts(requests: Iterable[Request], interval: float) -> dict[tuple[str, str], list[float]]:
    """Per canary, when its ticks began, judged by its GETs of the Canary (Flagger's
    ``advanceCanary`` starts with one): GETs closer than half an interval to the previous
    tick's start belong to that tick."""
    starts: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for r in sorted(requests, key=lambda r: r.at):
        if r.verb != "get" or not r.resource.startswith("canaries.") or "/" in r.resource:
            continue
        seen = starts[(r.namespace, r.name)]
        if not seen or r.at - seen[-1] > interval / 2:
            seen.append(r.at)
    return starts


def lateness_from_starts(
    starts: dict[tuple[str, str], list[float]], interval: float
) -> list[float]:
    """How late each tick began against the previous one's start plus the interval."""
    late: list[float] = []
    for times in starts.values():
        late += [max(0.0, b - a - interval) for a, b in itertools.pairwise(times)]
    return late


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A Prometheus endpoint's samples: name -> [(labels, value)]."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    found: dict[str, list[tuple[dict[str, str], float]]] = collections.defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append((dict(sample.labels), float(sample.value)))
    return found


def histogram_delta(
    before: dict[str, list[tuple[dict[str, str], float]]],
    after: dict[str, list[tuple[dict[str, str], float]]],
    name: str,
) -> list[tuple[float, float]]:
    """``(upper bound, observations)`` per bucket of histogram ``name`` between two scrapes
    (summed over label sets), cumulative as Prometheus keeps them."""

    def buckets(samples: dict[str, list[tuple[dict[str, str], float]]]) -> dict[float, float]:
        summed: dict[float, float] = collections.defaultdict(float)
        for labels, value in samples.get(f"{name}_bucket", []):
            summed[float(labels["le"])] += value
        return summed

    b, a = buckets(before), buckets(after)
    return sorted((le, a[le] - b.get(le, 0.0)) for le in a)


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Prometheus' ``histogram_quantile`` (linear within a bucket); NaN when empty."""
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower_bound
            span = count - lower_count
            return lower_bound + (le - lower_bound) * ((rank - lower_count) / span if span else 1)
        lower_bound, lower_count = le, count
    return lower_bound
