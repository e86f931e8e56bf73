"""Flagger 1.44's flags, as its main.go reads them: environment variables win over their flags,
-master overrides the kubeconfig's server, -kubeconfig-service-mesh is a second client for the
routing objects, -no-cross-namespace-refs blocks MetricTemplate, AlertProvider and Gloo upstream
references, and the flags with no meaning here are announced as ignored."""

from __future__ import annotations

import logging
import pathlib

import pytest

from flagger import options, plugins
from flagger.api import canary as canary_api
from flagger.controller import daemon, observe
from flagger.kube import client as kube_client
from flagger.providers import appmesh, gloo, istio


def test_environment_wins_over_flags() -> None:
    env = {"SLACK_URL": "https://env.example/hook", "EVENT_WEBHOOK_URL": "http://env/"}
    parsed = options.parse(["-slack-url=https://flag.example/hook", "-event-webhook=x"], env)
    assert parsed.slack_url == "https://env.example/hook"
    assert parsed.event_webhook == "http://env/"
    # an empty variable does not override (Go's fromEnv), and the flag still applies
    assert options.parse(["-slack-url=https://flag/"], {"SLACK_URL": ""}).slack_url == (
        "https://flag/"
    )


def test_slack_user_and_channel_are_flags_only() -> None:
    """Flagger 1.44 reads no SLACK_USER/SLACK_CHANNEL variables."""
    parsed = options.parse([], {"SLACK_USER": "bot", "SLACK_CHANNEL": "#x"})
    assert (parsed.slack_user, parsed.slack_channel) == ("flagger", "")


KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


async def test_master_overrides_the_kubeconfig_server(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    kube = await kube_client.Kube.connect(str(path), master="https://127.0.0.2:7443")
    try:
        assert kube.api_client.configuration.host == "https://127.0.0.2:7443"
    finally:
        await kube.close()
    plain = await kube_client.Kube.connect(str(path))
    try:
        assert plain.api_client.configuration.host == "https://127.0.0.1:6443"
    finally:
        await plain.close()


def test_mesh_routers_write_through_the_mesh_cluster_client() -> None:
    main, mesh = object(), object()
    context = plugins.PluginContext(kube=main, mesh_client=mesh)
    router = istio.flagger_router(istio.NAME, context)
    assert router is not None and router.kube is mesh
    assert plugins.PluginContext(kube=main).mesh_kube is main
    # Gloo and App Mesh read objects of the main cluster (Services, the target) and write
    # theirs in the mesh cluster, as Flagger's kubeClient/meshClient pairs do
    gloo_router = gloo.flagger_router(gloo.NAME, context)
    assert isinstance(gloo_router, gloo.GlooRouter)
    assert (gloo_router.kube, gloo_router.services) == (mesh, main)
    appmesh_router = appmesh.flagger_router(appmesh.NAME_V1BETA2, context)
    assert isinstance(appmesh_router, appmesh.AppMeshV1beta2Router)
    assert (appmesh_router.kube, appmesh_router.workloads) == (mesh, main)


def _canary(**spec: object) -> canary_api.Canary:
    body: dict[str, object] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 2, "stepWeight": 10},
    }
    body.update(spec)
    return canary_api.Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": body,
        }
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {
                "analysis": {
                    "interval": "1m",
                    "threshold": 2,
                    "stepWeight": 10,
                    "metrics": [
                        {"name": "e", "templateRef": {"name": "errors", "namespace": "flagger"}}
                    ],
                }
            },
            "can't access metric template errors.flagger, cross-namespace references are blocked",
        ),
        (
            {
                "upstreamRef": {
                    "apiVersion": "gloo.solo.io/v1",
                    "kind": "Upstream",
                    "name": "up",
                    "namespace": "gloo-system",
                }
            },
            "can't access gloo upstream up.gloo-system, cross-namespace references are blocked",
        ),
        (
            {
                "analysis": {
                    "interval": "1m",
                    "threshold": 2,
                    "stepWeight": 10,
                    "alerts": [{"name": "a", "providerRef": {"name": "s", "namespace": "ops"}}],
                }
            },
            "can't access alert provider s.ops, cross-namespace references are blocked",
        ),
    ],
)
def test_no_cross_namespace_refs(spec: dict[str, object], message: str) -> None:
    assert observe.cross_namespace_ref(_canary(**spec)) == message


def test_same_namespace_refs_are_fine() -> None:
    canary = _canary(
        analysis={
            "interval": "1m",
            "threshold": 2,
            "stepWeight": 10,
            "metrics": [{"name": "e", "templateRef": {"name": "errors", "namespace": "test"}}],
        }
    )
    assert observe.cross_namespace_ref(canary) == ""


def test_ignored_flags_are_announced(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    daemon._warn_ignored_flags(options.parse(["-threadiness=8", "-control-loop-interval=5s"], {}))
    assert "-threadiness is ignored" in caplog.text
    assert "-control-loop-interval is ignored" in caplog.text
    caplog.clear()
    daemon._warn_ignored_flags(options.parse([], {}))
    assert caplog.text == ""
