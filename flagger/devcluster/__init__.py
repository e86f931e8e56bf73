"""A real Kubernetes control plane on 127.0.0.1, for tests and the playground.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (one fake node that makes
scheduled pods Running and Ready), built from the Go module proxy by
``scripts/build-control-plane.sh`` and started here on free ports with a temporary data dir.

- ``binaries``: where the built binaries are, building them when missing.
- ``pki``: the certificate authority, serving certificate and service-account keys (openssl).
- ``processes``: starting, health-checking and stopping child processes by PID.
- ``cluster``: :class:`~flagger.devcluster.cluster.LocalCluster`, the whole control plane.
"""
