"""The ``flagger.app/action`` annotation: what is written, what is read, what is pending.

The matrix: a request round-trips through its JSON value; unreadable values are named with the
fix; a request whose id is in ``status.lastAction`` is no longer pending; an unreadable value is
reported once (its made-up id is stable).
"""

from __future__ import annotations

import pytest

from flagger.api import actions


def test_a_request_round_trips_through_the_annotation() -> None:
    request = actions.ActionRequest(
        actions.Action.PROMOTE, "3f2a91c0ffee", full=True, requested_by="alice"
    )
    assert actions.parse(request.encode()) == request
    assert request.label == "promote --full" and request.short_id == "3f2a91c0"


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("promote", "must be a JSON object"),
        ('{"action": "rollback", "id": "1"}', "'rollback' is not one of promote, abort"),
        ('{"action": "abort"}', "id must be a non-empty string"),
        ('{"action": "promote", "id": "1", "full": "yes"}', "full must be true or false"),
    ],
)
def test_unreadable_requests_are_named(value: str, complaint: str) -> None:
    with pytest.raises(actions.ActionError, match=complaint):
        actions.parse(value)


def test_pending_ignores_a_handled_request_and_reports_a_bad_one_once() -> None:
    request = actions.ActionRequest(actions.Action.ABORT, "r1")
    annotations = {actions.ANNOTATION: request.encode(), "other": "x"}
    assert actions.pending(annotations, None) == request
    assert actions.pending(annotations, "r1") is None
    assert actions.pending({}, None) is None

    bad = actions.pending({actions.ANNOTATION: "abort"}, None)
    assert isinstance(bad, actions.InvalidRequest)
    assert actions.pending({actions.ANNOTATION: "abort"}, bad.id) is None
