"""Our generated CRDs on a real API server: Flagger's manifests are accepted and read back equal,
invalid ones are rejected with the field path, and kubectl shows Flagger's columns."""

from __future__ import annotations

import copy
import json
import pathlib
import re
import urllib.error
from typing import Any

import pytest
import yaml

from flagger.devcluster import cluster as devcluster
from tests.conftest import require_upstream

pytestmark = pytest.mark.cluster

PLURALS = {
    "Canary": "canaries",
    "MetricTemplate": "metrictemplates",
    "AlertProvider": "alertproviders",
}
SERVED_VERSION = "flagger.app/v1beta1"


def _documents(path: pathlib.Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _path(doc: dict[str, Any], namespace: str, name: str = "") -> str:
    base = f"/apis/{doc['apiVersion']}/namespaces/{namespace}/{PLURALS[doc['kind']]}"
    return f"{base}/{name}" if name else base


def _create(cluster: devcluster.LocalCluster, namespace: str, doc: dict[str, Any]) -> Any:
    return cluster.api("POST", _path(doc, namespace), doc)


def test_every_upstream_manifest_is_accepted_and_reads_back_equal(
    cluster: devcluster.LocalCluster, namespace: str
) -> None:
    files = require_upstream()
    checked = 0
    for path in files:
        for doc in _documents(path):
            # Sent as written, old apiVersions included (our CRDs still serve them).
            sent = copy.deepcopy(doc)
            sent["metadata"]["namespace"] = namespace
            try:
                created = _create(cluster, namespace, sent)
            except urllib.error.HTTPError as error:
                raise AssertionError(f"{path.name}: {error.read().decode()}") from error
            name = doc["metadata"]["name"]
            read = cluster.api("GET", _path(doc, namespace, name))
            assert read["spec"] == doc["spec"], path.name
            assert created["spec"] == doc["spec"], path.name
            cluster.api("DELETE", _path(doc, namespace, name))
            checked += 1
    assert checked == 53


INVALID = [
    ("analysis", {"stepWeight": "ten"}, "spec.analysis.stepWeight"),
    ("analysis", {"interval": "soon"}, "spec.analysis.interval"),
    ("service", {"port": None}, "spec.service.port"),
    ("targetRef", {"kind": "ReplicaSet"}, "spec.targetRef.kind"),
    ("targetRef", {"name": 7}, "spec.targetRef.name"),
    (
        "analysis",
        {"alerts": [{"name": "on-call", "severity": "critical", "providerRef": {"name": "slack"}}]},
        "spec.analysis.alerts[0].severity",
    ),
]


@pytest.mark.parametrize(("section", "change", "path"), INVALID, ids=[i[2] for i in INVALID])
def test_invalid_canary_is_rejected_with_the_field_path(
    cluster: devcluster.LocalCluster,
    namespace: str,
    section: str,
    change: dict[str, Any],
    path: str,
) -> None:
    canary: dict[str, Any] = {
        "apiVersion": SERVED_VERSION,
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10},
        },
    }
    canary["spec"][section].update(change)
    canary["spec"][section] = {k: v for k, v in canary["spec"][section].items() if v is not None}
    with pytest.raises(urllib.error.HTTPError) as raised:
        _create(cluster, namespace, canary)
    assert raised.value.code == 422
    message = json.loads(raised.value.read())["message"]
    assert path in message


def test_kubectl_shows_flaggers_columns(cluster: devcluster.LocalCluster, namespace: str) -> None:
    canary = {
        "apiVersion": SERVED_VERSION,
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
        },
    }
    created = _create(cluster, namespace, canary)
    created["status"] = {
        "phase": "Progressing",
        "canaryWeight": 20,
        "failedChecks": 1,
        "lastTransitionTime": "2026-11-26T10:00:00Z",
    }
    cluster.api(
        "PUT", f"/apis/flagger.app/v1beta1/namespaces/{namespace}/canaries/podinfo/status", created
    )

    plain = cluster.kubectl("get", "canaries", "-n", namespace).stdout.splitlines()
    assert plain[0].split() == ["NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"]
    assert plain[1].split() == ["podinfo", "Progressing", "20", "2026-11-26T10:00:00Z"]

    wide = cluster.kubectl("get", "canaries", "-A", "-o", "wide").stdout.splitlines()
    header = wide[0].split()
    assert header == [
        "NAMESPACE",
        "NAME",
        "STATUS",
        "WEIGHT",
        "SUSPENDED",
        "FAILEDCHECKS",
        "INTERVAL",
        "MIRROR",
        "STEPWEIGHT",
        "STEPWEIGHTS",
        "MAXWEIGHT",
        "LASTTRANSITIONTIME",
    ]
    # kubectl leaves unset cells blank, so read cells by the header's column offsets.
    starts = [m.start() for m in re.finditer(r"\S+", wide[0])]
    line = next(line for line in wide[1:] if line.startswith(namespace))
    ends: list[int | None] = [*starts[1:], None]
    cells = {n: line[s:e].strip() for n, s, e in zip(header, starts, ends, strict=True)}
    assert cells["NAME"] == "podinfo" and cells["STATUS"] == "Progressing"
    assert cells["WEIGHT"] == "20" and cells["FAILEDCHECKS"] == "1"
    assert cells["INTERVAL"] == "1m" and cells["STEPWEIGHT"] == "10"
    assert cells["MAXWEIGHT"] == "50" and cells["SUSPENDED"] == ""
