"""Great Expectations (GX Core 1.x) suites for the canonical data, run on one merged month.

The suites are defined in code (:func:`feedback_expectations`, :func:`self_assessment_expectations`)
and run on a pandas DataFrame that holds every country of the month, with ``country`` as a
column: importing GX costs 10-17 s per process, so the month is validated once rather than
once per country (measured in docs/data-quality.md).

Row-level failures come back from GX with ``result_format`` COMPLETE and
``unexpected_index_column_names`` = (country, response_id) and become quarantine rows
(rule = expectation type, field = column). Failures that are not about rows (a column
missing or of the wrong type, no responses from a country with members, too large a share
quarantined, an implausible response rate) raise ValidationFailed.

``great_expectations`` is imported inside functions only, never at module import, so that
DAG parsing and the other tasks do not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from bsin.core.config import PartnersConfig, ValidationLimits
from bsin.quality.expectations import (
    INDEX_COLUMNS,
    feedback_expectations,
    self_assessment_expectations,
)
from bsin.quality.gx_run import DataDocsSite, conform, docs_site, quarantine_frame, run_suite
from bsin.transform.schema import (
    FEEDBACK_COLUMNS,
    FEEDBACK_DTYPES,
    QUARANTINE_COLUMNS,
    QUARANTINE_DTYPES,
    SELF_ASSESSMENT_COLUMNS,
    SELF_ASSESSMENT_DTYPES,
)

FEEDBACK_SUITE = "bsin_feedback"
SELF_ASSESSMENT_SUITE = "bsin_self_assessment"


class ValidationFailed(RuntimeError):
    """A batch-level check failed; ``failures`` lists each, ``outcome`` holds the row results."""

    def __init__(self, failures: list[str], outcome: ValidationOutcome) -> None:
        super().__init__(
            f"validation of {outcome.summary.get('suite')} for {outcome.summary.get('month')} failed:\n"
            + "\n".join(f"  - {f}" for f in failures)
        )
        self.failures = failures
        self.outcome = outcome


@dataclass
class ValidationOutcome:
    """Rows that passed, quarantine rows (QUARANTINE_COLUMNS) for those that did not, a summary."""

    valid_df: pd.DataFrame
    quarantine_df: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


#: Reasons a country's month is held back (``country_month_status.status``), each one
#: country's own problem that never holds back another country.
COUNTRY_PROBLEMS = ("no_responses", "quarantined", "low_response_rate", "roster", "not_configured")


def _batch_checks(
    df: pd.DataFrame,
    quarantine: pd.DataFrame,
    partners: PartnersConfig,
    month: date,
    countries: Iterable[str],
    limits: ValidationLimits,
    prior_quarantined: dict[str, int],
    answered: dict[str, int],
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, dict[str, Any]]]:
    """Per-country batch checks: ``{country: [(status, message), ...]}`` and the counts.

    ``answered``: per country, the valid rows about ``month`` itself. A form that asks
    which month the feedback is about brings late answers about an earlier month in this
    month's window (and an edit can move a response here): they are loaded, but they are
    not this month's answers, so the response rate and the roster check leave them out.
    """
    problems: dict[str, list[tuple[str, str]]] = {}
    per_country: dict[str, dict[str, Any]] = {}
    bad_ids = (
        quarantine.groupby("country")["response_id"].nunique().to_dict() if len(quarantine) else {}
    )
    # One count over the month's rows: comparing the whole country column once per country
    # grew with countries x rows (0.7 s a month at 40 countries, docs/performance.md).
    rows_by_country = df["country"].value_counts().to_dict() if len(df) else {}
    for country in sorted(countries):
        try:
            members = partners.partner(country).members_in(month)
        except KeyError:
            problems.setdefault(country, []).append(
                ("not_configured", f"{country}: rows for a country that is not in partners.yaml")
            )
            continue
        candidates = int(rows_by_country.get(country, 0))
        quarantined = int(bad_ids.get(country, 0))
        earlier = int(prior_quarantined.get(country, 0))
        responses = candidates + earlier
        loaded = candidates - quarantined
        share = (quarantined + earlier) / responses if responses else 0.0
        answered_month = int(answered.get(country, 0))
        rate = answered_month / members if members else None
        per_country[country] = {
            "members": members,
            "candidates": candidates,
            "quarantined": quarantined + earlier,
            "loaded": loaded,
            "answered_for_month": answered_month,
            "quarantined_share": round(share, 4),
            "response_rate": None if rate is None else round(rate, 4),
        }
        failures: list[tuple[str, str]] = problems.setdefault(country, [])
        if members and responses == 0:
            failures.append(
                (
                    "no_responses",
                    f"{country}: no responses for {month:%Y-%m} although {members} members are active; "
                    "check that the form still accepts responses and ask the partner to remind its members; "
                    "if nobody was expected to answer, set active_members_by_month to 0 in partners.yaml",
                )
            )
            continue
        if share > limits.max_quarantine_share:
            failures.append(
                (
                    "quarantined",
                    f"{country}: {quarantined + earlier} of {responses} responses quarantined "
                    f"({share:.0%} > max_quarantine_share {limits.max_quarantine_share:.0%} in "
                    "programme.yaml); read the quarantine table for the reasons",
                )
            )
        if rate is not None and rate < limits.min_response_rate:
            failures.append(
                (
                    "low_response_rate",
                    f"{country}: response rate {rate:.0%} is below min_response_rate "
                    f"{limits.min_response_rate:.0%} in programme.yaml",
                )
            )
        if rate is not None and rate > 1:
            failures.append(
                (
                    "roster",
                    f"{country}: {answered_month} members answered but partners.yaml lists {members} active "
                    f"members for {month:%Y-%m}; update active_members(_by_month)",
                )
            )
    return {c: p for c, p in problems.items() if p}, per_country


def _require_index(df: pd.DataFrame, suite: str, month: date) -> None:
    missing = [c for c in INDEX_COLUMNS if c not in df.columns]
    if missing:
        empty = pd.DataFrame(columns=QUARANTINE_COLUMNS).astype(QUARANTINE_DTYPES)
        outcome = ValidationOutcome(
            df.iloc[0:0], empty, {"suite": suite, "month": month.isoformat()}
        )
        raise ValidationFailed(
            [f"column(s) {missing} missing: rows cannot be identified; check the harmonise step"],
            outcome,
        )


def validate_feedback_month(
    df: pd.DataFrame,
    partners: PartnersConfig,
    month: date,
    data_docs_dir: Path | str | bool | DataDocsSite | None = None,
    *,
    countries: Iterable[str] | None = None,
    limits: ValidationLimits | None = None,
    prior_quarantined: dict[str, int] | None = None,
    first_month: date | None = None,
) -> ValidationOutcome:
    """Validate the month's merged feedback candidates (all countries, ``country`` a column).

    ``first_month``: the programme's first month; feedback about an earlier month is
    quarantined.

    ``countries``: the countries expected this month (default: every partner). A country
    with active members but no rows, too large a quarantined share or an impossible
    response rate is held back alone: its rows leave ``valid_df`` and
    ``summary["country_problems"]`` maps it to ``[(status, message), ...]`` (status one of
    COUNTRY_PROBLEMS). ``prior_quarantined`` counts responses each country already lost in
    harmonisation, so the quarantined share covers both steps.
    ``data_docs_dir``: a folder (or True for data/gx/data_docs) to build Data Docs into, or
    a :class:`DataDocsSite` the caller builds after its other suites of the month.
    Raises ValidationFailed (with the outcome attached) only when a check over the whole
    batch fails (a missing column): then no row can be trusted.
    """
    expected = sorted(countries) if countries is not None else partners.countries
    limits = limits or ValidationLimits()
    _require_index(df, FEEDBACK_SUITE, month)
    frame = conform(df, FEEDBACK_COLUMNS, FEEDBACK_DTYPES)
    site, build = docs_site(data_docs_dir, month, expected)
    rows, batch_failures, info = run_suite(
        frame, FEEDBACK_SUITE, feedback_expectations(partners.countries, month, first_month), site
    )
    if site is not None and build:
        info["data_docs"] = site.build()
    quarantine = quarantine_frame(rows, "monthly", month)
    bad = set(zip(quarantine["country"], quarantine["response_id"], strict=True))
    keep = [(c, r) not in bad for c, r in zip(frame["country"], frame["response_id"], strict=True)]
    valid = frame.loc[keep, [c for c in FEEDBACK_COLUMNS if c in frame.columns]].reset_index(
        drop=True
    )
    about_month = pd.to_datetime(valid["feedback_month"]) == pd.Timestamp(month)
    problems, per_country = _batch_checks(
        frame,
        quarantine,
        partners,
        month,
        expected,
        limits,
        prior_quarantined or {},
        valid.loc[about_month, "country"].value_counts().to_dict(),
    )
    # A country with a batch problem is held back alone: its rows are not loaded, every
    # other country's are (issue 9: countries are independent).
    if problems:
        valid = valid.loc[~valid["country"].isin(list(problems))].reset_index(drop=True)
    summary = {
        **info,
        "month": month.isoformat(),
        "rows": len(frame),
        "valid": len(valid),
        "quarantined": len(bad),
        "countries": per_country,
        "batch_failures": batch_failures,
        "country_problems": problems,
    }
    outcome = ValidationOutcome(valid, quarantine, summary)
    if batch_failures:
        raise ValidationFailed(batch_failures, outcome)
    return outcome


def validate_self_assessment(
    df: pd.DataFrame,
    partners: PartnersConfig,
    month: date,
    data_docs_dir: Path | str | bool | DataDocsSite | None = None,
) -> ValidationOutcome:
    """Validate self-assessment rows (all countries); quarantine rows carry ``month``.

    Only column-level problems fail the batch: self-assessments are few and arrive at
    joining and at the end, so no response-rate check applies.
    """
    _require_index(df, SELF_ASSESSMENT_SUITE, month)
    frame = conform(df, SELF_ASSESSMENT_COLUMNS, SELF_ASSESSMENT_DTYPES)
    site, build = docs_site(data_docs_dir, month, partners.countries)
    rows, batch_failures, info = run_suite(
        frame, SELF_ASSESSMENT_SUITE, self_assessment_expectations(partners.countries), site
    )
    if site is not None and build:
        info["data_docs"] = site.build()
    quarantine = quarantine_frame(rows, "self_assessment", month)
    bad = set(zip(quarantine["country"], quarantine["response_id"], strict=True))
    keep = [(c, r) not in bad for c, r in zip(frame["country"], frame["response_id"], strict=True)]
    valid = frame.loc[keep, [c for c in SELF_ASSESSMENT_COLUMNS if c in frame.columns]].reset_index(
        drop=True
    )
    summary = {
        **info,
        "month": month.isoformat(),
        "rows": len(frame),
        "valid": len(valid),
        "quarantined": len(bad),
        "batch_failures": batch_failures,
    }
    outcome = ValidationOutcome(valid, quarantine, summary)
    if batch_failures:
        raise ValidationFailed(batch_failures, outcome)
    return outcome
