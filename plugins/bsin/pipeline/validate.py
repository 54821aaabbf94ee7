"""Task ``validate_month``: Great Expectations over the month's harmonised rows; quarantine
and hold back only the countries whose data fails.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from bsin.pipeline.context import (
    Context,
    PipelineError,
    report_month,
)
from bsin.transform.schema import QUARANTINE_COLUMNS, QUARANTINE_TABLE_COLUMNS
from bsin.warehouse import lineage
from bsin.warehouse.sql_text import query_text

log = logging.getLogger(__name__)


def validate_month(
    data_interval_start: datetime | date,
    ctx: Context | None = None,
    *,
    earlier: bool = True,
    docs: Path | None = None,
    data_docs: bool = True,
) -> dict:
    """Run the GX suites over the merged month; load valid rows, quarantine the rest.

    A batch-level failure (a country with members but no answers, too much quarantined)
    records the quarantine, loads nothing of the month and fails the task. After the
    month loads, the earlier months its harmonise tasks harmonised again are validated
    again (``month_revalidation``; ``earlier=False`` leaves them), their Data Docs in a
    folder of their own under the month's (``docs``, default ``data/gx/data_docs``).
    ``data_docs=False`` validates, quarantines and loads alike without writing a site
    (a build costs about a second; for callers that never open it).
    """
    import pandas as pd

    from bsin.core.paths import data_dir
    from bsin.quality.gx_run import DataDocsSite
    from bsin.quality.validation import (
        ValidationFailed,
        validate_feedback_month,
        validate_self_assessment,
    )

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    wh = ctx.warehouse
    lineage.declare(
        wh,
        reads=["raw_form", "feedback_candidate", "self_assessment", "member_roster"],
        writes=[
            "feedback",
            "feedback_selection",
            "self_assessment",
            "quarantine",
            "month_revalidation",
        ],
    )
    landed = sorted(wh.query_df(query_text("countries_landed"), {"month": month})["country"])
    if not landed:
        raise PipelineError(f"no country was ingested for {month:%Y-%m}: every extract task failed")
    candidates = wh.query_df(
        query_text("feedback_candidates"),
        {"month": month},
    )
    prior = wh.query_df(
        query_text("quarantined_before_validation"),
        {"month": month},
    )
    # A country whose harmonise task failed has landed responses but neither candidates nor
    # harmonise quarantine. Its own task is red already; counting it here as "no answers"
    # would fail every other country's month too.
    unharmonised = set(
        wh.query_df(
            query_text("countries_not_harmonised"),
            {"month": month},
        )["country"]
    )
    for country in sorted(unharmonised):
        log.warning("%s: responses landed but not harmonised for %s; left out", country, month)
    expected = [c for c in landed if c not in unharmonised]
    docs = docs or data_dir() / "gx" / "data_docs"
    # Both suites in one site: built once below, its index lists the month's two validations.
    site = DataDocsSite(docs, month, expected)
    failure: ValidationFailed | None = None
    try:
        outcome = validate_feedback_month(
            candidates,
            ctx.partners,
            month,
            site,
            countries=expected,
            limits=ctx.programme.validation,
            prior_quarantined=dict(zip(prior["country"], prior["n"].astype(int), strict=True)),
            first_month=ctx.programme.first_month,
        )
    except ValidationFailed as exc:
        failure, outcome = exc, exc.outcome
    self_assessments = wh.query_df(query_text("self_assessments"), {"month": month})
    standing = set(
        wh.query_df(query_text("self_assessments_standing"), {"month": month})["country"]
    )
    try:
        sa_outcome = validate_self_assessment(self_assessments, ctx.partners, month, site)
    except ValidationFailed as exc:
        failure, sa_outcome = failure or exc, exc.outcome
    if data_docs:
        site.build()
    quarantine = pd.concat(
        [q for q in (outcome.quarantine_df, sa_outcome.quarantine_df) if len(q)]
        or [pd.DataFrame(columns=QUARANTINE_COLUMNS)],
        ignore_index=True,
    ).assign(report_month=month, stage="validate")
    problems = outcome.summary.get("country_problems", {})
    with wh.transaction():
        for country in landed:
            scope = {"country": country, "report_month": month, "stage": "validate"}
            if country in standing:
                # Its self-assessments were not validated again: their rows stand.
                scope["form_kind"] = "monthly"
            wh.replace(
                "quarantine",
                scope,
                quarantine.loc[quarantine["country"] == country, QUARANTINE_TABLE_COLUMNS],
            )
        _record_country_problems(wh, landed, month, problems)
        if failure is None:
            _stage_validated_feedback(wh, month, outcome)
            # Derived in the warehouse from the staged rows: 185,000 selections a month at
            # network scale no longer go from pandas to the warehouse.
            wh.replace_staging_from_query(
                "feedback_selection_incoming", query_text("feedback_selections_incoming")
            )
            wh.run_sql_file("load/feedback_upsert.sql", {"month": month})
            wh.check_unique_keys("feedback", "feedback_incoming")
            wh.check_unique_keys("feedback_selection", "feedback_selection_incoming")
            bad_sa = sa_outcome.quarantine_df
            if len(bad_sa):
                wh.replace_staging("self_assessment_rejected", bad_sa[["country", "response_id"]])
                wh.run_sql_file("load/self_assessment_reject.sql")
    summary = {
        "month": month.isoformat(),
        "countries": landed,
        "candidates": len(candidates),
        "loaded": 0 if failure else len(outcome.valid_df),
        "quarantined": int(outcome.quarantine_df["response_id"].nunique())
        if len(outcome.quarantine_df)
        else 0,
        "self_assessment_quarantined": len(sa_outcome.quarantine_df),
        "held_back": {c: [status for status, _ in p] for c, p in problems.items()},
        "data_docs": str(docs / "index.html") if data_docs else None,
    }
    log.info("validated %s: %s", f"{month:%Y-%m}", summary)
    if failure is not None:
        raise PipelineError(
            f"validation of {month:%Y-%m} failed, nothing of the month was loaded: "
            + "; ".join(map(str, failure.failures))
            + ". Quarantine rows are in the warehouse"
            + (f"; Data Docs: {docs / 'index.html'}" if data_docs else "")
        )
    if earlier:
        summary["revalidated"], summary["revalidation_failed"] = _validate_earlier(
            wh, month, ctx, docs, data_docs
        )
    return summary


def _validate_earlier(
    wh, month: date, ctx: Context, docs: Path, data_docs: bool
) -> tuple[list[str], dict[str, str]]:
    """Validate again the earlier months harmonised again in this run; clear their requests.

    After this month's load: its upsert removes the feedback rows of the responses that
    moved here, so that an earlier month's other answers compete only with what stays
    there. An earlier month that fails keeps its request, is logged, and does not fail
    this month: its own re-run shows the failure in full. Its Data Docs go to
    ``docs/revalidated/YYYY-MM``: the month's own site stays the one data staff open.
    """
    done, failed = [], {}
    for (earlier,) in wh.query(query_text("months_to_validate_again"), {"month": month}):
        try:
            validate_month(
                earlier,
                ctx,
                earlier=False,
                docs=docs / "revalidated" / f"{earlier:%Y-%m}",
                data_docs=data_docs,
            )
        except PipelineError as exc:
            log.warning("validating %s again failed; it stays requested: %s", earlier, exc)
            failed[earlier.isoformat()] = str(exc)
            continue
        wh.run_sql_file("load/month_validated_again.sql", {"earlier": earlier})
        done.append(earlier.isoformat())
    return done, failed


def _stage_validated_feedback(wh, month: date, outcome) -> None:
    """Stage ``outcome.valid_df`` as ``feedback_incoming``, from the candidates in the warehouse.

    Only what validation decided travels: the quarantined response ids and the countries
    that load. A count that differs from ``valid_df`` (the candidates changed since they
    were read) fails the task before anything is loaded.
    """
    import pandas as pd

    valid, rejected = outcome.valid_df, outcome.quarantine_df
    # quarantine_frame always has its columns, rows or not.
    wh.replace_staging(
        "validation_rejected", rejected[["country", "response_id"]].drop_duplicates()
    )
    wh.replace_staging(
        "validated_country", pd.DataFrame({"country": sorted(set(valid["country"]))})
    )
    staged = wh.replace_staging_from_query(
        "feedback_incoming", query_text("feedback_validated"), {"month": month}
    )
    if staged != len(valid):
        raise PipelineError(
            f"validation of {month:%Y-%m} passed {len(valid)} feedback rows but {staged} "
            "candidates match them: the candidates changed while validation ran (a harmonise "
            "task re-ran?); nothing was loaded, run validate again"
        )


def _record_country_problems(
    wh, landed: list[str], month: date, problems: dict[str, list[tuple[str, str]]]
) -> None:
    """Record (and log) the countries validation held back; clear the others' records."""
    from bsin.quality.country_status import record_status

    for country in sorted(set(landed) | set(problems)):
        found = problems.get(country, [])
        for _, detail in found:
            log.warning("%s held back for %s, other countries load: %s", country, month, detail)
        record_status(wh, country, month, "validate", found)
