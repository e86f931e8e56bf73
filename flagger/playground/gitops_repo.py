"""The tutorial's Git repository: what Flux applies, laid out as in Flagger's GitOps tutorial.

::

    charts/podinfo/          the podinfo chart (with its Canary), deploy/charts/podinfo
    charts/loadtester/       Flagger's load tester chart
    namespaces/test.yaml     the ``test`` namespace (``istio-injection: enabled``)
    releases/test/loadtester.yaml
    releases/test/frontend.yaml   HelmReleases: chart ``./charts/podinfo`` from the
    releases/test/backend.yaml    ``flux-system`` GitRepository, values inline
    kustomization.yaml       what the ``flux-system`` Kustomization applies (not the charts)

:class:`Repository` writes that layout into a :class:`~flagger.playground.gitserver.Checkout`
and turns each tutorial step into one commit: a release's values change, or a revert.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

import yaml

from flagger.playground import charts, gitserver

__all__ = ["SOURCE", "Repository", "helm_release", "release_path"]

SOURCE = {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}


def release_path(namespace: str, name: str) -> str:
    """Where a release's HelmRelease lives in the repository."""
    return f"releases/{namespace}/{name}.yaml"


def helm_release(
    name: str, namespace: str, chart: str, values: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A HelmRelease of ``./charts/<chart>`` from the repository itself."""
    spec: dict[str, Any] = {
        "releaseName": name,
        "interval": "10m",
        "chart": {
            "spec": {"chart": f"./charts/{chart}", "sourceRef": dict(SOURCE), "interval": "1m"}
        },
    }
    if values:
        spec["values"] = dict(values)
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False)


class Repository:
    """The tutorial's repository, one commit per step (see the module docstring)."""

    def __init__(self, checkout: gitserver.Checkout, namespace: str) -> None:
        self.checkout, self.namespace = checkout, namespace
        self.releases: list[str] = []

    def initial(
        self, releases: Mapping[str, tuple[str, Mapping[str, Any] | None]], subject: str
    ) -> gitserver.Commit:
        """Charts, the namespace and ``name -> (chart, values)`` releases in one commit."""
        for chart in sorted({chart for chart, _ in releases.values()}):
            self.checkout.copy_tree(charts.chart_path(chart), f"charts/{chart}")
        files = {
            f"namespaces/{self.namespace}.yaml": _yaml(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": self.namespace,
                        "labels": {"istio-injection": "enabled"},
                    },
                }
            )
        }
        for name, (chart, values) in releases.items():
            files[release_path(self.namespace, name)] = _yaml(
                helm_release(name, self.namespace, chart, values)
            )
            self.releases.append(name)
        files["kustomization.yaml"] = _yaml(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [
                    f"namespaces/{self.namespace}.yaml",
                    *(release_path(self.namespace, n) for n in self.releases),
                ],
            }
        )
        return self.checkout.commit(subject, files)

    def release(
        self, name: str, chart: str, values: Mapping[str, Any], subject: str
    ) -> gitserver.Commit:
        """Commit and push new values for one release."""
        path = release_path(self.namespace, name)
        return self.checkout.commit(
            subject, {path: _yaml(helm_release(name, self.namespace, chart, values))}
        )

    def values(self, name: str) -> dict[str, Any]:
        """A release's values as the work tree has them."""
        path = pathlib.Path(self.checkout.path) / release_path(self.namespace, name)
        return dict(yaml.safe_load(path.read_text())["spec"].get("values") or {})

    def started_by(self, revision: str, name: str) -> gitserver.Commit | None:
        """The newest commit up to Flux's ``revision`` (``main@sha1:<sha>``) changing ``name``."""
        sha = revision.rpartition(":")[2] or "HEAD"
        return self.checkout.last_commit_touching(sha, release_path(self.namespace, name))
