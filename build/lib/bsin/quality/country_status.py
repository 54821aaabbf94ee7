"""What happened to one country's month, when it was not a normal month (issue 9).

A country whose extract failed, whose form changed structurally, that received no
answers or whose answers were (almost) all quarantined is held back alone: every other
country's data loads and every other partner gets its report. For the country itself:

* ``country_month_status`` records the condition (stage, status, detail for data staff);
* its partner gets a short notice in the report language instead of the monthly report
  ("no responses were received for March"), through the same exactly-once delivery;
* a validation condition fails the country's ``send_report`` task without retrying, so
  it is red on that country's task in the Airflow UI and the failure alert tells data
  staff the country, the month and what to do; after a failed extract (already red and
  alerted on the country's extract task) ``send_report`` ends as skipped instead.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

import pandas as pd

from bsin.core.config import Partner, PartnersConfig

log = logging.getLogger(__name__)

STATUS_TABLE = "country_month_status"
STATUS_COLUMNS = ["country", "report_month", "stage", "status", "detail"]

#: status -> translation key of the partner's notice
NOTICE_KEYS: dict[str, str] = {
    "no_responses": "status_no_responses",
    "no_data": "status_no_responses",
    "quarantined": "status_quarantined",
    "extract_failed": "status_collection_failed",
    "structural_drift": "status_collection_failed",
}
DEFAULT_NOTICE_KEY = "status_held_back"
#: Conditions whose own task (the country's extract) is already red and has alerted.
EXTRACT_STATUSES = frozenset({"extract_failed", "structural_drift"})


@dataclass(frozen=True)
class CountryCondition:
    """Why a country's month has no regular report, for the partner and for data staff."""

    country: str
    month: date
    status: str
    detail: str
    #: True when data staff must act (the task fails and alerts); False when the month was
    #: expected to be empty (no active members configured).
    needs_action: bool = True


def record_status(
    wh: Any, country: str, month: date, stage: str, problems: list[tuple[str, str]]
) -> None:
    """Replace the (country, month, stage) conditions with ``problems`` [(status, detail)]."""
    rows = pd.DataFrame(
        [
            {"country": country, "report_month": month, "stage": stage, "status": s, "detail": d}
            for s, d in problems
        ],
        columns=STATUS_COLUMNS,
    )
    wh.replace(STATUS_TABLE, {"country": country, "report_month": month, "stage": stage}, rows)


def country_condition(wh: Any, partner: Partner, month: date) -> CountryCondition | None:
    """The condition that keeps ``partner``'s month from a regular report, or None."""
    country = partner.country
    statuses = wh.query_df(
        f"select stage, status, detail from {STATUS_TABLE}"  # noqa: S608 (constant)
        " where country = :c and report_month = :m order by stage, status",
        {"c": country, "m": month},
    )
    landed = int(
        wh.query_df(
            "select count(*) as n from raw_form where country = :c and report_month = :m"
            " and form_kind = 'monthly'",
            {"c": country, "m": month},
        ).iloc[0, 0]
    )
    if not landed:
        drift = statuses[statuses["status"] == "structural_drift"]
        if len(drift):
            return CountryCondition(country, month, "structural_drift", str(drift.iloc[0, 2]))
        return CountryCondition(
            country,
            month,
            "extract_failed",
            f"{country}: no form or responses landed for {month:%Y-%m}: the country's extract "
            "task failed. Read its log, fix the cause (Forms connection, form sharing, form "
            "id in partners.yaml), clear the country's extract task, then re-run send_report "
            "with resend=true so the partner gets the real report",
        )
    problems = statuses[statuses["stage"] == "validate"]
    if len(problems):
        first = problems.iloc[0]
        detail = "; ".join(str(d) for d in problems["detail"])
        return CountryCondition(country, month, str(first["status"]), detail)
    # dbt creates the marts on their first build: before it, no country has indicators.
    has_data = wh.table_exists("indicators_monthly") and int(
        wh.query_df(
            "select count(*) as n from indicators_monthly where scope_country = :c and month = :m",
            {"c": country, "m": month},
        ).iloc[0, 0]
    )
    if not has_data:
        # Nobody answered and nobody was expected to (no active members this month).
        return CountryCondition(
            country,
            month,
            "no_data",
            f"{country}: no feedback loaded for {month:%Y-%m} and partners.yaml lists "
            f"{partner.members_in(month)} active members for the month",
            needs_action=partner.members_in(month) > 0,
        )
    return None


def network_coverage(
    wh: Any, partners: PartnersConfig, month: date, min_respondents: int = 3
) -> tuple[int, int]:
    """(countries the month's network figures cover, countries configured with members).

    The first is the disclosure scope of the network figure (bsin.reporting.disclosure: countries
    with at least k answers), as in every partner's report: counting countries with any
    data would tell a small country's "0 versus a few" apart.
    """
    from bsin.reporting.disclosure import COUNT_COLUMNS, HIDDEN, network_figures

    configured = [p for p in partners.partners if p.members_in(month) > 0]
    if not wh.table_exists("int_monthly_counts"):
        return 0, len(configured)
    rows = wh.query_df(
        # Column names come from the COUNT_COLUMNS constant, never from input.
        "select scope_country, month, "  # noqa: S608
        + ", ".join(COUNT_COLUMNS)
        + " from int_monthly_counts where month = :m",
        {"m": month},
    ).to_dict("records")
    cell = network_figures(rows, min_respondents).get((month, "response_rate"), HIDDEN)
    have = len(cell.scopes)
    return have, max(have, len(configured))


def build_notice(
    condition: CountryCondition,
    partner: Partner,
    programme_name: str,
    sender: str,
    coverage: tuple[int, int],
) -> EmailMessage:
    """The partner's short notice, in its report language, as a text + HTML email."""
    from bsin.reporting.report import message_id_for
    from bsin.reporting.report_i18n import Translator

    t = Translator(partner.report_language)
    month_name = t.month(condition.month)
    what = t(
        NOTICE_KEYS.get(condition.status, DEFAULT_NOTICE_KEY),
        month=month_name,
        members=partner.members_in(condition.month),
    )
    present, total = coverage
    paragraphs = [
        t("greeting", organisation=partner.organisation),
        what,
        t("status_network_note", present=present, total=total),
        t("footer", programme=programme_name),
    ]
    msg = EmailMessage()
    msg["Subject"] = t(
        "status_subject", programme=programme_name, country=partner.name, month=month_name
    )
    msg["From"] = sender
    msg["To"] = ", ".join(formataddr(("", r)) for r in partner.recipients)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id_for(partner.country, condition.month, sender)
    msg["Content-Language"] = partner.report_language
    msg["X-BSIN-Country"] = partner.country
    msg["X-BSIN-Report-Month"] = f"{condition.month:%Y-%m}"
    msg["X-BSIN-Status"] = condition.status
    msg.set_content("\n\n".join(paragraphs) + "\n", charset="utf-8")
    msg.add_alternative(
        "<html><body>" + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) + "</body></html>",
        subtype="html",
        charset="utf-8",
    )
    return msg
