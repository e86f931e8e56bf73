"""``kubectl`` tasks run the real kubectl against the local control plane: the output comes back
with ``returnCmdOutput``, a failing command is a 500 carrying kubectl's own error, and a change
made by the task is visible in the cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from flagger.devcluster import cluster as devcluster
from tests.integration.webhooks.conftest import StartLoadtester

MakePayload = Callable[..., dict[str, Any]]

pytestmark = pytest.mark.cluster


async def test_kubectl_tasks_run_against_the_cluster(
    start_loadtester: StartLoadtester,
    make_payload: MakePayload,
    cluster: devcluster.LocalCluster,
    namespace: str,
) -> None:
    env = {
        **os.environ,
        "PATH": f"{cluster.bin_dir}:{os.environ['PATH']}",
        "KUBECONFIG": str(cluster.kubeconfig),
    }
    lt = await start_loadtester(env=env)

    assert await lt.post(
        "/",
        make_payload(
            namespace=namespace,
            type="kubectl",
            cmd=f"-n {namespace} create configmap from-task --from-literal=k=v",
        ),
    ) == (200, "")
    assert cluster.api("GET", f"/api/v1/namespaces/{namespace}/configmaps/from-task")["data"] == {
        "k": "v"
    }

    assert await lt.post(
        "/",
        make_payload(
            namespace=namespace,
            type="kubectl",
            returnCmdOutput="true",
            cmd=f"get configmap from-task -n {namespace} -o name",
        ),
    ) == (200, "configmap/from-task\n")

    status, text = await lt.post(
        "/",
        make_payload(
            namespace=namespace, type="kubectl", cmd=f"get configmap missing -n {namespace}"
        ),
    )
    assert status == 500
    assert text.startswith(f"command get configmap missing -n {namespace} failed: ")
    assert 'configmaps "missing" not found' in text
    assert text.endswith(": exit status 1")
    assert f"running command kubectl get configmap missing -n {namespace}" in lt.messages()
