"""Client-side month cut of the responses list: nothing silently dropped, nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime

from bsin.ingest.forms_client import cut_window

START = datetime(2023, 3, 7, 22, tzinfo=UTC)
END = datetime(2023, 4, 7, 21, tzinfo=UTC)


def _r(rid, stamp):
    return {"responseId": rid, "lastSubmittedTime": stamp, "answers": {}}


def test_window_bounds_are_half_open():
    kept, bad = cut_window(
        [
            _r("a", "2023-03-07T21:59:59.999Z"),
            _r("b", "2023-03-07T22:00:00Z"),
            _r("c", "2023-04-07T20:59:59Z"),
            _r("d", "2023-04-07T21:00:00Z"),
        ],
        START,
        END,
    )
    assert [r["responseId"] for r in kept] == ["b", "c"]
    assert bad == []


def test_response_listed_twice_lands_once_in_its_latest_version():
    kept, _ = cut_window(
        [
            _r("a", "2023-03-20T10:00:00Z"),
            _r("a", "2023-03-21T10:00:00Z"),
            _r("a", "2023-03-19T10:00:00Z"),
        ],
        START,
        END,
    )
    assert len(kept) == 1 and kept[0]["lastSubmittedTime"] == "2023-03-21T10:00:00Z"


def test_unplaceable_responses_are_reported_with_a_reason():
    kept, bad = cut_window(
        [_r("a", "yesterday"), {"lastSubmittedTime": "2023-03-20T10:00:00Z"}, "garbage"],
        START,
        END,
    )
    assert kept == []
    rules = sorted(b[1] for b in bad)
    assert rules == ["malformed_response", "missing_response_id", "missing_timestamp"]
    assert all(b[3] for b in bad)
