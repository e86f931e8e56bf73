"""The bench's audit-log reader: a user's requests, incrementally, across a rotation (the API
server renames the log at ``--audit-log-maxsize``; a reader that did not follow it lost the
requests of the rest of the run: a 2,000-canary bench saw 780 of a shard's 1,000 canaries)."""

from __future__ import annotations

import json
import pathlib

from bench import probes


def _line(user: str, name: str) -> str:
    event = {
        "stage": "ResponseComplete",
        "user": {"username": user},
        "verb": "get",
        "objectRef": {"resource": "canaries", "namespace": "test", "name": name},
        "requestReceivedTimestamp": "2026-12-03T18:00:00.000000Z",
    }
    return json.dumps(event) + "\n"


def test_requests_are_read_once_each_across_a_rotation(tmp_path: pathlib.Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(_line("ours", "a") + _line("someone", "b"))
    reader = probes.AuditLog(log, "ours")
    assert [r.name for r in reader.poll()] == ["a"]
    with log.open("a") as stream:
        stream.write(_line("ours", "c"))
    log.rename(tmp_path / "audit-2026-12-03T18-10-48.493.log")
    log.write_text(_line("ours", "d"))
    assert [r.name for r in reader.poll()] == ["a", "c", "d"]
    assert [r.name for r in reader.poll()] == ["a", "c", "d"]
