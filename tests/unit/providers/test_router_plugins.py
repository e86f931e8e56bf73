"""The router modules are pluggy plugins on their own: each serves its provider name."""

from __future__ import annotations

from flagger import plugins
from flagger.providers import istio, kubernetes


def test_each_module_serves_its_provider() -> None:
    """Installed through their own entry points, exactly once each."""
    installed = plugins.load()
    context = plugins.PluginContext(kube=object())
    assert isinstance(installed.router("istio", context), istio.IstioRouter)
    assert isinstance(installed.router("kubernetes", context), kubernetes.KubernetesRouter)
    for router in (installed.router("istio", context), installed.router("kubernetes", context)):
        assert isinstance(router, plugins.Router)
    listed = [
        (x.name, x.package, x.implemented)
        for x in installed.listings()
        if x.kind is plugins.Kind.ROUTER and x.name in ("istio", "kubernetes")
    ]
    assert listed == [("istio", "flagger", True), ("kubernetes", "flagger", True)]


def test_istio_objects_have_no_owner_when_the_mesh_is_another_cluster() -> None:
    context = plugins.PluginContext(
        kube=object(), options={"kubeconfig-service-mesh": "/etc/mesh.yaml"}
    )
    router = istio.flagger_router("istio", context)
    assert isinstance(router, istio.IstioRouter) and router.set_owner_refs is False
    assert istio.flagger_router("linkerd", context) is None
    assert kubernetes.flagger_router("istio", context) is None


def test_routers_read_through_the_cached_reader_when_given() -> None:
    """A router's context names the daemon's watch-cache reader; without one it is ``kube``."""
    kube, cached = object(), object()
    assert plugins.PluginContext(kube=kube).reader is kube
    assert plugins.PluginContext(kube=kube, cached_reader=cached).reader is cached
