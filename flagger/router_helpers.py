"""What every router shares: the names of the generated objects, who owns them, and the
metadata Flagger stamps on them.

A Canary ``podinfo`` (``spec.service.name`` unset, target ``podinfo``) routes through three
Services and the mesh objects named after them:

- ``podinfo`` (the *apex*, what clients call), ``podinfo-primary`` and ``podinfo-canary``;
- objects Flagger creates carry a controller owner reference to the Canary, so Kubernetes
  deletes them with it;
- annotations Flagger writes always carry the two Flux opt-outs below, so Flux does not fight
  Flagger over objects whose spec Flagger rewrites on every step;
- before Flagger rewrites an object it did not create, the object's spec is kept in the
  ``flagger.kubernetes.io/original-configuration`` annotation (unless kubectl's
  last-applied-configuration already holds it), so ``finalize`` can put it back.

Routers talk to the API server through :class:`flagger.plugins.KubeClient` (raw JSON dicts in
and out).

What the routers share lives here too: taking an object over and giving it back
(:func:`controlled_by`, :func:`save_original_spec`, :func:`plan_update`, :func:`plan_routed_update`,
:func:`original_spec`,
:func:`give_back`), creating or updating it only when something changed
(:func:`create_or_update`, :func:`write`), reading weights back (:func:`routed_weights`,
:func:`require_routes`, :func:`primary_share`), and the one error for what a provider cannot do
(:class:`UnsupportedFeature`, :func:`refuse_first`).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from flagger import plugins
from flagger.api import canary as canary_api
from flagger.api import common
from flagger.api import service as service_api

__all__ = [
    "AB_TESTING",
    "CONFIG_ANNOTATION",
    "KUBECTL_ANNOTATION",
    "MIRRORING",
    "SESSION_AFFINITY",
    "KubeClient",
    "Refusal",
    "RouterError",
    "UnsupportedFeature",
    "apex_metadata",
    "beyond_weights",
    "canary_id",
    "controlled_by",
    "controller_owner",
    "create_or_update",
    "filter_metadata",
    "give_back",
    "new_object",
    "original_spec",
    "owner_reference",
    "plan_routed_update",
    "plan_update",
    "primary_share",
    "refuse_beyond_weights",
    "refuse_first",
    "require_routes",
    "routed_weights",
    "save_original_spec",
    "service",
    "service_names",
    "unsupported_message",
    "write",
]

#: Where kubectl keeps the last applied manifest (a JSON string of the whole object).
KUBECTL_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
#: Where Flagger keeps the spec of an object it took over (a JSON string of the spec).
CONFIG_ANNOTATION = "flagger.kubernetes.io/original-configuration"
#: Flux opt-outs Flagger adds to the annotations of the objects it manages.
TOOLKIT_ANNOTATIONS: Mapping[str, str] = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}

JSON = dict[str, Any]


#: The Kubernetes client routers get (public contract: :class:`flagger.plugins.KubeClient`).
KubeClient = plugins.KubeClient


#: A router could not read or write its objects (:class:`flagger.plugins.RouterError`).
RouterError = plugins.RouterError


def canary_id(canary: canary_api.Canary) -> str:
    """``name.namespace``, as Flagger prints a canary in logs and events."""
    return f"{canary.name}.{canary.namespace}"


def service_names(canary: canary_api.Canary) -> tuple[str, str, str]:
    """The apex, primary and canary Service names (Flagger's ``GetServiceNames``)."""
    apex = canary.spec.effective_service_name
    return apex, f"{apex}-primary", f"{apex}-canary"


def owner_reference(canary: canary_api.Canary) -> JSON:
    """A controller owner reference to the Canary, so its objects are deleted with it."""
    return {
        "apiVersion": common.API_VERSION,
        "kind": canary_api.KIND,
        "name": canary.name,
        "uid": str(canary.metadata.get("uid") or ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_owner(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The owner reference marked ``controller: true`` on an object, if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


def filter_metadata(annotations: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``annotations`` with Flux's opt-outs added (Flagger's ``filterMetadata``)."""
    return {**(annotations or {}), **TOOLKIT_ANNOTATIONS}


def deep_copy(obj: JSON) -> JSON:
    """A deep copy of a JSON object (so callers' dicts are never modified)."""
    return copy.deepcopy(obj)


def service(canary: canary_api.Canary) -> service_api.CanaryService:
    """``spec.service``; a :class:`RouterError` when the Canary has none."""
    if canary.spec.service is None:
        raise RouterError(f"canary {canary_id(canary)} has no spec.service")
    return canary.spec.service


def apex_metadata(canary: canary_api.Canary) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations (Flux's opt-outs added) of ``spec.service.apex``."""
    apex = service(canary).apex
    labels = dict((apex.labels if apex else None) or {})
    return labels, filter_metadata(apex.annotations if apex else None)


def new_object(
    canary: canary_api.Canary,
    api_version: str,
    kind: str,
    spec: JSON,
    metadata: tuple[Mapping[str, str] | None, Mapping[str, str] | None] = (None, None),
    owner_refs: bool = True,
    *,
    name: str | None = None,
) -> JSON:
    """An object Flagger creates for ``canary``: ``name`` (default: the apex Service's) in the
    Canary's namespace, with the (labels, annotations) of ``metadata`` (as :func:`apex_metadata`
    returns them; each set when not empty) and, with ``owner_refs``, a controller owner
    reference to the Canary."""
    labels, annotations = metadata
    meta: JSON = {"name": name or service_names(canary)[0], "namespace": canary.namespace}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner_refs:
        meta["ownerReferences"] = [owner_reference(canary)]
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}


async def write(call: Callable[[JSON], Awaitable[Any]], obj: JSON, what: str) -> None:
    """``await call(obj)`` (a create or replace); any failure becomes ``RouterError("what: …")``."""
    try:
        await call(obj)
    except Exception as exc:
        raise RouterError(f"{what}: {exc}") from exc


async def create_or_update(
    kube: KubeClient,
    canary: canary_api.Canary,
    existing: JSON | None,
    where: str,
    *,
    desired: Callable[[], JSON],
    plan: Callable[[JSON], JSON | None],
    log: logging.Logger,
    update_error: str = "update error",
) -> None:
    """Create ``desired()`` when there is no ``existing`` object, else write ``plan(existing)``
    unless it is ``None`` (nothing changed); ``log`` says what was done to ``where``."""
    if existing is None:
        await write(kube.create, desired(), f"{where} create error")
        log.info("%s created", where, extra={"canary": canary_id(canary)})
        return
    updated = plan(existing)
    if updated is not None:
        await write(kube.replace, updated, f"{where} {update_error}")
        log.info("%s updated", where, extra={"canary": canary_id(canary)})


# --- taking objects over and giving them back -----------------------------------------------


def controlled_by(
    obj: Mapping[str, Any], canary: canary_api.Canary, *, by_uid: bool = False
) -> bool:
    """Whether the object's controller owner reference points at this Canary: by kind and name,
    or (``by_uid``) by the Canary's uid (never when the Canary has none)."""
    ref = controller_owner(obj)
    if ref is None:
        return False
    if by_uid:
        uid = str(canary.metadata.get("uid") or "")
        return bool(uid) and ref.get("uid") == uid
    return ref.get("kind") == canary_api.KIND and ref.get("name") == canary.name


def save_original_spec(
    annotations: dict[str, str],
    spec: Mapping[str, Any],
    *,
    owned: bool,
    held: Mapping[str, str] | None = None,
) -> bool:
    """Keep ``spec`` (the spec Flagger is about to replace) in ``annotations`` under
    :data:`CONFIG_ANNOTATION`, for ``finalize`` to give back: only when the object is someone
    else's (not ``owned``) and its spec is kept nowhere yet, neither in kubectl's
    last-applied-configuration nor in an earlier copy (looked up in ``held``, by default in
    ``annotations``). True when it kept it."""
    found = annotations if held is None else held
    if owned or KUBECTL_ANNOTATION in found or CONFIG_ANNOTATION in found:
        return False
    annotations[CONFIG_ANNOTATION] = json.dumps(spec, separators=(",", ":"))
    return True


def plan_update(
    existing: Mapping[str, Any],
    want_spec: JSON,
    *,
    owned: bool,
    comparable: Callable[[Any], Any],
    keep: Callable[[JSON, Mapping[str, Any]], None] | None = None,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> JSON | None:
    """The object to write over ``existing`` so that its spec is ``want_spec``, or ``None`` when
    nothing changed. Specs are compared through ``comparable`` (what ``set_routes`` owns, such
    as weights, left out).

    When the spec changed, a copy of ``want_spec`` replaces it after ``keep(new_spec, old_spec)``
    carried over what ``reconcile`` must not reset, and the replaced spec is kept
    (:func:`save_original_spec`) unless the object is ``owned`` by the Canary. ``annotations``
    and ``labels`` are set on top of the existing ones; labels are written only when given.
    """
    old_spec: JSON = dict(existing.get("spec") or {})
    meta: Mapping[str, Any] = existing.get("metadata") or {}
    current_annotations: dict[str, str] = dict(meta.get("annotations") or {})
    current_labels: dict[str, str] = dict(meta.get("labels") or {})
    wanted_annotations = {**current_annotations, **(annotations or {})}
    wanted_labels = {**current_labels, **(labels or {})}
    spec_changed = comparable(want_spec) != comparable(old_spec)
    if (
        not spec_changed
        and wanted_annotations == current_annotations
        and wanted_labels == current_labels
    ):
        return None
    updated = deep_copy(dict(existing))
    if spec_changed:
        new_spec = deep_copy(want_spec)
        if keep is not None:
            keep(new_spec, old_spec)
        updated["spec"] = new_spec
        save_original_spec(wanted_annotations, old_spec, owned=owned)
    if wanted_annotations:
        updated.setdefault("metadata", {})["annotations"] = wanted_annotations
    if labels is not None and wanted_labels:
        updated.setdefault("metadata", {})["labels"] = wanted_labels
    return updated


def plan_routed_update(
    canary: canary_api.Canary,
    existing: Mapping[str, Any],
    want_spec: JSON,
    weights: tuple[Callable[[Any], Any], Callable[[JSON, Mapping[str, Any]], None] | None],
    metadata: tuple[Mapping[str, str] | None, Mapping[str, str] | None] = (None, None),
) -> JSON | None:
    """:func:`plan_update` for a routing object of ``canary``: owned when the Canary controls
    it, ``weights`` the (``comparable``, ``keep``) pair that leaves the weights in effect alone,
    ``metadata`` the (labels, annotations) to set (as :func:`apex_metadata` returns them)."""
    comparable, keep = weights
    labels, annotations = metadata
    return plan_update(
        existing,
        want_spec,
        owned=controlled_by(existing, canary),
        comparable=comparable,
        keep=keep,
        annotations=annotations,
        labels=labels,
    )


async def give_back(
    kube: KubeClient,
    canary: canary_api.Canary,
    existing: JSON,
    stored: JSON | None,
    where: str,
    *,
    log: logging.Logger | None = None,
) -> bool:
    """``finalize``'s write-back: give ``existing`` (``where``, as errors name it) the spec kept
    when Flagger took it over (``stored``, from :func:`original_spec`) when it differs. True
    when it wrote. With nothing stored, ``log`` (when given) warns that it cannot revert."""
    if stored is None:
        if log is not None:
            log.warning(
                "%s original configuration not found, unable to revert",
                where,
                extra={"canary": canary_id(canary)},
            )
        return False
    if stored == existing.get("spec"):
        return False
    await write(kube.replace, {**existing, "spec": stored}, f"{where} update error")
    return True


def original_spec(obj: Mapping[str, Any], kind: str, *, namespaced: bool = True) -> JSON | None:
    """The spec kept before Flagger took the object over (kubectl's last applied object, else
    Flagger's original-configuration annotation), or ``None`` when none was kept.

    An annotation that does not hold a JSON object (kubectl's: one with a ``spec`` object) is a
    :class:`RouterError` naming ``kind`` and the object (``name.namespace``, or ``name`` when
    not ``namespaced``).
    """
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    for key in (KUBECTL_ANNOTATION, CONFIG_ANNOTATION):
        if key not in annotations:
            continue
        try:
            doc = json.loads(annotations[key])
        except ValueError:
            doc = None
        # kubectl keeps the whole object, Flagger only the spec.
        found = doc.get("spec") if isinstance(doc, dict) and key == KUBECTL_ANNOTATION else doc
        if not isinstance(found, dict):
            name = meta.get("name", "")
            where = f"{name}.{meta.get('namespace', '')}" if namespaced else name
            raise RouterError(f"{kind} {where} failed to unMarshal annotation {key}")
        return found
    return None


# --- reading weights back -------------------------------------------------------------------


def _weight(value: Any) -> int:
    return int(value or 0)


def routed_weights(
    entries: Iterable[Mapping[str, Any]],
    primary: str,
    canary_name: str,
    *,
    name: Callable[[Mapping[str, Any]], Any],
    weight: Callable[[Any], int] = _weight,
    start: tuple[int, int] = (0, 0),
) -> tuple[int, int]:
    """The (primary, canary) weights of a list of weighted destinations, each found by its
    ``name(entry)`` (the last one wins); ``start`` for a side that is not listed."""
    primary_weight, canary_weight = start
    for entry in entries:
        if name(entry) == primary:
            primary_weight = weight(entry.get("weight"))
        if name(entry) == canary_name:
            canary_weight = weight(entry.get("weight"))
    return primary_weight, canary_weight


def require_routes(
    where: str, primary: str, canary_name: str, weights: tuple[int, int]
) -> tuple[int, int]:
    """``weights``, or a :class:`RouterError` when neither side has any."""
    if weights == (0, 0):
        raise RouterError(f"{where} does not contain routes for {primary} and {canary_name}")
    return weights


def primary_share(
    entries: Iterable[Mapping[str, Any]], primary: str, *, name: Callable[[Mapping[str, Any]], Any]
) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) as Flagger reads a split that lists the primary: the first
    entry named ``primary`` has its weight and the canary the rest; (0, 0) when none does."""
    for entry in entries:
        if name(entry) == primary:
            weight = _weight(entry.get("weight"))
            return weight, 100 - weight, False
    return 0, 0, False


# --- what a provider cannot do --------------------------------------------------------------

#: What an analysis may ask for beyond a weighted split.
AB_TESTING = "A/B testing (analysis.match)"
MIRRORING = "traffic mirroring (analysis.mirror)"
SESSION_AFFINITY = "session affinity (analysis.sessionAffinity)"


#: The providers that can route each feature (named in :class:`UnsupportedFeature` errors).
AB_PROVIDERS = (
    "istio",
    "appmesh",
    "appmesh:v1beta2",
    "contour",
    "gloo",
    "nginx",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
)
MIRROR_PROVIDERS = ("istio", "gatewayapi:v1", "gatewayapi:v1beta1")
AFFINITY_PROVIDERS = MIRROR_PROVIDERS
QUERY_PARAM_PROVIDERS = MIRROR_PROVIDERS
SOURCE_LABEL_PROVIDERS = ("istio",)
#: The providers that can route what a weighted split alone cannot (:func:`beyond_weights`).
ALTERNATIVES: Mapping[str, Sequence[str]] = {
    AB_TESTING: AB_PROVIDERS,
    MIRRORING: MIRROR_PROVIDERS,
    SESSION_AFFINITY: AFFINITY_PROVIDERS,
}


#: The message of :class:`UnsupportedFeature` (:func:`flagger.plugins.unsupported_message`).
unsupported_message = plugins.unsupported_message
#: The provider cannot route what a Canary asks (:class:`flagger.plugins.UnsupportedFeature`).
UnsupportedFeature = plugins.UnsupportedFeature


class Refusal(NamedTuple):
    """A feature a provider cannot route, the providers that can, and what else to do."""

    feature: str
    providers: Sequence[str] = ()
    fix: str = ""


def refuse_first(canary: canary_api.Canary, provider: str, refusals: Iterable[Refusal]) -> None:
    """Raise :class:`UnsupportedFeature` for the first of ``refusals``, if any."""
    for refusal in refusals:
        raise UnsupportedFeature(
            canary, provider, refusal.feature, refusal.fix, providers=refusal.providers
        )


def beyond_weights(canary: canary_api.Canary) -> list[str]:
    """What the analysis asks for that a weighted split alone cannot route, in this order:
    :data:`AB_TESTING`, :data:`MIRRORING`, :data:`SESSION_AFFINITY`."""
    analysis = canary.spec.effective_analysis
    if analysis is None:
        return []
    asked = (
        (AB_TESTING, bool(analysis.match)),
        (MIRRORING, bool(analysis.mirror)),
        (SESSION_AFFINITY, analysis.session_affinity is not None),
    )
    return [feature for feature, wanted in asked if wanted]


def refuse_beyond_weights(canary: canary_api.Canary, provider: str) -> None:
    """For a provider that only splits by weight: raise :class:`UnsupportedFeature` for the
    first of A/B testing, mirroring or session affinity the analysis asks for, naming the
    providers that can (:data:`ALTERNATIVES`)."""
    refusals = [Refusal(feature, ALTERNATIVES[feature]) for feature in beyond_weights(canary)]
    refuse_first(canary, provider, refusals)
