"""The user's side of the API server: their kubeconfig, their context, their permissions.

``flagger get|watch|promote|...``, ``kubectl flagger ...`` and ``flagger dashboard`` act as the
person running them, never as the daemon: the kubeconfig is ``--kubeconfig``, else
``$KUBECONFIG`` (a ``:``-separated list, merged as kubectl merges it), else ``~/.kube/config``;
``--context`` picks a context; the namespace is ``-n``, else the context's, else ``default``.
What they may do is what Kubernetes RBAC lets them do: :func:`allowed` asks the API server
(a SelfSubjectAccessReview) and :func:`forbidden_message` turns a 403 into a sentence naming the
verb and the resource.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from flagger.api import actions, common
from flagger.kube import client as kube_client
from flagger.kube import errors

__all__ = [
    "Access",
    "CommandError",
    "Target",
    "allowed",
    "connect",
    "forbidden_message",
    "who_am_i",
]

GROUP = common.API_GROUP
RESOURCE = "canaries"
#: What a release manager needs; the docs show the same Role.
RELEASE_MANAGER_VERBS = ("get", "list", "watch", "patch")


class CommandError(Exception):
    """What the user asked cannot be done; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a command points: the kubeconfig file, the context and the namespace."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


async def connect(target: Target) -> tuple[kube_client.Kube, str]:
    """A client logged in as the user, and the namespace to use (``-n``, the context's, or
    ``default``). Raises :class:`errors.ApiError` with a readable message when the kubeconfig
    is missing or has no such context (:class:`CommandError`)."""
    configuration = k8s_client.Configuration()
    try:
        loader = await k8s_config.load_kube_config(
            config_file=target.kubeconfig,
            context=target.context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (k8s_config.ConfigException, OSError) as exc:
        where = target.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise CommandError(f"cannot use kubeconfig {where}: {exc}") from exc
    namespace = target.namespace or _context_namespace(loader) or "default"
    kube = kube_client.Kube(
        k8s_client.ApiClient(configuration),
        qps=50.0,
        burst=100,
        field_manager=actions.FIELD_MANAGER,
    )
    return kube, namespace


def _context_namespace(loader: Any) -> str | None:
    context = getattr(loader, "_current_context", None)  # the library keeps it private
    try:
        found = context["context"].safe_get("namespace") if context else None
    except (KeyError, TypeError, AttributeError):
        return None
    return str(found) if found else None


async def who_am_i(kube: kube_client.Kube) -> str:
    """The user name the API server sees (a SelfSubjectReview), or ``""`` when not allowed."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    try:
        answer = await kube.request(
            "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=review
        )
    except errors.ApiError:
        return ""
    user = ((answer.get("status") or {}).get("userInfo") or {}).get("username")
    return str(user or "")


@dataclasses.dataclass(frozen=True)
class Access:
    """Whether the user may do something, and the reason when not."""

    allowed: bool
    reason: str = ""


async def allowed(
    kube: kube_client.Kube, verb: str, namespace: str, name: str | None = None
) -> Access:
    """Ask the API server whether the user may ``verb`` canaries in ``namespace``."""
    attributes: dict[str, Any] = {
        "group": GROUP,
        "resource": RESOURCE,
        "verb": verb,
        "namespace": namespace,
    }
    if name:
        attributes["name"] = name
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }
    try:
        answer = await kube.request(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review
        )
    except errors.ApiError as exc:
        return Access(False, f"cannot check permissions: {exc}")
    status = answer.get("status") or {}
    if status.get("allowed"):
        return Access(True)
    return Access(False, f"RBAC: you cannot {verb} {RESOURCE}.{GROUP} in namespace {namespace}")


def forbidden_message(verb: str, namespace: str, user: str = "") -> str:
    """The sentence for a 403: who, which verb, which resource, what to ask for."""
    who = f"user {user!r}" if user else "you"
    return (
        f"forbidden: {who} cannot {verb} resource {RESOURCE}.{GROUP} in namespace "
        f"{namespace}; ask for a Role granting {', '.join(RELEASE_MANAGER_VERBS)} on "
        f"{RESOURCE}.{GROUP} (see docs/operating-by-hand.md)"
    )
