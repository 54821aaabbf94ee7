"""Great Expectations validation of the merged month (bsin.quality.validation).

Importing GX costs ~10 s, so the GX tests share one module-scoped run where possible and
are marked slow; the suite definitions are checked without GX.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bsin.core.config import PartnersConfig, ValidationLimits, load_partners
from bsin.core.months import add_months
from bsin.quality.expectations import feedback_expectations, self_assessment_expectations
from bsin.quality.validation import (
    ValidationFailed,
    ValidationOutcome,
    validate_feedback_month,
    validate_self_assessment,
)
from bsin.transform.schema import QUARANTINE_COLUMNS
from tests.support.fixtures_forms import (
    MONTH,
    harmonise_case,
    merged_month,
    response,
    self_assessment_case,
)

PARTNERS = load_partners()


def test_validation_module_does_not_import_gx() -> None:
    code = "import sys, bsin.quality.validation; print('great_expectations' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_suites_cover_types_ranges_sets_and_keys() -> None:
    names = {
        (e.name, str(e.kwargs.get("column") or e.kwargs.get("column_list")))
        for e in feedback_expectations(PARTNERS.countries[:1], MONTH)
    }
    assert ("ExpectColumnValuesToBeBetween", "recommend") in names
    assert ("ExpectColumnValuesToBeInSet", "new_skill") in names
    assert ("ExpectColumnValuesToMatchRegex", "stakeholder_access") in names
    assert ("ExpectColumnValuesToBeInTypeList", "satisfaction") in names
    assert (
        "ExpectCompoundColumnsToBeUnique",
        "['country', 'feedback_month', 'member_id']",
    ) in names
    assert ("ExpectColumnValuesToNotBeNull", "member_id") in names
    assert ("ExpectColumnValuesToNotBeNull", "suggestion") not in names  # optional answer
    sa = {
        (e.name, str(e.kwargs.get("column")))
        for e in self_assessment_expectations(PARTNERS.countries[:1])
    }
    assert ("ExpectColumnValuesToBeBetween", "capability_scaling") in sa


# --- GX runs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outcome(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ValidationOutcome, pd.DataFrame, Path]:
    df = merged_month()
    # What a broken upstream step or a hand edit in the warehouse could leave behind.
    df.loc[0, "satisfaction"] = 9
    df.loc[1, "new_skill"] = "maybe"
    df.loc[5, "stakeholder_access"] = "corporate;aliens"
    df.loc[6, "relevance"] = pd.NA
    df.loc[10, "member_id"] = df.loc[11, "member_id"]  # two rows for one member and month
    df.loc[15, "feedback_month"] = date(2023, 4, 1)  # about the future
    docs = tmp_path_factory.mktemp("gx") / "data_docs"
    return validate_feedback_month(df, PARTNERS, MONTH, data_docs_dir=docs), df, docs


@pytest.mark.slow
def test_row_failures_become_quarantine_rows(
    outcome: tuple[ValidationOutcome, pd.DataFrame, Path],
) -> None:
    result, df, _ = outcome
    q = result.quarantine_df
    assert list(q.columns) == QUARANTINE_COLUMNS
    got = {(r.response_id, r.rule, r.field) for r in q.itertuples()}
    rid = df["response_id"]
    assert got == {
        (rid[0], "expect_column_values_to_be_between", "satisfaction"),
        (rid[1], "expect_column_values_to_be_in_set", "new_skill"),
        (rid[5], "expect_column_values_to_match_regex", "stakeholder_access"),
        (rid[6], "expect_column_values_to_not_be_null", "relevance"),
        (rid[10], "expect_compound_columns_to_be_unique", "country,feedback_month,member_id"),
        (rid[11], "expect_compound_columns_to_be_unique", "country,feedback_month,member_id"),
        (rid[15], "expect_column_values_to_be_between", "feedback_month"),
    }
    reasons = dict(zip(q["field"], q["reason"], strict=False))
    assert reasons["satisfaction"] == "satisfaction = 9 is outside 1..5"
    assert set(q["report_month"]) == {MONTH} and set(q["form_kind"]) == {"monthly"}
    # responses in = valid + quarantined
    assert len(result.valid_df) + q["response_id"].nunique() == len(df)
    assert not set(result.valid_df["response_id"]) & set(q["response_id"])
    counts = result.summary["countries"]
    assert {c: counts[c]["candidates"] for c in set(df["country"])} == {
        c: 5 for c in set(df["country"])
    }


@pytest.mark.slow
def test_data_docs_are_built(outcome: tuple[ValidationOutcome, pd.DataFrame, Path]) -> None:
    result, _, docs = outcome
    index = docs / "index.html"
    assert index.exists() and "<html" in index.read_text(encoding="utf-8").lower()
    assert result.summary["data_docs"] == index.as_uri()
    assert list(docs.glob("validations/**/*.html"))


@pytest.mark.slow
def test_country_problems_hold_back_only_that_country() -> None:
    """No answers in one country, all quarantined in another: the rest still load."""
    df = merged_month(per_country=4)
    fixture_countries = sorted(set(df["country"]))  # the run's countries, not all configured
    silent, broken = fixture_countries[-1], fixture_countries[1]
    df = df[df["country"] != silent].reset_index(drop=True)  # members but sent nothing
    df.loc[df["country"] == broken, "satisfaction"] = 0  # every row out of range
    outcome = validate_feedback_month(
        df,
        PARTNERS,
        MONTH,
        countries=fixture_countries,
        limits=ValidationLimits(max_quarantine_share=0.5),
    )
    problems = outcome.summary["country_problems"]
    assert set(problems) == {silent, broken}
    ((status, message),) = problems[silent]
    members = PARTNERS.partner(silent).members_in(MONTH)
    assert status == "no_responses"
    assert f"{silent}: no responses for 2023-03 although {members} members are active" in message
    assert "active_members_by_month" in message  # what to do when nobody was expected
    ((status, message),) = problems[broken]
    assert status == "quarantined"
    assert f"{broken}: 4 of 4 responses quarantined (100% > max_quarantine_share 50%" in message
    assert outcome.quarantine_df["country"].eq(broken).all()
    others = sorted(set(df["country"]) - {broken})
    assert sorted(set(outcome.valid_df["country"])) == others
    assert len(outcome.valid_df) == 4 * len(others)


@pytest.mark.slow
def test_prior_quarantine_counts_and_response_rate_sanity() -> None:
    df = merged_month(per_country=4)
    small, earlier = sorted(set(df["country"]))[:2]
    outcome = validate_feedback_month(
        df,
        _with_members(small, 2),
        MONTH,
        countries=sorted(set(df["country"])),
        prior_quarantined={earlier: 5},
    )
    problems = outcome.summary["country_problems"]
    assert problems[small] == [
        (
            "roster",
            f"{small}: 4 members answered but partners.yaml lists 2 active members for 2023-03; "
            "update active_members(_by_month)",
        )
    ]
    assert problems[earlier][0][0] == "quarantined"
    assert f"{earlier}: 5 of 9 responses quarantined" in problems[earlier][0][1]
    assert set(outcome.valid_df["country"]) == set(df["country"]) - {small, earlier}


def _with_members(country: str, members: int) -> PartnersConfig:
    """The configured partners, with ``members`` active members for ``country``."""
    return PartnersConfig.model_validate(
        {
            "partners": [
                p.model_dump() | ({"active_members": members} if p.country == country else {})
                for p in PARTNERS.partners
            ]
        }
    )


@pytest.mark.slow
def test_late_answers_about_an_earlier_month_load_but_do_not_count_for_this_month() -> None:
    """A form that asks the month brings late answers about last month in this window."""
    df = merged_month(per_country=4)
    country = sorted(set(df["country"]))[0]
    late = df.index[df["country"] == country][:2]
    df.loc[late, "feedback_month"] = add_months(MONTH, -1)
    # Three members: four rows, two of them about last month.
    three = _with_members(country, 3)
    for frame in (df, df.assign(feedback_month=pd.to_datetime(df["feedback_month"]))):
        outcome = validate_feedback_month(frame, three, MONTH, countries=sorted(set(df["country"])))
        assert outcome.summary["country_problems"] == {}
        assert (outcome.valid_df["country"] == country).sum() == 4  # the late rows load
        counts = outcome.summary["countries"][country]
        assert (counts["answered_for_month"], counts["response_rate"]) == (2, round(2 / 3, 4))
    # The month's own two answers against one listed member are still a roster problem.
    one = _with_members(country, 1)
    outcome = validate_feedback_month(df, one, MONTH, countries=sorted(set(df["country"])))
    [(status, message)] = outcome.summary["country_problems"][country]
    assert status == "roster"
    assert message.startswith(f"{country}: 2 members answered but partners.yaml lists 1 ")


@pytest.mark.slow
def test_missing_column_and_warehouse_dtypes() -> None:
    df = merged_month(per_country=2)
    # As DuckDB returns it: DATE as datetime64, ints as float64.
    df["feedback_month"] = pd.to_datetime(df["feedback_month"])
    df["recommend"] = df["recommend"].astype("float64")
    assert len(validate_feedback_month(df, PARTNERS, MONTH).valid_df) == len(df)
    with pytest.raises(ValidationFailed, match="expect_column_to_exist on challenges_other"):
        validate_feedback_month(df.drop(columns=["challenges_other"]), PARTNERS, MONTH)
    with pytest.raises(ValidationFailed, match="column.*'response_id'.* missing"):
        validate_feedback_month(df.drop(columns=["response_id"]), PARTNERS, MONTH)


@pytest.mark.slow
def test_self_assessment_suite() -> None:
    case = self_assessment_case()
    responses: list[dict[str, Any]] = [
        response(
            f"s{i}", case.answers(), email=f"m{i}@example.org", submitted="2022-08-20T10:00:00Z"
        )
        for i in range(3)
    ]
    rows = harmonise_case(case, responses).rows
    rows.loc[0, "capability_scaling"] = 7
    rows.loc[1, "wave"] = "midline"
    result = validate_self_assessment(rows, PARTNERS, date(2022, 8, 1))
    assert sorted(result.quarantine_df["field"]) == ["capability_scaling", "wave"]
    assert len(result.valid_df) == 1
