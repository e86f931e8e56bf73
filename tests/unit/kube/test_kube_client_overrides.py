"""``Kube.with_overrides``: the client a plugin (the external metrics backend) gets for a
provider with its own address, token or TLS setting, on a copy of the daemon's configuration."""

from __future__ import annotations

from kubernetes_asyncio import client as k8s_client

from flagger import plugins
from flagger.kube import client as kube_client


async def test_overrides_apply_to_a_copy_and_leave_the_daemon_client_alone() -> None:
    configuration = k8s_client.Configuration()
    configuration.host = "https://daemon.example:6443"
    daemon = kube_client.Kube(k8s_client.ApiClient(configuration))
    overridden = daemon.with_overrides(
        host="https://metrics.example:443", token="s3cret", insecure_skip_verify=True
    )
    try:
        seen = overridden.api_client.configuration
        assert seen.host == "https://metrics.example:443"
        assert seen.api_key == {"BearerToken": "Bearer s3cret"}
        assert seen.verify_ssl is False
        kept = daemon.api_client.configuration
        assert kept.host == "https://daemon.example:6443"
        assert kept.api_key == {} and kept.verify_ssl is True
        assert isinstance(overridden, kube_client.Kube)
        _: plugins.ApiClient = daemon  # the daemon's client is what plugins get
    finally:
        await overridden.close()
        await daemon.close()
