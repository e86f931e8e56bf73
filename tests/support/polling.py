"""Waiting in tests that watch a real cluster or process: poll until something holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    diagnose: Callable[[], str] = lambda: "",
) -> Any:
    """Poll ``predicate`` every 0.5 s until it returns something truthy (returned); after
    ``timeout`` seconds fail naming ``what``, with ``diagnose()`` below."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout}s\n{diagnose()}")
