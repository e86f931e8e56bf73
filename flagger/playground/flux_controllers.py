"""Flux's own controllers on the playground's control plane: the GitOps half of the tutorial.

``scripts/build-flux.sh`` builds source-controller, kustomize-controller and helm-controller from
the Go module proxy (pinned versions, cached under ``~/.cache/flagger/flux``) and keeps the CRDs
and RBAC of the same module versions beside the binaries. :class:`Flux` then

1. installs Flux's CRDs;
2. creates the ``flux-system`` namespace, one ServiceAccount per controller, each controller's
   own ClusterRole (``config/rbac/role.yaml`` of its module) bound to it, and the binding Flux
   ships for the two reconcilers that apply what Git holds (kustomize-controller and
   helm-controller to ``cluster-admin``, Flux's ``cluster-reconciler``);
3. runs each controller as a process with a kubeconfig holding its ServiceAccount's token (so
   RBAC applies to it), no leader election, no webhooks, everything on 127.0.0.1;
4. bootstraps the cluster from a Git URL: the ``flux-system`` GitRepository and Kustomization,
   as ``flux bootstrap`` would leave them.

:meth:`Flux.reconcile_source` asks for an immediate fetch, as ``flux reconcile source git`` (or a
push webhook) does. :attr:`Flux.events` reads what the controllers reported as Kubernetes
Events, which is what the tutorial's timeline shows beside the daemon's messages.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import subprocess
from typing import TYPE_CHECKING, Any

import yaml

from flagger.devcluster import processes

if TYPE_CHECKING:
    from flagger.devcluster import cluster as devcluster

__all__ = ["BUILD_SCRIPT", "CONTROLLERS", "Flux", "FluxEvent", "FluxMissing", "locate"]

BUILD_SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "build-flux.sh"
DIR_ENV = "FLAGGER_FLUX_DIR"
NAMESPACE = "flux-system"
CONTROLLERS = ("source-controller", "kustomize-controller", "helm-controller")
RECONCILERS = ("kustomize-controller", "helm-controller")
SOURCE_INTERVAL = "1m"
CRD_NAMES = (
    "gitrepositories.source.toolkit.fluxcd.io",
    "helmcharts.source.toolkit.fluxcd.io",
    "kustomizations.kustomize.toolkit.fluxcd.io",
    "helmreleases.helm.toolkit.fluxcd.io",
)


class FluxMissing(RuntimeError):
    """Flux's controllers are neither built nor buildable here."""


def locate(build: bool = True) -> pathlib.Path:
    """The directory with ``bin/``, ``crds/`` and ``rbac/`` of the pinned Flux controllers.

    ``FLAGGER_FLUX_DIR`` wins when set; otherwise the build script runs (a no-op when cached;
    with ``build=False`` it only looks, and :class:`FluxMissing` says how to build).
    """
    explicit = os.environ.get(DIR_ENV)
    if explicit:
        return _checked(pathlib.Path(explicit))
    argv = ["bash", str(BUILD_SCRIPT)] + ([] if build else ["--cached"])
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode == 3 and not build:
        raise FluxMissing(f"Flux's controllers are not built: run bash {BUILD_SCRIPT}")
    if done.returncode != 0:
        raise FluxMissing(f"building Flux's controllers failed (exit {done.returncode})")
    return _checked(pathlib.Path(done.stdout.strip().splitlines()[-1]))


def _checked(path: pathlib.Path) -> pathlib.Path:
    missing = [c for c in CONTROLLERS if not (path / "bin" / c).is_file()]
    if missing:
        raise FluxMissing(f"{path} lacks {', '.join(missing)}: run bash {BUILD_SCRIPT}")
    return path


@dataclasses.dataclass(frozen=True)
class FluxEvent:
    """One thing a Flux controller reported."""

    controller: str
    kind: str
    namespace: str
    name: str
    reason: str
    message: str
    revision: str

    @property
    def line(self) -> str:
        """How the timeline shows it (with the revision, when the message lacks it)."""
        message = "; ".join(part.strip() for part in self.message.splitlines() if part.strip())
        line = f"{self.kind} {self.namespace}/{self.name} {self.reason}: {message}"
        return f"{line} ({self.revision})" if self.revision not in self.message else line


#: Reasons that say nothing happened (a periodic fetch without news): not worth a timeline line.
QUIET_REASONS = frozenset({"ArtifactUpToDate", "GitOperationSucceeded"})


class EventReader:
    """Turns core/v1 Events into :class:`FluxEvent`, each (and each repeat) once, leaving out
    the :data:`QUIET_REASONS`."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def new(self, events: list[dict[str, Any]]) -> list[FluxEvent]:
        """Of core/v1 ``events``, those from Flux's controllers not returned before (a repeat,
        with a higher ``count``, counts as new), oldest first."""
        found: list[tuple[str, FluxEvent]] = []
        for event in events:
            source = str((event.get("source") or {}).get("component") or "")
            controller = source or str(event.get("reportingComponent") or "")
            if controller not in CONTROLLERS or event.get("reason") in QUIET_REASONS:
                continue
            uid, count = event["metadata"]["uid"], int(event.get("count") or 1)
            if self._seen.get(uid) == count:
                continue
            self._seen[uid] = count
            involved = event.get("involvedObject") or {}
            annotations = event["metadata"].get("annotations") or {}
            revision = next((str(v) for k, v in annotations.items() if k.endswith("/revision")), "")
            stamp = str(event.get("lastTimestamp") or event.get("eventTime") or "")
            found.append(
                (
                    stamp,
                    FluxEvent(
                        controller,
                        str(involved.get("kind") or ""),
                        str(involved.get("namespace") or ""),
                        str(involved.get("name") or ""),
                        str(event.get("reason") or ""),
                        str(event.get("message") or "").strip(),
                        revision,
                    ),
                )
            )
        return [event for _, event in sorted(found, key=lambda pair: pair[0])]


class Flux:
    """Flux's controllers and their set-up (see the module docstring)."""

    def __init__(
        self, cluster: devcluster.LocalCluster, workdir: pathlib.Path, home: pathlib.Path
    ) -> None:
        self.cluster, self.workdir, self.home = cluster, workdir, home
        self.children: list[processes.Process] = []
        self.storage_port = 0
        self.events = EventReader()

    def start(self) -> None:
        """Install the CRDs and RBAC; start the controllers; return once each is ready."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for controller in CONTROLLERS:
            self.cluster.kubectl(
                "apply", "--server-side", "-f", str(self.home / "crds" / controller)
            )
        self.cluster.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in CRD_NAMES)
        )
        self.cluster.kubectl("apply", "--server-side", "-f", "-", input=self._rbac())
        self.storage_port = processes.free_port()
        for controller in CONTROLLERS:
            self.children.append(self._run(controller))

    def stop(self) -> None:
        """Stop the controllers, by PID, in reverse order."""
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    def bootstrap(self, url: str, path: str = "./") -> None:
        """The ``flux-system`` GitRepository (branch ``main`` of ``url``) and Kustomization."""
        objects = [
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": NAMESPACE, "namespace": NAMESPACE},
                "spec": {"interval": SOURCE_INTERVAL, "url": url, "ref": {"branch": "main"}},
            },
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": NAMESPACE, "namespace": NAMESPACE},
                "spec": {
                    "interval": "10m",
                    "path": path,
                    "prune": True,
                    "sourceRef": {"kind": "GitRepository", "name": NAMESPACE},
                },
            },
        ]
        self.cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(objects))

    def reconcile_source(self) -> None:
        """Fetch now (``flux reconcile source git flux-system``)."""
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.cluster.kubectl(
            "-n",
            NAMESPACE,
            "annotate",
            "--overwrite",
            f"gitrepository/{NAMESPACE}",
            f"reconcile.fluxcd.io/requestedAt={now}",
        )

    # --- internals ------------------------------------------------------------------------

    def _rbac(self) -> str:
        objects: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        ]
        for controller in CONTROLLERS:
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": controller, "namespace": NAMESPACE},
                }
            )
            role = yaml.safe_load((self.home / "rbac" / controller / "role.yaml").read_text())
            role["metadata"] = {"name": f"flux-{controller}"}
            objects.append(role)
            objects.append(_binding(f"flux-{controller}", f"flux-{controller}", [controller]))
        objects.append(_binding("cluster-reconciler-flux-system", "cluster-admin", RECONCILERS))
        return yaml.safe_dump_all(objects)

    def _run(self, controller: str) -> processes.Process:
        kubeconfig = self.cluster.service_account_kubeconfig(NAMESPACE, controller)
        health = processes.free_port()
        args = [
            str(self.home / "bin" / controller),
            f"--metrics-addr=127.0.0.1:{processes.free_port()}",
            f"--health-addr=127.0.0.1:{health}",
            "--events-addr=",
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
            "--concurrent=4",
        ]
        if controller == "source-controller":
            storage = self.workdir / "storage"
            storage.mkdir(parents=True, exist_ok=True)
            args += [
                f"--storage-path={storage}",
                f"--storage-addr=127.0.0.1:{self.storage_port}",
                f"--storage-adv-addr=127.0.0.1:{self.storage_port}",
            ]
        if controller == "kustomize-controller":
            args.append("--no-remote-bases=true")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.workdir),
            "KUBECONFIG": str(kubeconfig),
            "RUNTIME_NAMESPACE": NAMESPACE,
            "TMPDIR": str(self.workdir),
        }
        child = processes.start(controller, args, self.workdir, env=env)
        processes.wait_until(
            child, lambda: processes.http_ok(f"http://127.0.0.1:{health}/readyz"), timeout=60
        )
        return child


def _binding(name: str, role: str, accounts: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
            for account in accounts
        ],
    }


def ready_condition(obj: dict[str, Any]) -> dict[str, Any]:
    """The object's ``Ready`` condition (empty when it has none)."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return dict(condition)
    return {}
