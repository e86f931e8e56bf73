"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's timing.

Flagger uses a Lease named ``flagger-leader-election`` with a 60 s lease, a 15 s renew deadline
and a 5 s retry period. The holder renews every retry period; a candidate takes the Lease over
only when its ``renewTime`` is older than the lease duration; a leader that cannot renew within
the renew deadline gives up (the daemon then exits, as Flagger does, so that it never acts
without the Lease). Writes use the Lease's resourceVersion, so two candidates never both win.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import re
import socket
import uuid
from typing import Any

from flagger.kube import client as kube_client
from flagger.kube import errors
from flagger.observability import logs

LEASE_NAME = "flagger-leader-election"
log = logs.get_logger("flagger.leader")


def lease_name(watch_label_selector: str = "") -> str:
    """The Lease of a shard: Flagger's name, plus the shard's selector (slugged, with a short
    hash) when ``-watch-label-selector`` restricts the replica to a shard, so that each shard
    elects its own leader."""
    if not watch_label_selector:
        return LEASE_NAME
    slug = re.sub(r"[^a-z0-9]+", "-", watch_label_selector.lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(watch_label_selector.encode()).hexdigest()[:8]
    return f"{LEASE_NAME}-{slug}-{digest}"


class LostLeadership(Exception):
    """The Lease could not be renewed in time."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _micro(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class LeaderElector:
    """Acquires and keeps one Lease for one identity."""

    def __init__(
        self,
        kube: kube_client.Kube,
        namespace: str,
        *,
        name: str = LEASE_NAME,
        identity: str | None = None,
        lease_seconds: float = 60.0,
        renew_deadline: float = 15.0,
        retry_period: float = 5.0,
    ) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.lease_seconds, self.renew_deadline = lease_seconds, renew_deadline
        self.retry_period = retry_period
        self.leading = False

    async def acquire(self) -> None:
        """Wait until this identity holds the Lease."""
        log.info(f"attempting to acquire leader lease {self.namespace}/{self.name}...")
        while not await self.try_acquire_or_renew():
            await asyncio.sleep(self.retry_period)
        self.leading = True
        log.info(
            f"successfully acquired lease {self.namespace}/{self.name}", identity=self.identity
        )

    async def keep(self) -> None:
        """Renew every retry period; raise :class:`LostLeadership` past the renew deadline."""
        last = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(self.retry_period)
            try:
                renewed = await self.try_acquire_or_renew()
            except Exception as exc:  # network trouble counts against the deadline
                log.error(f"failed to renew lease {self.namespace}/{self.name}: {exc}")
                renewed = False
            now = asyncio.get_running_loop().time()
            if renewed:
                last = now
            elif now - last > self.renew_deadline:
                self.leading = False
                raise LostLeadership(f"leader lease {self.namespace}/{self.name} lost")

    async def release(self) -> None:
        """Give the Lease up at a graceful stop, so the next leader need not wait it out."""
        if not self.leading:
            return
        lease = await self.kube.get("coordination.k8s.io/v1", "Lease", self.name, self.namespace)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        lease["spec"]["holderIdentity"] = ""
        lease["spec"]["leaseDurationSeconds"] = 1
        try:
            await self.kube.replace(lease)
        except errors.ApiError as exc:
            log.error(f"failed to release lease {self.namespace}/{self.name}: {exc}")
        self.leading = False

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: True when this identity holds the Lease afterwards."""
        now = _now()
        lease = await self.kube.get("coordination.k8s.io/v1", "Lease", self.name, self.namespace)
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_seconds),
            "acquireTime": _micro(now),
            "renewTime": _micro(now),
            "leaseTransitions": 0,
        }
        if lease is None:
            try:
                await self.kube.create(
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": self.namespace},
                        "spec": spec,
                    }
                )
            except errors.ApiError as exc:
                if exc.status == 409:
                    return False
                raise
            return True
        current = lease.get("spec") or {}
        holder = current.get("holderIdentity") or ""
        if holder != self.identity:
            renewed = _parse(current.get("renewTime")) or _parse(current.get("acquireTime"))
            duration = float(current.get("leaseDurationSeconds") or self.lease_seconds)
            if holder and renewed and (now - renewed).total_seconds() < duration:
                return False
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
        else:
            spec["acquireTime"] = current.get("acquireTime") or spec["acquireTime"]
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0)
        lease["spec"] = spec
        try:
            await self.kube.replace(lease)
        except errors.Conflict:
            return False
        return True
