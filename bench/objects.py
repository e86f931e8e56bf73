"""The manifests a bench run creates: Deployments, Canaries, kwok nodes, operator accounts."""

from __future__ import annotations

from typing import Any

CANARIES_PER_NAMESPACE = 100
PODS_PER_NODE = 500
IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.0"


def namespaces(prefix: str, n: int) -> list[str]:
    """The namespaces holding ``n`` canaries, at most 100 per namespace."""
    count = max(1, -(-n // CANARIES_PER_NAMESPACE))
    return [f"{prefix}-{i}" for i in range(count)]


def placement(prefix: str, n: int) -> list[tuple[str, str]]:
    """``(namespace, name)`` of each of the ``n`` canaries (and of its Deployment)."""
    spaces = namespaces(prefix, n)
    return [(spaces[i // CANARIES_PER_NAMESPACE], f"app-{i}") for i in range(n)]


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def deployment(namespace: str, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """One replica of podinfo; kwok makes its pod Running and Ready."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": name, **(labels or {})},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "podinfo", "image": IMAGE, "ports": [{"containerPort": 9898}]}
                    ]
                },
            },
        },
    }


def canary(
    namespace: str,
    name: str,
    *,
    webhook: str,
    interval: str,
    iterations: int,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Blue/green (``iterations``) with the kubernetes provider and one rollout webhook."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "progressDeadlineSeconds": 600,
            "service": {"port": 9898},
            "analysis": {
                "interval": interval,
                "threshold": 2,
                "iterations": iterations,
                "webhooks": [{"name": "bench-check", "url": webhook, "timeout": "5s"}],
            },
        },
    }


def kwok_node(name: str) -> dict[str, Any]:
    """An extra fake node, so thousands of pods fit (kwok manages it by its annotation)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
        },
        "spec": {},
        "status": {
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": str(PODS_PER_NODE)},
            "capacity": {"cpu": "64", "memory": "256Gi", "pods": str(PODS_PER_NODE)},
        },
    }


def operator_account(namespace: str, name: str) -> list[dict[str, Any]]:
    """A ServiceAccount bound to cluster-admin: the audit log names it as the requests' user."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"bench-{name}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    ]
