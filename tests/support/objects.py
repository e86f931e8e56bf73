"""Kubernetes objects the tests create: the podinfo Deployment most canaries target."""

from __future__ import annotations

from typing import Any

#: The podinfo image the tests deploy unless they need another tag.
PODINFO_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.0"
#: podinfo's container port, named ``http``.
HTTP_PORT: dict[str, Any] = {"name": "http", "containerPort": 9898}


def podinfo_deployment(
    name: str,
    namespace: str,
    image: str = PODINFO_IMAGE,
    *,
    replicas: int = 1,
    container: str | None = None,
    port: dict[str, Any] | None = HTTP_PORT,
) -> dict[str, Any]:
    """A Deployment ``name`` labelled ``app: name`` running one podinfo container.

    The container is named ``container`` (default: ``name``) and exposes ``port`` (none when
    ``None``).
    """
    main: dict[str, Any] = {"name": container or name, "image": image}
    if port is not None:
        main["ports"] = [dict(port)]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [main]},
            },
        },
    }


def image_patch(image: str, container: str = "podinfod") -> dict[str, Any]:
    """A strategic merge patch setting ``container``'s image in a workload's pod template."""
    containers = [{"name": container, "image": image}]
    return {"spec": {"template": {"spec": {"containers": containers}}}}
