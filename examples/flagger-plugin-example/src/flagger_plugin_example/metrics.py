"""The ``constant`` metric backend: every query answers the number in the provider's address.

A MetricTemplate::

    spec:
      provider:
        type: constant
        address: "99.5"
      query: anything

makes every check of a metric using it read 99.5. Useful for demos and for testing analysis
thresholds without a metrics service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flagger import plugins


class ConstantBackend:
    """Implements :class:`flagger.plugins.MetricBackend`."""

    def __init__(self, value: float) -> None:
        self.value = value

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> ConstantBackend:
        """Build from a MetricTemplate ``spec.provider`` (wire form); ``ValueError`` when the
        address is not a number (the daemon reports it on the Canary)."""
        raw = spec.get("address")
        try:
            return cls(float(str(raw)))
        except ValueError:
            raise ValueError(
                f"the constant metric provider needs a number in spec.provider.address, got {raw!r}"
            ) from None

    async def run_query(self, query: str) -> float:
        if math.isnan(self.value):
            raise plugins.NoValuesFound(query)
        return self.value

    async def is_online(self) -> bool:
        return True
