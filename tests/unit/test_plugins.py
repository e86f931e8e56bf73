"""The plugin manager: entry points, listings, lookups by name, and a plugin from outside."""

from __future__ import annotations

from typing import Any

import pytest

from flagger import cli, plugins


class _FakeMeshRouter(plugins.NopRouter):
    pass


class _OutsidePlugin:
    """What a third-party package would register: one router for a made-up provider."""

    @plugins.hookimpl
    def flagger_register(self, registry: plugins.Registry) -> None:
        registry.router("fakemesh", self.router)

    def router(self, name: str, context: plugins.PluginContext) -> plugins.Router | None:
        return _FakeMeshRouter() if name == "fakemesh" else None


def test_builtins_come_from_entry_points_one_per_plugin_module() -> None:
    groups = {ep.name: ep.value for ep in plugins.entry_points()}
    assert groups["istio"] == "flagger.providers.istio"
    assert groups["observers"] == "flagger.metrics.observers"
    assert groups["metrics-prometheus"] == "flagger.metrics.backends.prometheus"
    assert groups["notify-slack"] == "flagger.webhooks.notifiers.slack"
    # no package-level entry points declaring lists of names
    assert not {"routers", "metrics", "notifiers"} & set(groups)


def test_each_flagger_name_is_registered_by_exactly_one_builtin_module() -> None:
    """Flagger's names (the CRD enums) are each served by one built-in module's
    ``flagger_register``; a name with no module would be listed "declared, not implemented"
    (none today)."""
    installed = plugins.load()
    for kind, names in plugins.FLAGGER_NAMES.items():
        registered = [
            x.name
            for x in installed.registry.registrations
            if x.kind is kind and x.package == "flagger"
        ]
        assert sorted(n for n in registered if n in names) == sorted(names), kind
    assert [x for x in installed.listings() if not x.implemented] == []


def test_a_flagger_name_no_module_registers_is_declared_not_implemented() -> None:
    import pluggy

    bare = plugins.Plugins(pluggy.PluginManager(plugins.PROJECT), plugins.Registry())
    listed = {(x.kind, x.name): (x.package, x.implemented) for x in bare.listings()}
    assert listed[(plugins.Kind.ROUTER, "istio")] == ("flagger", False)
    assert listed[(plugins.Kind.NOTIFIER, "slack")] == ("flagger", False)
    assert "istio" in bare.names(plugins.Kind.ROUTER)  # manifests using it still validate
    with pytest.raises(plugins.UnknownPlugin):  # never a silent fallback
        bare.router("istio", plugins.PluginContext())


def test_every_flagger_name_is_declared() -> None:
    installed = plugins.load()
    assert {"istio", "kubernetes", "nginx", "gatewayapi:v1", "appmesh:v1beta2"} <= installed.names(
        plugins.Kind.ROUTER
    )
    assert {"prometheus", "datadog", "cloudwatch"} <= installed.names(plugins.Kind.METRIC_BACKEND)
    assert installed.names(plugins.Kind.NOTIFIER) == {
        "slack",
        "msteams",
        "discord",
        "rocket",
        "gchat",
    }


def test_outside_plugin_is_listed_and_served() -> None:
    installed = plugins.load(extra=[_OutsidePlugin()])
    assert "fakemesh" in installed.names(plugins.Kind.ROUTER)
    router = installed.router("fakemesh", plugins.PluginContext())
    assert isinstance(router, _FakeMeshRouter)
    assert isinstance(router, plugins.Router)


def test_unknown_name_lists_the_installed_ones() -> None:
    installed = plugins.load(extra=[_OutsidePlugin()])
    with pytest.raises(plugins.UnknownPlugin) as raised:
        installed.router("linkerd2", plugins.PluginContext())
    message = str(raised.value)
    assert "'linkerd2'" in message
    assert "fakemesh" in message and "istio" in message


def test_knative_router_is_served() -> None:
    from flagger.providers import knative

    router = plugins.load().router("knative", plugins.PluginContext())
    assert isinstance(router, knative.KnativeRouter)


def test_nop_objects_keep_traffic_on_primary() -> None:
    import asyncio

    async def routes() -> Any:
        return await plugins.NopRouter().get_routes(None)

    assert asyncio.run(routes()) == (100, 0, False)


def test_plugins_command_prints_kind_name_package(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plugins", "--kind", "notifier"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["KIND", "NAME", "PACKAGE"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["notifier", n, "flagger"] for n in ["discord", "gchat", "msteams", "rocket", "slack"]
    ]


def test_an_installed_plugin_given_again_is_served_once() -> None:
    from flagger.webhooks.notifiers import slack

    installed = plugins.load(extra=[slack])
    assert [x.name for x in installed.listings() if x.name == "slack"] == ["slack"]
