"""Leader election on a real Lease: one holder at a time, hand-over on release or expiry."""

from __future__ import annotations

import asyncio

import pytest

from flagger.controller import leader
from flagger.devcluster import cluster as devcluster
from flagger.kube import client as kube_client

pytestmark = pytest.mark.cluster


async def test_one_leader_and_hand_over(cluster: devcluster.LocalCluster, namespace: str) -> None:
    kube = await kube_client.Kube.connect(str(cluster.kubeconfig))
    try:
        first = leader.LeaderElector(
            kube, namespace, identity="first", lease_seconds=2, renew_deadline=1.5, retry_period=0.2
        )
        second = leader.LeaderElector(
            kube,
            namespace,
            identity="second",
            lease_seconds=2,
            renew_deadline=1.5,
            retry_period=0.2,
        )
        await first.acquire()
        assert first.leading
        assert not await second.try_acquire_or_renew(), "a held, fresh lease is not taken"
        lease = await kube.get("coordination.k8s.io/v1", "Lease", leader.LEASE_NAME, namespace)
        assert lease is not None and lease["spec"]["holderIdentity"] == "first"

        # A graceful stop releases the lease: the other candidate takes it at once.
        await first.release()
        await asyncio.wait_for(second.acquire(), 2)
        assert second.leading

        # A leader that stops renewing (killed) is replaced once the lease duration passes.
        began = asyncio.get_running_loop().time()
        await asyncio.wait_for(first.acquire(), 5)
        waited = asyncio.get_running_loop().time() - began
        assert 1.5 <= waited <= 4.0, waited
        lease = await kube.get("coordination.k8s.io/v1", "Lease", leader.LEASE_NAME, namespace)
        assert lease is not None and lease["spec"]["holderIdentity"] == "first"
        assert lease["spec"]["leaseTransitions"] == 2

        # The old leader notices it lost the lease within its renew deadline.
        with pytest.raises(leader.LostLeadership):
            await asyncio.wait_for(second.keep(), 5)
        assert not second.leading
    finally:
        await kube.close()
