"""The project's Helm charts, rendered offline and installed like ``helm upgrade --install``.

``deploy/charts`` holds two charts: ``podinfo``, the demo application of Flagger's Helm and GitOps
tutorial with its Canary, HorizontalPodAutoscaler, tracked ConfigMap and helm tests, and
``loadtester``, Flagger's load tester. They are ordinary Helm charts (``helm install`` takes them
on a real cluster); here the Helm SDK (the ``helm-python-sdk`` package, Helm's own Go template
engine, no cluster and no network involved) renders them, and this module turns the result into
Kubernetes objects:

- :func:`render` is ``helm template``: the objects in Helm's install order (namespaces and
  ServiceAccounts first, Services before Deployments, custom resources such as the Canary last),
  with empty documents dropped, ``metadata.namespace`` set on namespaced kinds, and test hooks
  (``helm.sh/hook: test``) left out unless ``tests=True``, as ``helm install`` leaves them for
  ``helm test``.
- :func:`install` server-side applies every rendered object (field manager
  ``flagger-playground``, conflicts forced) with Helm's ownership label and annotations. Applying
  again with other values is an upgrade: fields the chart no longer sets are removed, and fields
  other managers own (the replicas Flagger scales the target to) are kept. There is no release
  record, so objects a new render no longer yields are not pruned.
- :func:`uninstall` deletes what a render with the same values names, in reverse order.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import yaml

from flagger.kube import client as kube_client
from flagger.kube import errors as kube_errors
from flagger.observability import logs

if TYPE_CHECKING:
    from flagger.devcluster import cluster as devcluster

__all__ = [
    "CHARTS_ENV",
    "FIELD_MANAGER",
    "ChartError",
    "chart_path",
    "describe_all",
    "install",
    "notes",
    "render",
    "uninstall",
]

CHARTS_ENV = "FLAGGER_CHARTS_DIR"
FIELD_MANAGER = "flagger-playground"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
TEST_HOOKS = frozenset({"test", "test-success"})

# Helm's install order (pkg/releaseutil/kind_sorter.go); kinds not listed come after, by name.
INSTALL_ORDER = (
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_RANK = {kind: rank for rank, kind in enumerate(INSTALL_ORDER)}

# Kinds without a namespace that a chart may render; everything else gets the release namespace.
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "APIService",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "PodSecurityPolicy",
        "RuntimeClass",
        "CSIDriver",
    }
)

_log = logs.get_logger(__name__)

ChartDir = str | os.PathLike[str]


class ChartError(Exception):
    """A chart that cannot be loaded or rendered, or renders something that is not an object."""


def chart_path(name: str) -> pathlib.Path:
    """The directory of one of the project's charts (``podinfo``, ``loadtester``).

    Looked up in ``$FLAGGER_CHARTS_DIR`` when set, else in the checkout's ``deploy/charts``.
    """
    base = os.environ.get(CHARTS_ENV)
    root = (
        pathlib.Path(base)
        if base
        else pathlib.Path(__file__).resolve().parents[2] / "deploy" / "charts"
    )
    path = root / name
    if not (path / "Chart.yaml").is_file():
        raise ChartError(f"no chart {name!r} in {root}; set {CHARTS_ENV} to the charts directory")
    return path


def _render_files(
    chart_dir: ChartDir, values: Mapping[str, Any] | None, release: str, namespace: str
) -> dict[str, str]:
    try:
        import helm_python
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ChartError(
            "rendering charts needs the Helm SDK: pip install helm-python-sdk"
        ) from exc
    # A JSON round trip turns tuples and other mappings into what the SDK accepts.
    plain: dict[str, Any] | None = None if values is None else json.loads(json.dumps(values))
    try:
        with helm_python.Chart.load(chart_dir) as chart:
            return chart.render(plain, name=release, namespace=namespace, is_install=True)
    except helm_python.HelmError as exc:
        raise ChartError(f"{os.fspath(chart_dir)}: {exc}") from exc


def render(
    chart_dir: ChartDir,
    values: Mapping[str, Any] | None = None,
    *,
    release: str,
    namespace: str,
    tests: bool = False,
) -> list[dict[str, Any]]:
    """The chart's objects for ``values`` (merged over the chart's defaults), like
    ``helm template``; test hooks only with ``tests=True``."""
    files = _render_files(chart_dir, values, release, namespace)
    objects: list[dict[str, Any]] = []
    for path in sorted(files):
        if not path.endswith(MANIFEST_SUFFIXES):
            continue  # NOTES.txt, helpers
        try:
            docs = list(yaml.safe_load_all(files[path]))
        except yaml.YAMLError as exc:
            raise ChartError(f"{path} does not render to YAML: {exc}") from exc
        for doc in docs:
            if doc is None:
                continue
            if not (
                isinstance(doc, dict)
                and doc.get("kind")
                and doc.get("apiVersion")
                and isinstance(doc.get("metadata"), dict)
                and doc["metadata"].get("name")
            ):
                raise ChartError(f"{path} renders a document that is not a Kubernetes object")
            if _is_test_hook(doc) and not tests:
                continue
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"].setdefault("namespace", namespace)
            objects.append(doc)
    objects.sort(key=_install_rank)
    return objects


def notes(
    chart_dir: ChartDir, values: Mapping[str, Any] | None = None, *, release: str, namespace: str
) -> str:
    """The chart's rendered ``NOTES.txt`` (what ``helm install`` prints), or ``""``."""
    files = _render_files(chart_dir, values, release, namespace)
    return next((text.strip() for path, text in files.items() if path.endswith("/NOTES.txt")), "")


def _is_test_hook(obj: Mapping[str, Any]) -> bool:
    hooks = str((obj["metadata"].get("annotations") or {}).get("helm.sh/hook", ""))
    return any(hook.strip() in TEST_HOOKS for hook in hooks.split(","))


def _install_rank(obj: Mapping[str, Any]) -> tuple[int, str, str]:
    kind = str(obj["kind"])
    return _RANK.get(kind, len(_RANK)), kind, str(obj["metadata"]["name"])


def _describe(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta['name']}"


def _owned(obj: dict[str, Any], release: str, namespace: str) -> dict[str, Any]:
    """A copy carrying Helm's ownership metadata, so ``helm`` itself could adopt the object."""
    meta = dict(obj["metadata"])
    meta["labels"] = {**(meta.get("labels") or {}), "app.kubernetes.io/managed-by": "Helm"}
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        "meta.helm.sh/release-name": release,
        "meta.helm.sh/release-namespace": namespace,
    }
    return {**obj, "metadata": meta}


async def _apply(kube: kube_client.Kube, obj: dict[str, Any]) -> dict[str, Any]:
    res = await kube.resource(obj["apiVersion"], obj["kind"])
    meta = obj["metadata"]
    if not res.namespaced:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "namespace"}}
    applied: dict[str, Any] = await kube.request(
        "PATCH",
        res.path(meta.get("namespace") if res.namespaced else None, meta["name"]),
        query={"fieldManager": FIELD_MANAGER, "force": "true"},
        body=obj,
        content_type="application/apply-patch+yaml",
    )
    return applied


class _Connection:
    """The given `Kube`, or one logged in to a LocalCluster for the duration of a call."""

    def __init__(self, target: kube_client.Kube | devcluster.LocalCluster) -> None:
        self._target = target
        self._own: kube_client.Kube | None = None

    async def __aenter__(self) -> kube_client.Kube:
        if isinstance(self._target, kube_client.Kube):
            return self._target
        self._own = await kube_client.Kube.connect(str(self._target.kubeconfig))
        return self._own

    async def __aexit__(self, *exc: object) -> None:
        if self._own is not None:
            await self._own.close()


async def install(
    target: kube_client.Kube | devcluster.LocalCluster,
    chart_dir: ChartDir,
    values: Mapping[str, Any] | None = None,
    *,
    release: str,
    namespace: str,
    tests: bool = False,
) -> list[dict[str, Any]]:
    """Render the chart and server-side apply each object in install order (install or
    upgrade); return the objects as the API server stored them.

    ``target`` is a `Kube` client, or a LocalCluster (logged in as its admin for this call).
    A kind the server does not serve (the Canary before Flagger's CRDs) raises
    `flagger.kube.errors.UnknownKind` after the objects before it were applied.
    """
    objects = render(chart_dir, values, release=release, namespace=namespace, tests=tests)
    applied: list[dict[str, Any]] = []
    async with _Connection(target) as kube:
        for obj in objects:
            applied.append(await _apply(kube, _owned(obj, release, namespace)))
            _log.info(f"{_describe(obj)} applied", release=release, chart=_chart_name(chart_dir))
    return applied


async def uninstall(
    target: kube_client.Kube | devcluster.LocalCluster,
    chart_dir: ChartDir,
    values: Mapping[str, Any] | None = None,
    *,
    release: str,
    namespace: str,
) -> list[str]:
    """Delete what :func:`install` created with the same values (test hooks included), in
    reverse install order; objects already gone, or of kinds no longer served, are fine.
    Returns what was asked to go."""
    objects = render(chart_dir, values, release=release, namespace=namespace, tests=True)
    gone: list[str] = []
    async with _Connection(target) as kube:
        for obj in reversed(objects):
            meta = obj["metadata"]
            try:
                await kube.delete(
                    obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")
                )
            except kube_errors.UnknownKind:
                continue
            gone.append(_describe(obj))
            _log.info(f"{_describe(obj)} deleted", release=release, chart=_chart_name(chart_dir))
    return gone


def _chart_name(chart_dir: ChartDir) -> str:
    return pathlib.Path(chart_dir).name


def describe_all(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """``Kind namespace/name`` for each object, in order (for messages and tests)."""
    return [_describe(obj) for obj in objects]
