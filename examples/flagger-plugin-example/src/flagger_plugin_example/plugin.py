"""The plugin module named by the ``flagger`` entry point: its whole registration.

flagger's plugin manager (pluggy) calls one hook, ``flagger_register``: it registers each name
this package serves with its factory, once. ``flagger plugins`` lists them, validation accepts
``spec.provider: fakemesh`` and MetricTemplates of type ``constant``, and the daemon builds the
router and the backend through the factories (which answer ``None`` for names they do not serve).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger import plugins

from .metrics import ConstantBackend
from .router import FakeMeshRouter

ROUTER = "fakemesh"
METRIC_BACKEND = "constant"
#: The router's routing tables are ConfigMaps; ``finalize`` deletes them.
RULES = (
    plugins.AccessRule(
        "", "configmaps", ("get", "create", "update", "delete"), "the fakemesh routing tables"
    ),
)


@plugins.hookimpl
def flagger_register(registry: plugins.Registry) -> None:
    registry.router(ROUTER, router)
    registry.rules(ROUTER, RULES)  # what the daemon's role needs when this router is enabled
    registry.metric_backend(METRIC_BACKEND, metric_backend)


def router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    return FakeMeshRouter(context.kube) if name == ROUTER else None


def metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    return ConstantBackend.from_spec(spec) if provider_type == METRIC_BACKEND else None
