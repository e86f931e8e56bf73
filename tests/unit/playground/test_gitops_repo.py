"""The tutorial's Git repository over smart HTTP on 127.0.0.1, one commit per step."""

from __future__ import annotations

import asyncio
import pathlib

import pytest
import yaml

from flagger.playground import flux_controllers, gitops_repo, gitserver


@pytest.fixture
async def served(tmp_path: pathlib.Path) -> gitserver.GitServer:
    server = gitserver.GitServer(tmp_path / "git")
    await server.start()
    yield server
    await server.stop()


async def test_the_layout_is_committed_pushed_and_cloned_back_over_http(
    served: gitserver.GitServer, tmp_path: pathlib.Path
) -> None:
    checkout = gitserver.Checkout(served.url, tmp_path / "work")
    await asyncio.to_thread(checkout.clone)
    repo = gitops_repo.Repository(checkout, "test")
    first = await asyncio.to_thread(
        repo.initial,
        {
            "flagger-loadtester": ("loadtester", None),
            "frontend": ("podinfo", {"image": {"tag": "3.1.0"}}),
        },
        "Add the releases",
    )
    bump = await asyncio.to_thread(
        repo.release, "frontend", "podinfo", {"image": {"tag": "3.1.1"}}, "frontend: 3.1.1"
    )
    assert bump.subject == "frontend: 3.1.1" and bump.revision == f"main@sha1:{bump.sha}"

    # What Flux's source-controller would fetch: a fresh clone over the same URL.
    other = gitserver.Checkout(served.url, tmp_path / "other")
    await asyncio.to_thread(other.clone)
    root = other.path
    assert (root / "charts/podinfo/Chart.yaml").is_file()
    assert (root / "charts/loadtester/Chart.yaml").is_file()
    kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
    assert kustomization["resources"] == [
        "namespaces/test.yaml",
        "releases/test/flagger-loadtester.yaml",
        "releases/test/frontend.yaml",
    ]
    release = yaml.safe_load((root / "releases/test/frontend.yaml").read_text())
    assert release["kind"] == "HelmRelease" and release["metadata"]["namespace"] == "test"
    assert release["spec"]["chart"]["spec"]["chart"] == "./charts/podinfo"
    assert release["spec"]["chart"]["spec"]["sourceRef"] == gitops_repo.SOURCE
    assert release["spec"]["values"] == {"image": {"tag": "3.1.1"}}

    # The commit that started a canary, as of the revision Flux applied.
    assert repo.started_by(first.revision, "frontend") == first
    assert repo.started_by(bump.revision, "frontend") == bump
    assert repo.started_by(bump.revision, "flagger-loadtester") == first

    undo = await asyncio.to_thread(checkout.revert, bump)
    assert undo.subject == 'Revert "frontend: 3.1.1"'
    assert repo.values("frontend") == {"image": {"tag": "3.1.0"}}


async def test_a_push_to_a_path_outside_the_repository_is_refused(
    served: gitserver.GitServer, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(gitserver.GitError):
        await asyncio.to_thread(
            gitserver.git,
            "clone",
            f"http://127.0.0.1:{served.port}/../../etc.git",
            str(tmp_path / "x"),
        )


def test_flux_events_become_timeline_lines_once_each() -> None:
    reader = flux_controllers.EventReader()
    event = {
        "metadata": {
            "uid": "u1",
            "annotations": {"source.toolkit.fluxcd.io/revision": "main@sha1:abc"},
        },
        "source": {"component": "source-controller"},
        "involvedObject": {
            "kind": "GitRepository",
            "namespace": "flux-system",
            "name": "flux-system",
        },
        "reason": "NewArtifact",
        "message": "stored artifact for commit 'frontend: image.tag 3.1.1'",
        "lastTimestamp": "2026-12-03T10:00:00Z",
        "count": 1,
    }
    other = {
        **event,
        "metadata": {"uid": "u2"},
        "source": {"component": "flagger"},
    }
    quiet = {**event, "metadata": {"uid": "u3"}, "reason": "ArtifactUpToDate"}
    (found,) = reader.new([event, other, quiet])
    assert found.line == (
        "GitRepository flux-system/flux-system NewArtifact: "
        "stored artifact for commit 'frontend: image.tag 3.1.1' (main@sha1:abc)"
    )
    assert found.revision == "main@sha1:abc"
    assert reader.new([event]) == []  # seen already
    assert len(reader.new([{**event, "count": 2}])) == 1  # repeated: new again
