"""The plugin module named by the ``flagger`` entry point: declarations and factories.

flagger's plugin manager (pluggy) calls these hooks:

- ``flagger_provides`` — what this package serves; ``flagger plugins`` lists it and validation
  accepts ``spec.provider: fakemesh`` and MetricTemplates of type ``constant``;
- ``flagger_router`` — the router for a provider name, or ``None`` for names it does not serve;
- ``flagger_metric_backend`` — the backend for a MetricTemplate provider type, or ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger import plugins

from .metrics import ConstantBackend
from .router import FakeMeshRouter

ROUTER = "fakemesh"
METRIC_BACKEND = "constant"


@plugins.hookimpl
def flagger_provides() -> list[plugins.Provided]:
    return [
        plugins.Provided(plugins.Kind.ROUTER, ROUTER),
        plugins.Provided(plugins.Kind.METRIC_BACKEND, METRIC_BACKEND),
    ]


@plugins.hookimpl
def flagger_router(name: str, context: plugins.PluginContext) -> plugins.Router | None:
    return FakeMeshRouter(context.kube) if name == ROUTER else None


@plugins.hookimpl
def flagger_metric_backend(
    provider_type: str, spec: Mapping[str, Any], context: plugins.PluginContext
) -> plugins.MetricBackend | None:
    return ConstantBackend.from_spec(spec) if provider_type == METRIC_BACKEND else None
