"""Form drift detection (bsin.transform.drift)."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from bsin.transform.drift import (
    DRIFT_COLUMNS,
    KINDS,
    StructuralDriftError,
    detect_drift,
    drift_frame,
)
from tests.support.fixtures_forms import (
    MONTHLY_TEXT,
    Case,
    choice_item,
    monthly_case,
    response,
    scale_item,
    self_assessment_case,
)


def kinds(findings: list[Any]) -> list[tuple[str, str]]:
    return [(f.kind, f.severity) for f in findings]


def item_of(case: Case, field: str) -> dict[str, Any]:
    question_id = case.ids[field]
    for item in case.form["items"]:
        if (item.get("questionItem") or {}).get("question", {}).get("questionId") == question_id:
            return item
    raise KeyError(field)


@pytest.mark.parametrize("language", sorted(MONTHLY_TEXT))
def test_unchanged_form_has_no_findings(language: str) -> None:
    case = monthly_case(language, with_month_question=True)
    assert detect_drift(case.form, case.mapping, previous_revision_id="rev1") == []


def test_unchanged_self_assessment_grid_has_no_findings() -> None:
    case = self_assessment_case()
    assert detect_drift(case.form, case.mapping) == []


def test_revision_change_is_info() -> None:
    case = monthly_case("sv")
    case.form["revisionId"] = "rev2"
    findings = detect_drift(case.form, case.mapping, previous_revision_id="rev1")
    assert kinds(findings) == [("revision_changed", "info")]
    assert "rev1 -> rev2" in findings[0].detail


def test_required_question_gone_fails_with_the_fix() -> None:
    case = monthly_case("sv")
    case.form["items"].remove(item_of(case, "satisfaction"))
    with pytest.raises(StructuralDriftError) as err:
        detect_drift(case.form, case.mapping)
    message = str(err.value)
    assert f"question {case.ids['satisfaction']}" in message
    assert "required field 'satisfaction' is no longer in the form" in message
    assert "mappings/se_monthly.yaml" in message and "put its id as question_id" in message
    assert kinds(err.value.findings) == [("mapped_question_gone", "error")]


def test_replaced_question_with_same_title_is_pointed_out() -> None:
    case = monthly_case("lv")
    old = item_of(case, "recommend")
    old["questionItem"]["question"]["questionId"] = "7a7a7a7a"  # re-created: new random id
    findings = detect_drift(case.form, case.mapping, raise_on_error=False)
    assert kinds(findings) == [
        ("mapped_question_gone", "error"),
        ("new_unmapped_question", "warning"),
    ]
    assert "question 7a7a7a7a has the same title: set question_id: '7a7a7a7a'" in findings[0].detail


def test_optional_question_gone_is_a_warning() -> None:
    case = monthly_case("sv")
    case.form["items"].remove(item_of(case, "suggestion"))
    findings = detect_drift(case.form, case.mapping)
    assert kinds(findings) == [("mapped_question_gone", "warning")]
    assert "or remove the entry" in findings[0].detail


def test_new_question_new_label_reworded_title_and_scale() -> None:
    case = monthly_case("et")
    case.form["items"].append(choice_item("0abc1234", "Kas tuled Riiga?", ["Jah", "Ei"]))
    item_of(case, "new_skill")["questionItem"]["question"]["choiceQuestion"]["options"].append(
        {"value": "Ei oska öelda"}
    )
    item_of(case, "relevance")["title"] = "Kui olulised olid selle kuu teemad?"
    satisfaction = item_of(case, "satisfaction")
    satisfaction.update(scale_item(case.ids["satisfaction"], satisfaction["title"], 1, 10))
    findings = detect_drift(case.form, case.mapping)
    assert sorted(kinds(findings)) == [
        ("new_unmapped_question", "warning"),
        ("scale_range_changed", "warning"),
        ("title_reworded", "info"),
        ("unknown_choice_label", "warning"),
    ]
    detail = {f.kind: f.detail for f in findings}
    assert (
        "'Ei oska öelda'" in detail["unknown_choice_label"]
        and "yes, partly, no" in detail["unknown_choice_label"]
    )
    assert "0abc1234" in detail["new_unmapped_question"]
    assert "1-10 scale" in detail["scale_range_changed"]
    assert "Kui olulised" in detail["title_reworded"]


def test_ignored_question_is_not_reported() -> None:
    case = monthly_case("sv")
    case.form["items"].append(choice_item("0abc1234", "Kommer du till Riga?", ["Ja", "Nej"]))
    case.mapping_data["ignored_questions"] = ["0abc1234"]
    assert detect_drift(case.form, case.mapping) == []


def test_diacritics_and_case_changes_are_not_rewording() -> None:
    case = monthly_case("lt")
    item = item_of(case, "challenges")
    item["title"] = "  KOKIE jūsų dabartiniai   iššūkiai?\u200b"
    assert detect_drift(case.form, case.mapping) == []


def test_form_in_another_language_fails() -> None:
    swedish = monthly_case("sv")
    english = copy.deepcopy(swedish.form)
    for item in english["items"]:
        item["title"] = "Question in English " + item["itemId"]
        options = item["questionItem"]["question"].get("choiceQuestion", {}).get("options", [])
        for n, option in enumerate(options):
            if "value" in option:
                option["value"] = f"Option {n}"
    with pytest.raises(StructuralDriftError) as err:
        detect_drift(english, swedish.mapping)
    message = str(err.value)
    assert "seems not to be in 'sv'" in message and "looks like 'en'" in message
    assert ("language_mismatch", "error") in kinds(err.value.findings)


def test_latvian_form_with_swedish_mapping_names_the_language() -> None:
    findings = detect_drift(
        monthly_case("lv").form, monthly_case("sv").mapping, raise_on_error=False
    )
    language = [f for f in findings if f.kind == "language_mismatch"]
    assert language and "looks like 'lv'" in language[0].detail


def test_answers_to_deleted_questions_are_counted() -> None:
    case = monthly_case("sv")
    responses = [
        response("r1", {**case.answers(), "0ld0ld00": "x"}),
        response("r2", {**case.answers(), "0ld0ld00": "y"}),
    ]
    findings = detect_drift(case.form, case.mapping, responses=responses)
    assert kinds(findings) == [("answer_to_unmapped_question", "info")]
    assert findings[0].detail.startswith("2 response(s) answer question 0ld0ld00")


def test_drift_frame_matches_the_form_drift_table() -> None:
    case = monthly_case("sv")
    case.form["revisionId"] = "rev2"
    case.form["items"].remove(item_of(case, "satisfaction"))
    findings = detect_drift(
        case.form, case.mapping, previous_revision_id="rev1", raise_on_error=False
    )
    df = drift_frame(
        findings + findings,
        country="SE",
        form_kind="monthly",
        report_month=date(2023, 3, 1),
        form_id="sv-monthly",
        revision_id="rev2",
    )
    assert list(df.columns) == DRIFT_COLUMNS
    assert len(df) == 2 and set(df["kind"]) <= set(KINDS)
    assert list(df["severity"]) == ["info", "error"]
