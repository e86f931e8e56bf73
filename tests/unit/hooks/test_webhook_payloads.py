"""The document POSTed to webhooks, byte for byte.

Matrix: hook with and without metadata (no ``type`` field, ``metadata`` omitted when empty),
the phase passed by the caller, the checksum (stable, changes with the revision or a tracked
config), event documents (metadata keys, hook metadata never overriding them), Go's escaping.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flagger.api import canary as canary_api
from flagger.hooks import payloads

MakeCanary = Callable[..., canary_api.Canary]
STATUS = {
    "phase": "Progressing",
    "lastAppliedSpec": "5f7c8b9d4",
    "trackedConfigs": {"configmap/podinfo-config": "a1b2c3d4e5f60718"},
}


def test_payload_bytes_match_flaggers_field_order_and_compact_encoding(
    make_canary: MakeCanary,
) -> None:
    canary = make_canary(status=STATUS)
    body = payloads.encode(payloads.payload(canary, "Progressing", {"type": "cmd", "cmd": "hey"}))
    expected = (
        '{"name":"podinfo","namespace":"test","phase":"Progressing",'
        f'"checksum":"{payloads.checksum(canary)}","metadata":{{"cmd":"hey","type":"cmd"}}}}'
    )
    assert body.decode() == expected


def test_payload_without_metadata_has_no_metadata_key_and_no_type(
    make_canary: MakeCanary,
) -> None:
    document = json.loads(payloads.encode(payloads.payload(make_canary(), "Succeeded")))
    assert list(document) == ["name", "namespace", "phase", "checksum"]
    assert document["phase"] == "Succeeded"


def test_checksum_is_stable_and_follows_the_revision_and_tracked_configs(
    make_canary: MakeCanary,
) -> None:
    first = payloads.checksum(make_canary(status=STATUS))
    assert first == payloads.checksum(make_canary(status=dict(STATUS, phase="Promoting")))
    new_spec = payloads.checksum(make_canary(status=dict(STATUS, lastAppliedSpec="6d8f")))
    new_config = payloads.checksum(
        make_canary(
            status=dict(STATUS, trackedConfigs={"configmap/podinfo-config": "ffffffffffffffff"})
        )
    )
    assert len({first, new_spec, new_config}) == 3
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_uninitialised_canary_sends_an_empty_phase_and_a_checksum(make_canary: MakeCanary) -> None:
    document = payloads.event_payload(make_canary(), "Initialization done! podinfo.test", "Normal")
    assert document["phase"] == ""
    assert document["checksum"]


def test_event_payload_carries_the_event_and_keeps_its_keys_over_hook_metadata(
    make_canary: MakeCanary,
) -> None:
    canary = make_canary(status=STATUS)
    document: dict[str, Any] = dict(
        payloads.event_payload(
            canary,
            "Advance podinfo.test canary weight 10",
            "Normal",
            {"eventType": "spoofed", "team": "a"},
            now=1700000000.123,
        )
    )
    assert document["phase"] == "Progressing"
    assert document["metadata"] == {
        "eventMessage": "Advance podinfo.test canary weight 10",
        "eventType": "Normal",
        "team": "a",
        "timestamp": "1700000000123",
    }


def test_encoding_escapes_html_characters_like_go(make_canary: MakeCanary) -> None:
    body = payloads.encode(payloads.payload(make_canary(), "", {"cmd": "a<b>&c"}))
    assert b'"cmd":"a\\u003cb\\u003e\\u0026c"' in body
    assert json.loads(body)["metadata"]["cmd"] == "a<b>&c"
