"""An asyncio event loop on virtual time: when nothing is ready to run, the clock jumps to the
next timer instead of the process sleeping, so an hour of ``asyncio.sleep`` / ``wait_for``
timeouts takes milliseconds and timings are exact.

Sockets still work (the selector is polled without blocking). A loop left with neither timers
nor ready callbacks while a test waits would sleep forever on a real clock; here it raises
`Deadlock` instead.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Deadlock", "VirtualTimeLoop", "run"]

T = TypeVar("T")


class Deadlock(RuntimeError):
    """Nothing can ever run again: no timer, no ready callback, no I/O."""


class _Selector(selectors.BaseSelector):
    """Polls the real selector; a wait with nothing ready moves the clock instead."""

    def __init__(self, real: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._real, self._loop = real, loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise Deadlock("the loop would wait forever: no timer and nothing ready")
        self._loop.advance(timeout)
        return ready

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Any:
        return self._real.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose `time` is virtual (starts at 0)."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0
        self._selector: selectors.BaseSelector = _Selector(self._selector, self)

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self._now += max(0.0, seconds)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a fresh virtual-time loop (like `asyncio.run`)."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
