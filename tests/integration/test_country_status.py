"""What a partner is told when its month has no regular report (bsin.quality.country_status)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from bsin.core.config import load_partners
from bsin.quality.country_status import (
    NOTICE_KEYS,
    build_notice,
    country_condition,
    network_coverage,
    record_status,
)
from bsin.reporting.report_i18n import Translator
from bsin.warehouse.db import Warehouse

MONTH = date(2023, 7, 1)
PARTNERS = load_partners()
PARTNER = PARTNERS.partners[0]
SENDER = "Baltic Sea Impact Network <reports@bsin.example.org>"


@pytest.fixture
def wh(tmp_path):
    warehouse = Warehouse.from_uri(f"duckdb:///{tmp_path / 'status.duckdb'}")
    warehouse.migrate()
    yield warehouse
    warehouse.close()


def _land(wh, country: str) -> None:
    wh.replace(
        "raw_form",
        {"country": country, "report_month": MONTH},
        pd.DataFrame(
            [
                {
                    "country": country,
                    "form_kind": "monthly",
                    "report_month": MONTH,
                    "form_id": "f",
                    "revision_id": "r",
                    "payload": "{}",
                }
            ]
        ),
    )


def test_failed_extract_and_structural_drift(wh):
    condition = country_condition(wh, PARTNER, MONTH)
    assert condition.status == "extract_failed" and condition.needs_action
    assert "extract task failed" in condition.detail and "resend=true" in condition.detail
    record_status(wh, PARTNER.country, MONTH, "extract", [("structural_drift", "form changed")])
    assert country_condition(wh, PARTNER, MONTH).status == "structural_drift"


def test_validation_problem_wins_once_the_form_landed(wh):
    _land(wh, PARTNER.country)
    record_status(wh, PARTNER.country, MONTH, "validate", [("no_responses", "nobody answered")])
    condition = country_condition(wh, PARTNER, MONTH)
    assert (condition.status, condition.detail) == ("no_responses", "nobody answered")
    # A later successful validation clears it; with no indicators the month is "no data".
    record_status(wh, PARTNER.country, MONTH, "validate", [])
    assert country_condition(wh, PARTNER, MONTH).status == "no_data"


def test_a_month_declared_without_members_needs_no_action(wh):
    """active_members_by_month: {month: 0}: a notice, but no failed task (issue 9, finding 4)."""
    _land(wh, PARTNER.country)
    quiet = PARTNER.model_copy(update={"active_members_by_month": {f"{MONTH:%Y-%m}": 0}})
    condition = country_condition(wh, quiet, MONTH)
    assert condition.status == "no_data" and not condition.needs_action
    assert country_condition(wh, PARTNER, MONTH).needs_action


@pytest.mark.parametrize("status", sorted(NOTICE_KEYS))
def test_notice_is_in_the_partner_language_and_names_the_month(wh, status):
    from bsin.quality.country_status import CountryCondition

    condition = CountryCondition(PARTNER.country, MONTH, status, "detail for staff")
    msg = build_notice(condition, PARTNER, "BSIN", SENDER, (3, 4))
    t = Translator(PARTNER.report_language)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert t.month(MONTH) in text and t.month(MONTH) in msg["Subject"]
    assert t("status_network_note", present=3, total=4) in text
    assert "detail for staff" not in text  # staff details stay in the alert
    assert msg["X-BSIN-Status"] == status and msg["To"] == ", ".join(PARTNER.recipients)


def test_network_coverage_counts_countries_with_data(wh):
    assert network_coverage(wh, PARTNERS, MONTH) == (0, len(PARTNERS.partners))


def test_network_coverage_is_the_disclosure_scope_not_countries_with_data(wh):
    """A country with 1 answer is in no network figure, so not in "N of M" either: counting
    it would tell its "0 versus a few" apart (bsin.reporting.disclosure)."""
    from bsin.reporting.disclosure import COUNT_COLUMNS

    answers = dict(zip(PARTNERS.countries, [5, 4, 1, 0], strict=False))
    rows = [
        {"scope_country": c, "month": MONTH} | {col: n for col in COUNT_COLUMNS}
        for c, n in answers.items()
        if n
    ]
    wh.execute(
        "create table int_monthly_counts (scope_country text, month date, "
        + ", ".join(f"{col} integer" for col in COUNT_COLUMNS)
        + ")"
    )
    wh.insert("int_monthly_counts", pd.DataFrame(rows))
    assert network_coverage(wh, PARTNERS, MONTH, 3) == (2, len(PARTNERS.partners))
    assert network_coverage(wh, PARTNERS, MONTH, 1) == (3, len(PARTNERS.partners))
