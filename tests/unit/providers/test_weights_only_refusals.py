"""Routers that only split by weight (APISIX, Traefik) refuse what they cannot route, naming
the providers that can (router_helpers.refuse_beyond_weights).

Matrix: provider (apisix, traefik) x feature (A/B testing, mirroring): the exact error text.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from flagger.providers import apisix, traefik
from tests.support.canaries import routed_canary
from tests.support.routers import AB_ANALYSIS


@pytest.mark.parametrize("module", [apisix, traefik], ids=lambda m: m.NAME)
@pytest.mark.parametrize(
    ("analysis", "feature"),
    [
        (
            AB_ANALYSIS,
            "A/B testing (analysis.match); providers that do: istio, appmesh, appmesh:v1beta2, "
            "contour, gloo, nginx, gatewayapi:v1, gatewayapi:v1beta1",
        ),
        (
            {"interval": "1m", "threshold": 5, "iterations": 5, "mirror": True},
            "traffic mirroring (analysis.mirror); providers that do: istio, gatewayapi:v1, "
            "gatewayapi:v1beta1",
        ),
    ],
)
def test_unsupported_features(module: ModuleType, analysis: dict[str, Any], feature: str) -> None:
    with pytest.raises(module.UnsupportedFeature) as caught:
        module.check_supported(routed_canary(module.NAME, None, analysis))
    provider = module.NAME
    assert (
        str(caught.value) == f"canary podinfo.test: provider {provider} does not support {feature}"
    )
