"""Harmonisation of raw responses into canonical rows, selections and quarantine."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsin.ingest.pseudonymise import member_id
from bsin.reporting.text import TEXT_LIMIT
from bsin.transform.harmonise import HarmoniseResult, harmonise_feedback
from bsin.transform.mapping import MONTHLY_FIELDS
from bsin.transform.schema import (
    FEEDBACK_COLUMNS,
    NEED_COLUMNS,
    QUARANTINE_COLUMNS,
    SELECTION_COLUMNS,
    SELF_ASSESSMENT_COLUMNS,
)
from tests.support.fixtures_forms import (
    GRACE,
    KEY,
    MONTHLY_TEXT,
    TZ,
    Case,
    harmonise_case,
    monthly_case,
    response,
    self_assessment_case,
)

LANGUAGES = sorted(MONTHLY_TEXT)


def run(case: Case, responses: list[dict[str, Any]], **kw: Any) -> HarmoniseResult:
    result = harmonise_case(case, responses, **kw)
    assert result.is_balanced()
    return result


def only_rule(result: HarmoniseResult) -> tuple[str, str]:
    assert len(result.quarantine) == 1, result.quarantine.to_string()
    row = result.quarantine.iloc[0]
    return row["rule"], row["field"]


def no_email_anywhere(result: HarmoniseResult, *emails: str) -> None:
    for frame in (result.rows, result.selections, result.quarantine, result.notes):
        text = frame.astype(str).to_csv()
        for email in emails:
            assert email not in text


# --- the happy path -----------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_valid_response_becomes_one_canonical_row(language: str) -> None:
    case = monthly_case(language)
    email = "Anna.Berzina@example.org"
    result = run(case, [response("r1", case.answers(challenges_other="Laiks"), email=email)])
    assert list(result.rows.columns) == FEEDBACK_COLUMNS
    assert list(result.selections.columns) == SELECTION_COLUMNS
    assert list(result.quarantine.columns) == QUARANTINE_COLUMNS
    assert result.quarantine.empty and result.notes.empty
    row = result.rows.iloc[0].to_dict()
    assert row["member_id"] == member_id(email, KEY)
    assert row["feedback_month"] == date(2023, 3, 1)
    assert row["submitted_at"] == pd.Timestamp("2023-03-30 10:00:00")
    assert row["attended_peer_session"] is True and row["attended_workshop"] is False
    assert (row["satisfaction"], row["relevance"], row["recommend"]) == (4, 3, 9)
    assert row["new_skill"] == "partly" and row["new_connections_abroad"] == 2
    assert row["stakeholder_access"] == "corporate;public_sector"
    assert row["challenges"] == "funding;other" and row["challenges_other"] == "Laiks"
    assert row["form_revision_id"] == "rev1"
    assert sorted(map(tuple, result.selections[["field", "value"]].values)) == [
        ("challenges", "funding"),
        ("challenges", "other"),
        ("stakeholder_access", "corporate"),
        ("stakeholder_access", "public_sector"),
    ]
    no_email_anywhere(result, email, email.lower())


@pytest.mark.parametrize("language", ["lv", "lt", "et"])
def test_decomposed_and_messy_labels_still_match(language: str) -> None:
    case = monthly_case(language)
    answers = case.answers()
    for question_id, value in list(answers.items()):
        if isinstance(value, list):
            answers[question_id] = [
                f"  {unicodedata.normalize('NFD', v).upper()}\u200b" for v in value
            ]
        else:
            answers[question_id] = unicodedata.normalize("NFD", value)
    result = run(case, [response("r1", answers)])
    assert result.quarantine.empty
    assert result.rows.iloc[0]["stakeholder_access"] == "corporate;public_sector"


# --- bad input ----------------------------------------------------------------------------

UNKNOWN = {"sv": "Kanske", "et": "Võib-olla", "lv": "Varbūt", "lt": "Galbūt"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_unknown_label_in_each_language_is_quarantined(language: str) -> None:
    case = monthly_case(language)
    answers = case.answers()
    answers[case.ids["new_skill"]] = UNKNOWN[language]
    result = run(case, [response("r1", answers)])
    assert result.rows.empty
    assert only_rule(result) == ("unknown_label", "new_skill")
    row = result.quarantine.iloc[0]
    assert row["value"] == UNKNOWN[language]
    assert f"({language})" in row["reason"] and UNKNOWN[language] in row["reason"]
    assert f"{case.country.lower()}_monthly.yaml" in row["reason"]


def test_label_without_its_diacritics_is_unknown() -> None:
    case = monthly_case("lv")
    answers = case.answers()
    answers[case.ids["new_skill"]] = "Daleji"  # "Daļēji" without diacritics is another word
    assert only_rule(run(case, [response("r1", answers)])) == ("unknown_label", "new_skill")


@pytest.mark.parametrize(
    ("field", "text", "rule"),
    [
        ("satisfaction", "6", "out_of_range"),
        ("satisfaction", "0", "out_of_range"),
        ("relevance", "", "empty_required"),
        ("recommend", "11", "out_of_range"),
        ("new_connections_abroad", "three", "not_a_number"),
        ("new_connections_abroad", "-1", "out_of_range"),
        ("new_connections_abroad", "51", "out_of_range"),
        ("new_connections_abroad", "2.5", "not_a_number"),
        ("new_connections_abroad", "2,5", "not_a_number"),
    ],
)
def test_bad_numbers_are_quarantined(field: str, text: str, rule: str) -> None:
    case = monthly_case("sv")
    answers = case.answers()
    answers[case.ids[field]] = text
    result = run(case, [response("r1", answers)])
    assert result.rows.empty
    assert only_rule(result) == (rule, field)
    assert result.quarantine.iloc[0]["value"] == text


@pytest.mark.parametrize("text", ["3", " 3 ", "+3", "03"])
def test_connections_tolerate_spaces_and_signs(text: str) -> None:
    case = monthly_case("sv")
    answers = case.answers()
    answers[case.ids["new_connections_abroad"]] = text
    result = run(case, [response("r1", answers)])
    assert result.rows.iloc[0]["new_connections_abroad"] == 3


def test_empty_response_names_every_required_field() -> None:
    case = monthly_case("sv")
    result = run(case, [response("r1", {})])
    assert result.rows.empty
    assert set(result.quarantine["rule"]) == {"empty_required"}
    assert set(result.quarantine["field"]) == {
        name for name, spec in MONTHLY_FIELDS.items() if spec.answer_required
    }


def test_optional_answers_may_be_empty() -> None:
    case = monthly_case("sv")
    result = run(case, [response("r1", case.answers(challenges=None, suggestion=None))])
    row = result.rows.iloc[0]
    assert pd.isna(row["challenges"]) and pd.isna(row["suggestion"])
    assert set(result.selections["field"]) == {"stakeholder_access"}


def test_whitespace_only_answer_counts_as_empty() -> None:
    case = monthly_case("sv")
    answers = case.answers()
    answers[case.ids["satisfaction"]] = " \u00a0 "
    assert only_rule(run(case, [response("r1", answers)])) == ("empty_required", "satisfaction")


def test_response_without_email_is_quarantined() -> None:
    case = monthly_case("sv")
    result = run(
        case,
        [response("r1", case.answers(), email=None), response("r2", case.answers(), email="  ")],
    )
    assert result.rows.empty
    assert set(result.quarantine["rule"]) == {"missing_email"}
    assert "Collect email addresses" in result.quarantine.iloc[0]["reason"]


def test_duplicate_submissions_keep_the_latest() -> None:
    case = monthly_case("sv")
    responses = [
        response("early", case.answers(satisfaction=2), submitted="2023-03-28T10:00:00Z"),
        response("late", case.answers(satisfaction=5), submitted="2023-04-02T09:00:00Z"),
        response("middle", case.answers(satisfaction=3), submitted="2023-03-30T10:00:00Z"),
        # Same member, another month: not a duplicate.
        response("feb", case.answers(), submitted="2023-02-27T10:00:00Z"),
        # Another member, same month.
        response("other", case.answers(), email="member2@example.org"),
    ]
    result = run(case, responses)
    assert sorted(result.rows["response_id"]) == ["feb", "late", "other"]
    assert result.rows.set_index("response_id").loc["late", "satisfaction"] == 5
    dupes = result.quarantine
    assert sorted(dupes["response_id"]) == ["early", "middle"]
    assert set(dupes["rule"]) == {"duplicate_submission"}
    assert all("late" in reason and "2023-03" in reason for reason in dupes["reason"])


def test_edited_response_counts_once_with_its_latest_answers() -> None:
    case = monthly_case("sv")
    first = response("r1", case.answers(satisfaction=2), submitted="2023-03-29T10:00:00Z")
    edit = response("r1", case.answers(satisfaction=4), submitted="2023-03-30T10:00:00Z")
    result = run(case, [edit, first])
    assert result.quarantine.empty and len(result.rows) == 1
    assert result.rows.iloc[0]["satisfaction"] == 4
    assert result.response_ids == ("r1",)


def test_newer_bad_response_does_not_push_out_an_older_clean_one() -> None:
    case = monthly_case("sv")
    bad = case.answers()
    bad[case.ids["new_skill"]] = "Kanske"
    result = run(
        case,
        [
            response("old", case.answers(), submitted="2023-03-28T10:00:00Z"),
            response("new", bad, submitted="2023-03-30T10:00:00Z"),
        ],
    )
    assert list(result.rows["response_id"]) == ["old"]
    assert only_rule(result) == ("unknown_label", "new_skill")


def test_answer_to_question_no_longer_in_the_form_is_a_note() -> None:
    case = monthly_case("sv")
    answers = {**case.answers(), "deadbeef": "Ett gammalt svar"}
    result = run(case, [response("r1", answers)])
    assert len(result.rows) == 1 and result.quarantine.empty
    note = result.notes.iloc[0]
    assert (note["rule"], note["field"]) == ("answer_to_unmapped_question", "deadbeef")
    assert "no longer in the form" in note["reason"] and note["value"] == "Ett gammalt svar"


def test_ignored_question_gives_no_note() -> None:
    case = monthly_case("sv")
    case.mapping_data["ignored_questions"] = ["deadbeef"]
    result = run(case, [response("r1", {**case.answers(), "deadbeef": "x"})])
    assert result.notes.empty and len(result.rows) == 1


def test_one_megabyte_answer_is_truncated_and_noted() -> None:
    case = monthly_case("sv")
    huge = "ä" * 1_048_576
    result = run(case, [response("r1", case.answers(suggestion=huge, challenges_other=huge))])
    row = result.rows.iloc[0]
    assert len(row["suggestion"]) == TEXT_LIMIT and row["suggestion"].endswith("[…]")
    assert len(row["challenges_other"]) == TEXT_LIMIT
    assert sorted(result.notes["field"]) == ["challenges_other", "suggestion"]
    assert set(result.notes["rule"]) == {"text_truncated"}
    assert all(len(v) <= 200 for v in result.notes["value"])
    assert "1,048,576 characters" in result.notes.iloc[0]["reason"]


def test_one_megabyte_answer_in_a_number_field_quarantines_with_short_value() -> None:
    case = monthly_case("sv")
    answers = case.answers()
    answers[case.ids["new_connections_abroad"]] = "9" * 1_048_576
    result = run(case, [response("r1", answers)])
    assert only_rule(result) == ("out_of_range", "new_connections_abroad")
    assert len(result.quarantine.iloc[0]["value"]) == 200


def test_other_text_versus_unmapped_form_option() -> None:
    case = monthly_case("sv")
    # The partner added an option to the form that the mapping does not know yet.
    options = case.form["items"][8]["questionItem"]["question"]["choiceQuestion"]["options"]
    options.insert(0, {"value": "Digitalisering"})
    ok = run(
        case, [response("r1", case.answers(challenges=["team"], challenges_other="Tidsbrist"))]
    )
    assert ok.rows.iloc[0]["challenges"] == "other;team"
    assert ok.rows.iloc[0]["challenges_other"] == "Tidsbrist"
    answers = case.answers()
    answers[case.ids["challenges"]] = ["Finansiering", "Digitalisering"]
    bad = run(case, [response("r2", answers)])
    assert only_rule(bad) == ("unknown_label", "challenges")
    assert bad.quarantine.iloc[0]["value"] == "Digitalisering"


def test_several_unknown_labels_of_one_question_make_one_row() -> None:
    case = monthly_case("et")
    answers = case.answers()
    answers[case.ids["stakeholder_access"]] = ["Ülikoolid", "Kirikud"]
    result = run(case, [response("r1", answers)])
    assert only_rule(result) == ("unknown_label", "stakeholder_access")
    assert result.quarantine.iloc[0]["value"] == "Ülikoolid; Kirikud"


def test_feedback_month_question_and_default_rule() -> None:
    case = monthly_case("sv", with_month_question=True)
    month_id = case.ids["feedback_month"]
    responses = [
        # Submitted in April within the grace days: default rule gives March.
        response("grace", case.answers(), submitted="2023-04-05T10:00:00Z", email="a@example.org"),
        # After the grace days: April.
        response("april", case.answers(), submitted="2023-04-10T10:00:00Z", email="b@example.org"),
        # The form's month question wins over the submission time.
        response("asked", {**case.answers(), month_id: "2023-01-15"}, email="c@example.org"),
        response("bad", {**case.answers(), month_id: "2023-13-01"}, email="d@example.org"),
    ]
    result = run(case, responses)
    months = dict(zip(result.rows["response_id"], result.rows["feedback_month"], strict=True))
    assert months == {
        "grace": date(2023, 3, 1),
        "april": date(2023, 4, 1),
        "asked": date(2023, 1, 1),
    }
    assert only_rule(result) == ("not_a_date", "feedback_month")


def test_report_month_fills_the_quarantine() -> None:
    case = monthly_case("sv")
    result = run(case, [response("r1", {})], report_month=date(2023, 3, 1))
    assert set(result.quarantine["report_month"]) == {date(2023, 3, 1)}


def test_missing_response_id_and_timestamp_are_quarantined() -> None:
    case = monthly_case("sv")
    no_id = response("", case.answers())
    no_time = response("r2", case.answers(), email="b@example.org")
    del no_time["lastSubmittedTime"], no_time["createTime"]
    result = run(case, [no_id, no_time])
    assert result.rows.empty
    assert set(result.quarantine["rule"]) == {"missing_response_id", "missing_timestamp"}


def test_mapping_of_the_wrong_kind_is_refused() -> None:
    case = monthly_case("sv")
    with pytest.raises(ValueError, match="self_assessment mapping was given for the monthly form"):
        harmonise_feedback(
            [],
            case.form,
            self_assessment_case().mapping,
            country="SE",
            key=KEY,
            tz=TZ,
            grace_days=7,
        )


# --- self-assessment ----------------------------------------------------------------------


def test_self_assessment_grid_needs_and_waves() -> None:
    case = self_assessment_case()
    responses = [
        response("b1", case.answers(capability_scaling=5), submitted="2022-08-20T10:00:00Z"),
        response("b2", case.answers(capability_scaling=4), submitted="2022-08-25T10:00:00Z"),
        response(
            "e1",
            case.answers(wave="endline", needs=["visibility"]),
            submitted="2023-08-20T10:00:00Z",
        ),
        response("x", case.answers(capability_visibility=6), email="b@example.org"),
    ]
    result = run(case, responses)
    assert list(result.rows.columns) == SELF_ASSESSMENT_COLUMNS
    assert list(result.selections.columns) == NEED_COLUMNS
    rows = result.rows.set_index("response_id")
    assert list(rows.index) == ["b2", "e1"]
    assert (
        rows.loc["b2", "capability_scaling"] == 4
        and rows.loc["b2", "capability_team_leadership"] == 3
    )
    assert rows.loc["b2", "needs"] == "funding_access;scaling"
    assert sorted(map(tuple, result.selections[["wave", "need"]].values)) == [
        ("baseline", "funding_access"),
        ("baseline", "scaling"),
        ("endline", "visibility"),
    ]
    quarantine = result.quarantine.set_index("response_id")
    assert quarantine.loc["b1", "rule"] == "duplicate_submission"
    assert (quarantine.loc["x", "rule"], quarantine.loc["x", "field"]) == (
        "out_of_range",
        "capability_visibility",
    )
    assert set(result.quarantine["form_kind"]) == {"self_assessment"}


# --- the invariant: responses in = rows + quarantined responses ----------------------------

_CASE = monthly_case("lv")
_FIELDS = list(_CASE.ids)


@st.composite
def messy_response(draw: st.DrawFn, index: int) -> dict[str, Any]:
    answers = _CASE.answers()
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=4)):
        answers[_CASE.ids[name]] = draw(
            st.one_of(
                st.just(""),
                st.text(max_size=12),
                st.sampled_from(["3", " 3 ", "three", "-1", "51", "2.5", "Jā", "Daļēji", "Nē"]),
                st.lists(st.sampled_from(["Komanda", "Cits", "Mediji", "Neviens", ""]), max_size=3),
            )
        )
    if draw(st.booleans()):
        answers["gone0001"] = "old"
    email = draw(st.sampled_from(["a@example.org", "b@example.org", "c@example.org", None, ""]))
    day = draw(st.integers(min_value=1, max_value=28))
    month = draw(st.sampled_from([2, 3, 4]))
    response_id = draw(st.sampled_from([f"r{index}", "r0", "r1"]))  # edits reuse ids
    return response(
        response_id, answers, email=email, submitted=f"2023-{month:02d}-{day:02d}T08:00:00Z"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(min_value=0, max_value=12).flatmap(
        lambda n: st.tuples(*(messy_response(i) for i in range(n)))
    )
)
def test_every_response_is_either_a_row_or_quarantined(
    responses: tuple[dict[str, Any], ...],
) -> None:
    result = harmonise_feedback(
        list(responses), _CASE.form, _CASE.mapping, country="LV", key=KEY, tz=TZ, grace_days=GRACE
    )
    ids_in = {r["responseId"] for r in responses}
    kept = list(result.rows["response_id"])
    quarantined = set(result.quarantine["response_id"])
    assert len(kept) == len(set(kept))
    assert not set(kept) & quarantined
    assert set(kept) | quarantined == ids_in
    assert len(kept) + len(quarantined) == len(ids_in)
    # One row per member and month, as the feedback table's primary key demands.
    assert not result.rows.duplicated(["member_id", "feedback_month"]).any()
    assert isinstance(
        result.rows["submitted_at"].iloc[0] if len(kept) else datetime.now(), datetime
    )


@pytest.mark.parametrize("seed", range(40))
def test_feedback_selections_of_a_frame_equal_those_of_its_rows(seed):
    """The column-wise derivation equals a plain row-by-row reading of the rule: per row,
    per set field, each distinct chosen value once, values sorted."""
    import random

    from bsin.transform.harmonise import FEEDBACK_SET_FIELDS, feedback_selections

    def row_wise(rows):
        out = []
        for r in rows:
            for field_name in FEEDBACK_SET_FIELDS:
                text = r[field_name]
                if isinstance(text, str) and text:
                    out.extend(
                        [r["country"], r["feedback_month"], r["member_id"], field_name, v]
                        for v in sorted(set(text.split(";")))
                    )
        return out

    rnd = random.Random(seed)
    n = rnd.randint(0, 15)
    texts = [None, "", "a", "b;a", "a;a;c", "x", float("nan"), "c;b", "ö;Ä"]
    df = pd.DataFrame(
        {
            "country": [rnd.choice("XYZ") for _ in range(n)],
            "feedback_month": [date(2022, rnd.randint(1, 3), 1) for _ in range(n)],
            "member_id": [f"m{rnd.randint(0, 5)}" for _ in range(n)],
            **{f: [rnd.choice(texts) for _ in range(n)] for f in FEEDBACK_SET_FIELDS},
        }
    )
    if seed % 2:
        df = df.astype(dict.fromkeys(FEEDBACK_SET_FIELDS, "string"))
    if seed % 3 == 0:
        df.index = range(100, 100 + n)  # validation's frames are filtered: any index
    rows = [
        {
            k: (None if not isinstance(v, str) else v) if k in FEEDBACK_SET_FIELDS else v
            for k, v in r.items()
        }
        for r in df.to_dict("records")
    ]
    assert feedback_selections(df).values.tolist() == row_wise(rows)
