"""Tasks ``harmonise_country`` and ``alert_drift``: landed responses into the canonical
schema through the country's mapping; structural drift reaches data staff.
"""

from __future__ import annotations

import gc
import json
import logging
from datetime import date, datetime
from typing import Any

from bsin.pipeline.context import (
    QUARANTINE_COLUMNS,
    SMTP_CONN_ID,
    Context,
    PipelineError,
    report_month,
)
from bsin.warehouse import lineage

log = logging.getLogger(__name__)


def harmonise_country(
    country: str, data_interval_start: datetime | date, ctx: Context | None = None
) -> dict:
    """Map the country's landed responses to canonical candidate rows and quarantine."""
    import pandas as pd

    from bsin.transform.harmonise import harmonise_feedback, harmonise_self_assessment
    from bsin.transform.mapping import load_mapping

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    partner = ctx.partners.partner(country)
    wh = ctx.warehouse
    lineage.declare(
        wh,
        reads=["raw_form", "raw_response"],
        writes=["feedback_candidate", "self_assessment", "self_assessment_need", "quarantine"],
    )
    summary: dict[str, Any] = {"country": country, "month": month.isoformat()}
    results = {}
    for kind, fn in (
        ("monthly", harmonise_feedback),
        ("self_assessment", harmonise_self_assessment),
    ):
        if not partner.has_form(kind):
            continue
        form = _landed_form(wh, country, kind, month)
        responses = _landed_responses(wh, country, kind, month)
        res = fn(
            responses,
            form,
            load_mapping(country, kind),
            country=country,
            key=ctx.key,
            tz=partner.timezone,
            grace_days=ctx.programme.grace_days,
            report_month=month,
        )
        results[kind] = res
        quarantined = int(res.quarantine["response_id"].nunique()) if len(res.quarantine) else 0
        summary[kind] = {
            "responses": len(res.response_ids),
            "rows": len(res.rows),
            "quarantined": quarantined,
            "notes": len(res.notes),
        }
        log.info(
            "%s %s: %d responses read, %d canonical rows, %d quarantined, %d notes",
            country,
            kind,
            len(res.response_ids),
            len(res.rows),
            quarantined,
            len(res.notes),
        )
        for note in res.notes.head(20).itertuples():
            log.info("%s %s note on %s: %s", country, kind, note.response_id, note.reason)
        for q in res.quarantine.head(50).itertuples():
            log.warning(
                "%s %s quarantined %s (%s %s): %s",
                country,
                kind,
                q.response_id,
                q.rule,
                q.field,
                q.reason,
            )
    fb, sa = results["monthly"], results.get("self_assessment")
    quarantine = pd.concat(
        [fb.quarantine] + ([sa.quarantine.assign(report_month=month)] if sa else []),
        ignore_index=True,
    ).assign(stage="harmonise")
    with wh.transaction():
        wh.replace(
            "feedback_candidate",
            {"country": country, "report_month": month},
            fb.rows.assign(report_month=month),
        )
        # Without a self-assessment form the country's earlier rows (if it had one) stay:
        # history is never deleted by a configuration change.
        if sa is not None:
            wh.replace("self_assessment", {"country": country}, sa.rows)
            wh.replace("self_assessment_need", {"country": country}, sa.selections)
        wh.replace(
            "quarantine",
            {"country": country, "report_month": month, "stage": "harmonise"},
            quarantine[QUARANTINE_COLUMNS]
            if len(quarantine)
            else pd.DataFrame(columns=QUARANTINE_COLUMNS),
        )
    return summary


def _landed_form(wh, country: str, kind: str, month: date) -> dict:
    df = wh.query_df(
        "select payload from raw_form where country = :country and form_kind = :kind"
        " and report_month = :month",
        {"country": country, "kind": kind, "month": month},
    )
    if df.empty:
        raise PipelineError(
            f"{country} {kind}: no form landed for {month:%Y-%m}; run the country's extract task first"
        )
    return json.loads(df.iloc[0, 0])


def _landed_responses(wh, country: str, kind: str, month: date) -> list[dict]:
    # Monthly responses of this run's window; self-assessments of all time (they are few).
    df = wh.query_df(
        "select payload from raw_response where country = :country and form_kind = :kind"
        " and (report_month = :month or form_kind = 'self_assessment') order by response_id",
        {"country": country, "kind": kind, "month": month},
    )
    # Thousands of parses build hundreds of thousands of containers: with Airflow, pandas
    # and GX loaded, the cyclic GC would rescan that heap over and over (most of the
    # harmonise task's time at network scale, docs/performance.md). JSON has no cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [json.loads(p) for p in df["payload"]]
    finally:
        if gc_was_enabled:
            gc.enable()


def alert_drift(
    data_interval_start: datetime | date, ctx: Context | None = None, run_id: str = ""
) -> dict:
    """Send data staff one message with the month's form drift findings (bsin.delivery.drift_alert)."""
    from bsin.delivery.drift_alert import send_drift_alert

    ctx = ctx or Context.load()
    return send_drift_alert(
        ctx.warehouse,
        report_month(data_interval_start),
        recipients=ctx.programme.alert_recipients,
        sender=ctx.programme.sender,
        smtp_conn_id=SMTP_CONN_ID,
        run_id=run_id,
    )
