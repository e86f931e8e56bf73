"""Revision hashes: FNV-32a and safe encoding, stability, and Flagger's "changed" rule."""

from __future__ import annotations

import copy
from typing import Any

from flagger.workloads import revision

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "podinfo"}, "annotations": {"prometheus.io/scrape": "true"}},
    "spec": {"containers": [{"name": "podinfod", "image": "ghcr.io/stefanprodan/podinfo:6.0.0"}]},
}


def test_fnv32a_known_vectors() -> None:
    assert revision.fnv32a(b"") == 0x811C9DC5
    assert revision.fnv32a(b"a") == 0xE40C292C
    assert revision.fnv32a(b"foobar") == 0xBF9CF968


def test_safe_encode_uses_no_vowels() -> None:
    encoded = revision.safe_encode("1234567890")
    assert len(encoded) == 10
    assert not set(encoded) & set("aeiou013")


def test_hash_is_stable_and_ignores_key_order() -> None:
    reordered = {"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]}
    assert revision.template_hash(TEMPLATE) == revision.template_hash(reordered)
    # a fixed value: the hash must not change between releases (status stores it)
    assert revision.template_hash(TEMPLATE) == revision.template_hash(copy.deepcopy(TEMPLATE))
    assert revision.template_hash({}) == revision.template_hash(None)


def test_any_change_changes_the_hash() -> None:
    changed = copy.deepcopy(TEMPLATE)
    changed["spec"]["containers"][0]["image"] = "ghcr.io/stefanprodan/podinfo:6.0.1"
    restarted = copy.deepcopy(TEMPLATE)
    restarted["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = "now"
    hashes = {revision.template_hash(t) for t in (TEMPLATE, changed, restarted)}
    assert len(hashes) == 3


def test_has_changed_follows_flagger() -> None:
    assert revision.has_changed("abc", None, None)  # never applied
    assert revision.has_changed("abc", "", "abc")  # lastApplied empty wins
    assert not revision.has_changed("abc", "abc", "abc")  # nothing new
    assert revision.has_changed("new", "abc", "abc")  # new revision
    assert not revision.has_changed("old", "new", "old")  # back to the promoted spec
    assert not revision.has_changed("new", "new", "old")  # already being analysed
