"""Config tracking without a cluster: discovery in pod specs, checksums, renaming, changes."""

from __future__ import annotations

import hashlib
from typing import Any

from flagger.workloads import configs

POD_SPEC: dict[str, Any] = {
    "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
    "containers": [
        {
            "name": "podinfod",
            "env": [
                {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "a"}}},
                {"name": "B", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "b"}}},
                {"name": "C", "value": "plain"},
                {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "all-env"}}],
        }
    ],
    "volumes": [
        {"name": "v1", "configMap": {"name": "vol-cm"}},
        {"name": "v2", "secret": {"secretName": "vol-secret"}},
        {
            "name": "v3",
            "projected": {
                "sources": [
                    {"configMap": {"name": "proj-cm"}},
                    {"secret": {"name": "proj-secret"}},
                    {"serviceAccountToken": {"path": "token"}},
                ]
            },
        },
        {"name": "v4", "emptyDir": {}},
    ],
}


def test_references_scan_every_place() -> None:
    config_maps, secrets = configs.references(POD_SPEC)
    assert config_maps == {"env-cm", "all-env", "vol-cm", "proj-cm"}
    assert secrets == {"init-env", "env-secret", "vol-secret", "proj-secret"}


def test_checksum_matches_go() -> None:
    # Go: json.Marshal(map[string]string{"b": "<x>", "a": "1"}) == `{"a":"1","b":"\u003cx\u003e"}`
    go_bytes = b'{"a":"1","b":"\\u003cx\\u003e"}'
    assert configs.go_json({"b": "<x>", "a": "1"}) == go_bytes
    assert configs.checksum({"b": "<x>", "a": "1"}) == hashlib.sha256(go_bytes).hexdigest()[:16]
    assert configs.checksum(None) == hashlib.sha256(b"null").hexdigest()[:16]


OPT_OUT = "flagger.app/config-tracking"


def test_config_checksum_filters() -> None:
    cm = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}}
    assert configs.config_checksum(cm) == configs.checksum({"k": "v"})
    opted_out = {
        **cm,
        "metadata": {"name": "x", "annotations": {"flagger.app/config-tracking": "disabled"}},
    }
    assert configs.config_checksum(opted_out) is None
    # Flagger's configIsDisabled is a prefix test: "disable" and "disabled-for-now" opt out too
    for value in ("disable", "disabled-for-now"):
        annotated = {**cm, "metadata": {"name": "x", "annotations": {OPT_OUT: value}}}
        assert configs.config_checksum(annotated) is None
    enabled = {**cm, "metadata": {"name": "x", "annotations": {OPT_OUT: "enabled"}}}
    assert configs.config_checksum(enabled) is not None
    for kind, tracked in [
        ("Opaque", True),
        ("kubernetes.io/tls", True),
        ("kubernetes.io/basic-auth", True),
        ("kubernetes.io/ssh-auth", True),
        ("kubernetes.io/dockerconfigjson", False),
        ("kubernetes.io/service-account-token", False),
    ]:
        secret = {"kind": "Secret", "type": kind, "metadata": {"name": "s"}, "data": {"k": "dg=="}}
        assert (configs.config_checksum(secret) is not None) is tracked, kind
    binary = {**cm, "binaryData": {"b": "AAE="}}
    assert configs.config_checksum(binary) != configs.config_checksum(cm)


def test_apply_primary_configs_renames_only_tracked() -> None:
    refs = {
        r.key: r
        for r in [
            configs.ConfigRef("configmap", "env-cm", "1"),
            configs.ConfigRef("secret", "init-env", "2"),
            configs.ConfigRef("configmap", "vol-cm", "3"),
            configs.ConfigRef("secret", "proj-secret", "4"),
            configs.ConfigRef("configmap", "all-env", "5"),
        ]
    }
    spec = configs.apply_primary_configs(POD_SPEC, refs)
    container = spec["containers"][0]
    assert container["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "env-cm-primary"
    assert container["env"][1]["valueFrom"]["secretKeyRef"]["name"] == "env-secret"  # untracked
    assert container["envFrom"][0]["configMapRef"]["name"] == "all-env-primary"
    assert spec["initContainers"][0]["envFrom"][0]["secretRef"]["name"] == "init-env-primary"
    assert spec["volumes"][0]["configMap"]["name"] == "vol-cm-primary"
    assert spec["volumes"][1]["secret"]["secretName"] == "vol-secret"
    sources = spec["volumes"][2]["projected"]["sources"]
    assert sources[0]["configMap"]["name"] == "proj-cm"
    assert sources[1]["secret"]["name"] == "proj-secret-primary"
    assert POD_SPEC["volumes"][0]["configMap"]["name"] == "vol-cm"  # input untouched


def test_config_changes() -> None:
    ref = configs.ConfigRef("configmap", "backend", "aaa")
    refs = {ref.key: ref}
    assert configs.config_changes({}, None) == configs.ConfigChanges(False)
    assert configs.config_changes(refs, None).changed
    unchanged = configs.config_changes(refs, {"configmap/backend": "aaa"})
    assert unchanged == configs.ConfigChanges(False)
    changed = configs.config_changes(refs, {"configmap/backend": "bbb"})
    assert changed == configs.ConfigChanges(True, ("ConfigMap backend has changed",))
    assert configs.config_changes(refs, {}).changed  # a config appeared
    assert configs.config_changes({}, {"secret/x": "1"}).changed  # a config went away
    assert configs.tracked_configs(refs) == {"configmap/backend": "aaa"}
