"""Canary objects the unit tests build: the document around a spec, podinfo's usual spec, and
the Canary the router tests route (``podinfo.test``, with a uid for owner references)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagger.api.canary import Canary

#: The uid of the routers' test Canary, as its owner references carry it.
UID = "3f1c-uid"
#: The controller owner reference routers put on the objects they create for that Canary.
OWNER = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "name": "podinfo",
    "uid": UID,
    "controller": True,
    "blockOwnerDeletion": True,
}
#: Flux's opt-outs routers add to the annotations of what they manage.
FLUX_OPT_OUT = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}
#: ``spec.ingressRef`` to the Ingress ``podinfo`` (NGINX and Skipper canaries).
INGRESS_REF = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"}
#: The analysis the router tests use unless they need another.
STEPS = {"interval": "1m", "threshold": 5, "stepWeight": 10}


def canary_document(
    spec: Mapping[str, Any],
    *,
    name: str = "podinfo",
    namespace: str = "default",
    status: Mapping[str, Any] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    """The ``flagger.app/v1beta1`` Canary document ``name.namespace`` with ``spec`` (and
    ``status`` and more ``metadata`` fields when given)."""
    doc: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": dict(spec),
    }
    if status:
        doc["status"] = dict(status)
    return doc


def canary(spec: Mapping[str, Any], **document: Any) -> Canary:
    """The Canary with ``spec`` (``document``: :func:`canary_document`'s keywords), validated
    as the API server's would be."""
    return Canary.model_validate(canary_document(spec, **document))


def podinfo_spec(provider: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Canary spec targeting the Deployment ``podinfo`` on port 9898, analysed every minute
    with threshold 5, with ``provider`` (when given) and ``extra`` keys on top (a key given
    ``None`` is left out, e.g. ``analysis=None``)."""
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 5},
    }
    if provider:
        spec["provider"] = provider
    return {key: value for key, value in {**spec, **extra}.items() if value is not None}


def routed_canary(
    provider: str | None,
    service: Mapping[str, Any] | None = None,
    analysis: Mapping[str, Any] | None = None,
    *,
    uid: str = UID,
    status: Mapping[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
    **spec: Any,
) -> Canary:
    """The router tests' Canary ``podinfo.test`` (uid ``uid``) for ``provider`` (none: the
    default), with ``service`` (default port 9898), ``analysis`` (default :data:`STEPS`) and
    more ``spec`` keys."""
    body = podinfo_spec(
        provider, service=dict(service or {"port": 9898}), analysis=dict(analysis or STEPS), **spec
    )
    metadata: dict[str, Any] = {"uid": uid}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return canary(body, namespace="test", status=status, **metadata)
