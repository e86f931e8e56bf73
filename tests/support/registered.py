"""What a plugin module registers through its ``flagger_register`` hook."""

from __future__ import annotations

from types import ModuleType

from flagger import plugins


def registered(module: ModuleType) -> set[tuple[plugins.Kind, str]]:
    """(kind, name) of everything ``module.flagger_register`` registers."""
    registry = plugins.Registry()
    module.flagger_register(registry)
    return {(x.kind, x.name) for x in registry.registrations}
