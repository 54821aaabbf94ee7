"""A member edits last month's response after its window closed (issue 14, bad input).

The new version's ``lastSubmittedTime`` falls in the next report month's window, so that
month's extract lands it and its landed row moves there. Harmonising that month used to
fail the country's task ("feedback_candidate would hold a key twice"): the earlier month's
candidate of the same response was still there. Now the response belongs to the month
its latest version landed in, once, on both backends, and re-running the earlier month
does not bring the old version back.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bsin.core.months import add_months, format_rfc3339, month_window
from tests.conftest import BACKENDS
from tests.support.pipeline_harness import harness


def _satisfaction_qid(country: str) -> str:
    from bsin.transform.mapping import load_mapping

    return load_mapping(country, "monthly").by_field["satisfaction"].question_id


def _text_answer(qid: str, value: str) -> dict:
    return {"questionId": qid, "textAnswers": {"answers": [{"value": value}]}}


def _months_of(h, table: str, month_col: str, rid: str) -> list:
    return [
        r[0]
        for r in h.wh.query(
            f"select {month_col} from {table} where response_id = :r order by 1",  # noqa: S608
            {"r": rid},
        )
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_response_edited_into_the_next_window_moves_there_once(tmp_path, backend) -> None:
    with harness(tmp_path, backend=backend) as h:
        country = h.partners.countries[0]
        first = h.month
        rid, fixed = (r["responseId"] for r in h.responses_in_window(country)[:2])
        # ``fixed``'s first version is quarantined; its edit corrects the answer.
        responses = h.read_responses(country)
        broken = next(r for r in responses if r["responseId"] == fixed)
        original = dict(broken["answers"])
        broken["answers"][_satisfaction_qid(country)] = _text_answer(
            _satisfaction_qid(country), "not on the scale"
        )
        h.write_responses(country, responses)
        h.ingest(country)
        h.validate()
        assert h.count("quarantine", "response_id = :r", {"r": fixed})
        assert not h.count("feedback", "response_id = :r", {"r": fixed})
        loaded_first = h.count("feedback", "feedback_month = :m", {"m": first})
        assert _months_of(h, "feedback", "feedback_month", rid) == [first]

        # The member edits the response three days into the next month's window.
        nxt = add_months(first, 1)
        start, _ = month_window(nxt, h.partners.partner(country).timezone, h.programme.grace_days)
        responses = h.read_responses(country)
        for r in responses:
            if r["responseId"] in (rid, fixed):
                r["lastSubmittedTime"] = format_rfc3339(start + timedelta(days=3))
            if r["responseId"] == fixed:
                r["answers"] = original
        h.write_responses(country, responses)

        h.month = nxt
        h.ingest(country)  # failed here before: the key (country, response_id) twice
        assert _months_of(h, "raw_response", "report_month", rid) == [nxt]
        assert h.count("raw_response_history", "response_id = :r", {"r": rid}) == 1
        assert _months_of(h, "feedback_candidate", "report_month", rid) == [nxt]
        summary = h.validate()
        assert summary["loaded"] == summary["candidates"]
        [(candidate_month,)] = h.wh.query(
            "select feedback_month from feedback_candidate where response_id = :r", {"r": rid}
        )
        # Once, under the month its latest version gives; gone from the earlier month.
        assert _months_of(h, "feedback", "feedback_month", rid) == [candidate_month]
        # (A form with a month question keeps the month its answer names.)
        left_first = loaded_first - (candidate_month != first)
        assert h.count("feedback", "feedback_month = :m", {"m": first}) == left_first
        assert not h.count("quarantine", "response_id = :r", {"r": rid})
        # The corrected one is loaded in the new month and no longer counted as quarantined.
        assert _months_of(h, "feedback", "feedback_month", fixed) == [candidate_month]
        assert not h.count("quarantine", "response_id = :r", {"r": fixed})

        # A re-run of the new month changes nothing.
        moved = h.dump()
        h.ingest(country)
        h.validate()
        assert h.dump() == moved

        # Clearing the earlier month's run does not bring the old version back.
        h.month = first
        h.harmonise(country)
        h.validate()
        assert _months_of(h, "feedback_candidate", "report_month", rid) == [nxt]
        assert _months_of(h, "feedback", "feedback_month", rid) == [candidate_month]
        assert h.count("feedback", "feedback_month = :m", {"m": first}) == left_first
        assert not h.count("quarantine", "response_id = :r", {"r": fixed})
