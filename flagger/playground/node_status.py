"""What the node agent reports: pod addresses and pod status.

Pod addresses: every pod gets an address of its own on the loopback interface (127.0.0.1 is the
node's own address, the ``hostIP``); an address is free again once its pod's processes have
stopped, and the lowest free one is handed out first, as Linux hands out file descriptors.
:class:`AddressPool` keeps the book. Several agents on one machine (a playground while the tests
run) must not hand out the same address: each one claims a /16 block of its own,
``127.X.0.0/16`` (:class:`AddressBlock`, an exclusive lock on a file that the kernel drops when
the process ends, so a killed agent leaves no stale claim).

Pod status: :class:`PodStatus` turns the containers' statuses into the ``status`` a kubelet
writes: ``phase``, ``podIP``/``podIPs``, ``hostIP``/``hostIPs``, ``startTime``, the conditions
``PodScheduled``, ``Initialized``, ``PodReadyToStartContainers``, ``ContainersReady`` and
``Ready`` (with ``lastTransitionTime`` moving only when a condition's status changes) and
``containerStatuses``.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import pathlib
import tempfile
from collections.abc import Sequence
from typing import Any

from flagger.playground.node_containers import now_rfc3339

__all__ = ["AddressBlock", "AddressPool", "PodStatus", "phase"]

#: Where the agents of this machine keep their block claims.
BLOCK_LOCK_DIR = pathlib.Path(tempfile.gettempdir()) / "flagger-playground-address-blocks"
#: 127.0.X and 127.1.X stay for fixed addresses (servers on 127.0.0.1, tests' own picks).
FIRST_BLOCK, LAST_BLOCK = 2, 254


class AddressBlock:
    """``127.X.0.0/16`` claimed by this process until :meth:`release` (or its exit)."""

    def __init__(self, octet: int, fd: int) -> None:
        self.octet, self._fd = octet, fd

    @classmethod
    def claim(cls, lock_dir: pathlib.Path | None = None) -> AddressBlock:
        """The first block no other live process holds."""
        where = lock_dir or BLOCK_LOCK_DIR
        where.mkdir(parents=True, exist_ok=True, mode=0o1777)
        for octet in range(FIRST_BLOCK, LAST_BLOCK + 1):
            fd = os.open(where / f"127.{octet}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return cls(octet, fd)
        raise RuntimeError(f"every 127.X.0.0/16 address block is taken (claims in {where})")

    @property
    def first(self) -> str:
        """The first pod address of the block."""
        return f"127.{self.octet}.0.2"

    @property
    def last(self) -> str:
        """The last pod address of the block."""
        return f"127.{self.octet}.255.254"

    def release(self) -> None:
        """Give the block back."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


class AddressPool:
    """Hands out 127.0.0.N addresses, lowest free first."""

    def __init__(self, first: str = "127.0.0.2", last: str = "127.0.255.254") -> None:
        self._first = int(ipaddress.IPv4Address(first))
        self._last = int(ipaddress.IPv4Address(last))
        self._taken: set[int] = set()

    def allocate(self, preferred: str | None = None) -> str:
        """A free address; ``preferred`` (the address a pod already had) when it is free."""
        if preferred:
            with_number = self._number(preferred)
            if with_number is not None and with_number not in self._taken:
                self._taken.add(with_number)
                return preferred
        for number in range(self._first, self._last + 1):
            if number not in self._taken and number & 0xFF not in (0, 255):
                self._taken.add(number)
                return str(ipaddress.IPv4Address(number))
        raise RuntimeError("no free pod address left")

    def release(self, address: str) -> None:
        """Make ``address`` free again."""
        number = self._number(address)
        if number is not None:
            self._taken.discard(number)

    def taken(self) -> list[str]:
        """The addresses in use, in order."""
        return [str(ipaddress.IPv4Address(n)) for n in sorted(self._taken)]

    def _number(self, address: str) -> int | None:
        try:
            number = int(ipaddress.IPv4Address(address))
        except ValueError:
            return None
        return number if self._first <= number <= self._last else None


def phase(containers: Sequence[dict[str, Any]], restart_policy: str) -> str:
    """The pod phase from its container statuses, by the kubelet's rules."""
    waiting = running = succeeded = failed = 0
    for status in containers:
        state = status.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
            else:
                failed += 1
        elif status.get("lastState", {}).get("terminated") and restart_policy != "Never":
            running += 1  # between restarts
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if failed:
        return "Failed"
    return "Succeeded" if succeeded else "Pending"


class PodStatus:
    """Builds a pod's status and remembers when each condition last changed."""

    def __init__(self, pod_ip: str, host_ip: str) -> None:
        self.pod_ip = pod_ip
        self.host_ip = host_ip
        self.start_time = now_rfc3339()
        self._conditions: dict[str, tuple[str, str]] = {}

    def _condition(self, kind: str, true: bool) -> dict[str, Any]:
        status = "True" if true else "False"
        previous = self._conditions.get(kind)
        if previous is None or previous[0] != status:
            previous = (status, now_rfc3339())
            self._conditions[kind] = previous
        condition: dict[str, Any] = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": previous[1],
        }
        if not true and kind in ("ContainersReady", "Ready"):
            condition["reason"] = "ContainersNotReady"
        return condition

    def build(self, containers: Sequence[dict[str, Any]], restart_policy: str) -> dict[str, Any]:
        """The ``status`` for these container statuses."""
        ready = bool(containers) and all(c.get("ready") for c in containers)
        conditions = [
            self._condition("PodReadyToStartContainers", True),
            self._condition("Initialized", True),
            self._condition("Ready", ready),
            self._condition("ContainersReady", ready),
            self._condition("PodScheduled", True),
        ]
        return {
            "phase": phase(containers, restart_policy),
            "conditions": conditions,
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "startTime": self.start_time,
            "containerStatuses": list(containers),
        }
