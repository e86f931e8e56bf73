"""A third-party router's exception reaches the Canary as a built-in router's does.

A router plugin installed from outside (registered the way an outside package's module is) raises
an arbitrary exception; the tick reports it as a ``RouterError``: a Warning event naming the
router and the failure, and a ``Configured=False`` condition on the Canary's status. The API
server's own errors (an outage) are not turned into a report: the tick fails and is retried.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flagger import plugins
from flagger.api import validation
from flagger.controller import spec_checks, ticking
from flagger.kube import errors as kube_errors

PROVIDER = "outsidemesh"


class _BrokenRouter:
    async def reconcile(self, canary: Any) -> None:
        raise KeyError("spec.hosts")

    async def set_routes(
        self, canary: Any, primary_weight: int, canary_weight: int, mirrored: bool
    ) -> None:
        raise ValueError("weights must sum to 1.0")

    async def get_routes(self, canary: Any) -> tuple[int, int, bool]:
        raise kube_errors.ApiError(503, "ServiceUnavailable", "etcd down")

    async def finalize(self, canary: Any) -> None:
        return None


class _OutsidePlugin:
    """What an outside package's plugin module declares."""

    @plugins.hookimpl
    def flagger_register(self, registry: plugins.Registry) -> None:
        registry.router(PROVIDER, self.router)

    def router(self, name: str, context: plugins.PluginContext) -> plugins.Router | None:
        return _BrokenRouter() if name == PROVIDER else None


class _Kube:
    """The Canary object, its status writes, and nothing else."""

    def __init__(self, canary: dict[str, Any]) -> None:
        self.canary = canary

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        return copy.deepcopy(self.canary) if kind == "Canary" else None

    async def replace_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.canary = copy.deepcopy(obj)
        return obj


class _Recorder:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def record_error(self, canary: Any, message: str) -> None:
        self.errors.append(message)


class _Options:
    mesh_provider = PROVIDER
    no_cross_namespace_refs = False


class _Shell:
    def __init__(self, kube: _Kube) -> None:
        self.kube = kube
        self.installed = plugins.load([_OutsidePlugin()])
        self.context = plugins.PluginContext(kube=kube)
        self.recorder = _Recorder()
        self.options = _Options()
        self.spec_checks = spec_checks.SpecChecks()
        self.resting: dict[tuple[str, str], Any] = {}
        self.known = validation.KnownNames(
            routers=self.installed.names(plugins.Kind.ROUTER),
            metric_providers=self.installed.names(plugins.Kind.METRIC_BACKEND),
            alert_providers=self.installed.names(plugins.Kind.NOTIFIER),
        )


CANARY = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "7"},
    "spec": {
        "provider": PROVIDER,
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    },
}


async def test_an_arbitrary_exception_lands_as_configured_false_and_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def advance(shell: Any, canary: Any, raw: Any) -> None:
        # the first router call of a tick, made the way _advance makes it
        provider = canary.spec.provider
        router = ticking.ReportedRouter(provider, shell.installed.router(provider, shell.context))
        await router.reconcile(canary)

    monkeypatch.setattr(ticking, "_advance", advance)
    kube = _Kube(copy.deepcopy(CANARY))
    shell = _Shell(kube)

    outcome = await ticking.tick(shell, "podinfo", "test")  # type: ignore[arg-type]

    assert outcome.exists
    message = "outsidemesh router failed: KeyError: 'spec.hosts'"
    assert shell.recorder.errors == [message]
    [condition] = kube.canary["status"]["conditions"]
    assert condition["type"] == "Configured"
    assert condition["status"] == "False"
    assert condition["reason"] == "ReconcileError"
    assert condition["message"] == message


async def test_errors_become_router_errors_but_outages_pass_through() -> None:
    router = ticking.ReportedRouter(PROVIDER, _BrokenRouter())
    with pytest.raises(plugins.RouterError, match=r"ValueError: weights must sum to 1\.0"):
        await router.set_routes(object(), 90, 10, False)  # type: ignore[arg-type]
    with pytest.raises(kube_errors.ApiError):
        await router.get_routes(object())  # type: ignore[arg-type]
