"""Landed payload texts decoded into the shape harmonising reads (bsin.transform.landed).

Every harmonisation test harmonises the decoded responses and their landed texts and
compares the two (tests/support/fixtures_forms.harmonise_case); these tests pin down which
payloads take the typed path and which are left to ``json.loads``.
"""

from __future__ import annotations

import json

import pytest

from bsin.transform.harmonise import harmonise_feedback
from bsin.transform.landed import Answer, LandedPayloads, LandedResponse, decode
from tests.support.fixtures_forms import (
    GRACE,
    KEY,
    TZ,
    assert_same_result,
    landed_text,
    monthly_case,
    response,
)


def _answer(*values) -> dict:
    return {"questionId": "q", "textAnswers": {"answers": [{"value": v} for v in values]}}


def test_a_payload_of_the_documented_shape_is_decoded_typed() -> None:
    payload = {
        "responseId": "r1",
        "member_id": "m_0123456789abcdef0123",
        "lastSubmittedTime": "2023-03-01T10:00:00.5Z",
        "createTime": "2023-03-01T09:00:00Z",
        "formId": "f",
        "totalScore": 3,
        "answers": {"q1": _answer("Jah", " ", ""), "q2": None, "q3": {"questionId": "q3"}},
    }
    [got] = decode([landed_text(payload)])
    assert isinstance(got, LandedResponse)
    assert got.get("responseId") == "r1"
    assert got.get("respondentEmail") is None and got.get("formId") is None
    assert got.answers["q1"].texts() == ["Jah"]  # blank texts dropped, as from a dict
    assert got.answers["q2"] is None
    assert got.answers["q3"].texts() == []


def test_equal_answers_decode_to_equal_hashable_values() -> None:
    a, b = decode([landed_text({"answers": {"q": _answer("Ei")}})] * 2)
    assert a.answers["q"] == b.answers["q"]
    assert isinstance(a.answers["q"], Answer)
    # One memo entry serves both responses (bsin.transform.answers.parse_landed).
    assert {a.answers["q"]: 1}[b.answers["q"]] == 1


@pytest.mark.parametrize(
    "text",
    [
        '{"responseId": 7}',  # a member of another type
        '{"answers": [1, 2]}',  # answers not an object
        '{"answers": {"q": "Jah"}}',  # an answer not an object
        '{"answers": {"q": {"textAnswers": {"answers": [{"value": 3}]}}}}',  # a number
        '{"answers": {"q": {"textAnswers": {"answers": ["Jah"]}}}}',
        '{"answers": {"q": {"textAnswers": {"answers": {"value": "Jah"}}}}}',
        '{"responseId": "r", "answers": {"q": {"textAnswers": {"answers": [{"value": NaN}]}}}}',
        '{"responseId": "\\ud800"}',  # a lone surrogate: only Python's decoder takes it
        "[]",
    ],
)
def test_a_payload_off_the_documented_shape_is_left_to_json_loads(text: str) -> None:
    [got] = decode([text])
    assert got == json.loads(text)
    assert isinstance(got, (dict, list))


def test_a_member_given_twice_keeps_the_last_as_json_loads_does() -> None:
    [got] = decode(['{"responseId": "a", "responseId": "b"}'])
    assert (
        got.get("responseId") == json.loads('{"responseId": "a", "responseId": "b"}')["responseId"]
    )


def test_off_shape_payloads_harmonise_the_same_as_decoded_ones() -> None:
    case = monthly_case("et")
    good = response("ok", case.answers(), email="a@example.org")
    odd_answer = response("odd", case.answers(), email="b@example.org")
    first_q = case.mapping.questions[0].question_id
    odd_answer["answers"][first_q] = {"textAnswers": {"answers": [{"value": 4}]}}
    unmapped = response("extra", case.answers(), email="c@example.org")
    unmapped["answers"]["not-mapped"] = _answer("something")
    responses = [good, odd_answer, unmapped]
    args = dict(country=case.country, key=KEY, tz=TZ, grace_days=GRACE)
    want = harmonise_feedback(responses, case.form, case.mapping, **args)
    landed = LandedPayloads([landed_text(r) for r in responses])
    kinds = [type(r).__name__ for r in decode(landed)]
    assert kinds == ["LandedResponse", "dict", "LandedResponse"]
    assert_same_result(harmonise_feedback(landed, case.form, case.mapping, **args), want)
    assert set(want.quarantine["response_id"]) == {"odd"}
    assert list(want.notes["field"]) == ["not-mapped"]


def test_only_payload_members_are_read_by_get() -> None:
    [got] = decode([landed_text({"responseId": "r1"})])
    assert got.get("get") is None and got.get("texts", "absent") == "absent"


def test_a_payload_that_is_not_json_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match=r"landed payload #1 is not JSON .*re-run the country's extract"
    ):
        decode([landed_text({"responseId": "r1"}), '{"responseId": "r2",'])
    # As the pipeline reads them, the payloads carry their ids: the error names the row.
    landed = LandedPayloads([landed_text({"responseId": "r1"}), "{"], ids=["r1", "r2"])
    with pytest.raises(
        ValueError, match=r"#1 \(response r2\) is not JSON.*delete its raw_response row"
    ):
        decode(landed)
