"""A third-party plugin registers everything in one place: its ``flagger_register`` hook.

One hook declares a router (with the RBAC rules its objects need), an observer, a metric backend
and a notifier; every surface reads it from there: ``flagger plugins``, the names validation
accepts, the daemon's lookups and the generated ClusterRole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from flagger import deploy_rbac, plugins

RULES = plugins.route_rules("fake.example.com", "meshroutes")


class _Backend(plugins.NopMetricBackend):
    pass


class _Observer(plugins.NopObserver):
    pass


class _Notifier(plugins.NopNotifier):
    pass


class _Router(plugins.NopRouter):
    pass


class _OnePlace:
    """The whole registration of a package serving the ``fakemesh`` mesh."""

    @plugins.hookimpl
    def flagger_register(self, registry: plugins.Registry) -> None:
        registry.router(["fakemesh", "fakemesh:v2"], self.router)
        registry.rules("fakemesh", RULES)
        registry.observer(
            "fakemesh", lambda name, context: _Observer() if name == "fakemesh" else None
        )
        registry.metric_backend("constant", self.backend)
        registry.notifier(
            "pager", lambda kind, spec, context: _Notifier() if kind == "pager" else None
        )

    def router(self, name: str, context: plugins.PluginContext) -> plugins.Router | None:
        return _Router() if name.startswith("fakemesh") else None

    def backend(
        self, kind: str, spec: Mapping[str, Any], context: plugins.PluginContext
    ) -> plugins.MetricBackend | None:
        return _Backend() if kind == "constant" else None


@pytest.fixture(scope="module")
def installed() -> plugins.Plugins:
    return plugins.load(extra=[_OnePlace()])


def test_listed_by_flagger_plugins_under_its_package(installed: plugins.Plugins) -> None:
    mine = {(x.kind, x.name) for x in installed.listings() if x.package == "_OnePlace"}
    assert mine == {
        (plugins.Kind.ROUTER, "fakemesh"),
        (plugins.Kind.ROUTER, "fakemesh:v2"),
        (plugins.Kind.OBSERVER, "fakemesh"),
        (plugins.Kind.METRIC_BACKEND, "constant"),
        (plugins.Kind.NOTIFIER, "pager"),
    }


def test_its_names_validate_and_are_served(installed: plugins.Plugins) -> None:
    context = plugins.PluginContext()
    assert {"fakemesh", "fakemesh:v2"} <= installed.names(plugins.Kind.ROUTER)
    assert isinstance(installed.router("fakemesh:v2", context), _Router)
    assert isinstance(installed.observer("fakemesh", context), _Observer)
    assert isinstance(installed.metric_backend("constant", {}, context), _Backend)
    assert isinstance(installed.notifier("pager", {}, context), _Notifier)
    # the built-ins are still served beside it
    assert not isinstance(installed.router("kubernetes", context), _Router)


def test_its_rbac_rules_join_the_role_of_its_provider(installed: plugins.Plugins) -> None:
    registry = installed.registry
    granted = deploy_rbac.grants(["fakemesh:v2"], registry=registry)
    assert {
        ("get", "fake.example.com", "meshroutes"),
        ("update", "fake.example.com", "meshroutes"),
    } <= granted
    assert granted - deploy_rbac.grants(["kubernetes"], registry=registry) == {
        ("get", "fake.example.com", "meshroutes"),
        ("create", "fake.example.com", "meshroutes"),
        ("update", "fake.example.com", "meshroutes"),
    }
    # the chart's built-in table is flagger's own only
    assert "fakemesh" not in deploy_rbac.provider_table(plugins.FLAGGER_PACKAGE, registry)
