"""Tasks ``harmonise_country`` and ``alert_drift``: landed responses into the canonical
schema through the country's mapping; structural drift reaches data staff.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bsin.core.runtime import gc_paused
from bsin.pipeline.context import (
    SMTP_CONN_ID,
    Context,
    PipelineError,
    report_month,
)
from bsin.transform.schema import QUARANTINE_TABLE_COLUMNS
from bsin.warehouse import lineage
from bsin.warehouse.sql_text import query_text

log = logging.getLogger(__name__)


def harmonise_country(
    country: str, data_interval_start: datetime | date, ctx: Context | None = None
) -> dict:
    """Map the country's landed responses to canonical candidate rows and quarantine.

    An earlier month that this run changed (an edit moved one of its responses here) is
    harmonised again too, as its own re-run would be; the validate task then validates it
    again (``month_revalidation``).
    """
    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    wh = ctx.warehouse
    lineage.declare(
        wh,
        reads=["raw_form", "raw_response", "raw_response_history", "month_revalidation"],
        writes=[
            "feedback_candidate",
            "self_assessment",
            "self_assessment_need",
            "quarantine",
            "harmonise_state",
            "month_revalidation",
        ],
    )
    summary = _harmonise(country, month, ctx)
    params = {"country": country, "month": month}
    again = [r[0] for r in wh.query(query_text("months_to_harmonise_again"), params)]
    for earlier in again:
        log.info("%s: an edit moved a response out of %s; harmonising it again", country, earlier)
        _harmonise(country, earlier, ctx)
        wh.run_sql_file("load/month_harmonised_again.sql", {**params, "earlier": earlier})
    summary["harmonised_again"] = [m.isoformat() for m in again]
    return summary


def _harmonise(country: str, month: date, ctx: Context) -> dict:
    """Harmonise ``country``'s landed responses of report ``month``; write what it gives."""
    import pandas as pd

    from bsin.transform.harmonise import harmonise_feedback, harmonise_self_assessment
    from bsin.transform.mapping import load_mapping

    partner = ctx.partners.partner(country)
    wh = ctx.warehouse
    summary: dict[str, Any] = {"country": country, "month": month.isoformat()}
    results = {}
    fingerprint = None
    for kind, fn in (
        ("monthly", harmonise_feedback),
        ("self_assessment", harmonise_self_assessment),
    ):
        if not partner.has_form(kind):
            continue
        form = _landed_form(wh, country, kind, month)
        mapping = load_mapping(country, kind)
        if kind == "self_assessment":
            # Self-assessments are read for all time, not per month: while nothing that
            # decides their harmonisation changed since it last ran, it is not redone and
            # what it wrote stands (docs/performance.md).
            fingerprint = _self_assessment_fingerprint(wh, country, form, mapping, ctx, partner)
            since = _harmonised_since(wh, country, kind, fingerprint)
            # A re-run of the month that harmonised them does it again: that month's
            # validation runs again too, and it must see the rows it rejected the first
            # time, or their quarantine rows would be replaced by nothing.
            if since is not None and since != month:
                summary[kind] = {"responses": 0, "rows": 0, "quarantined": 0, "notes": 0}
                summary[kind]["unchanged_since"] = since.isoformat()
                log.info("%s %s: unchanged since %s, not harmonised again", country, kind, since)
                continue
        # Parsing and harmonising build hundreds of thousands of acyclic containers: with
        # the collector on, most of the task's time went to rescanning the heap.
        with gc_paused():
            responses = _landed_responses(wh, country, kind, month)
            res = fn(
                responses,
                form,
                mapping,
                country=country,
                key=ctx.key,
                tz=partner.timezone,
                grace_days=ctx.programme.grace_days,
                report_month=month,
            )
            del responses
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
    # The month's harmonise quarantine is replaced for the kinds harmonised now; an
    # unchanged self-assessment form keeps the rows its last harmonisation recorded.
    scope = {"country": country, "report_month": month, "stage": "harmonise"}
    if sa is None and "self_assessment" in summary:
        scope["form_kind"] = "monthly"
    with wh.transaction():
        # A response an edit moved into this month leaves the earlier month's rows.
        params = {"country": country, "month": month}
        if wh.replace_staging_from_query("response_moved", query_text("moved_responses"), params):
            wh.run_sql_file("load/feedback_candidate_moved.sql", params)
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
            state = {"country": country, "form_kind": "self_assessment"}
            wh.replace(
                "harmonise_state",
                state,
                pd.DataFrame([{**state, "fingerprint": fingerprint, "report_month": month}]),
            )
        wh.replace(
            "quarantine",
            scope,
            quarantine[QUARANTINE_TABLE_COLUMNS]
            if len(quarantine)
            else pd.DataFrame(columns=QUARANTINE_TABLE_COLUMNS),
        )
    return summary


_CODE_DIGEST: bytes | None = None
# The modules that decide a harmonised row: changed code harmonises again.
_HARMONISE_MODULES = (
    "bsin.transform.harmonise",
    "bsin.transform.answers",
    "bsin.transform.landed",
    "bsin.transform.mapping",
    "bsin.reporting.text",
    "bsin.core.months",
    "bsin.ingest.pseudonymise",
)


def _harmonise_code_digest() -> bytes:
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        h = hashlib.sha256()
        for name in _HARMONISE_MODULES:
            h.update(Path(importlib.import_module(name).__file__).read_bytes())
        _CODE_DIGEST = h.digest()
    return _CODE_DIGEST


def _self_assessment_fingerprint(wh, country, form, mapping, ctx, partner) -> str:
    """SHA-256 over everything the country's self-assessment harmonisation depends on.

    The code, the mapping, the landed form, the pseudonym key, the partner's time zone and
    grace days, and the landed responses by (form, id, lastSubmittedTime): a landed version
    is never changed in place (an edit lands with a newer time, a removal drops the row),
    so the keys stand for the payloads without reading them.
    """
    h = hashlib.sha256(_harmonise_code_digest())
    h.update(mapping.model_dump_json().encode())
    h.update(json.dumps(form, sort_keys=True, ensure_ascii=False).encode())
    h.update(hashlib.sha256(ctx.key).digest())
    h.update(f"{partner.timezone}|{ctx.programme.grace_days}".encode())
    # The keys are digested in the warehouse (one row back, not one per response).
    [(responses, digest)] = wh.query(
        query_text("self_assessment_response_keys"),
        {"country": country},
    )
    h.update(f"{responses}\x1f{digest}".encode())
    return h.hexdigest()


def _harmonised_since(wh, country: str, kind: str, fingerprint: str) -> date | None:
    """The run month whose harmonisation of these very inputs stands, or None."""
    rows = wh.query(
        query_text("harmonised_since"),
        {"country": country, "kind": kind, "fingerprint": fingerprint},
    )
    return rows[0][0] if rows else None


def _landed_form(wh, country: str, kind: str, month: date) -> dict:
    rows = wh.query(
        query_text("landed_form"),
        {"country": country, "kind": kind, "month": month},
    )
    if not rows:
        raise PipelineError(
            f"{country} {kind}: no form landed for {month:%Y-%m}; run the country's extract task first"
        )
    return json.loads(rows[0][0])


def _landed_responses(wh, country: str, kind: str, month: date):
    """The payload texts to harmonise; harmonising decodes them (bsin.transform.landed)."""
    from bsin.transform.landed import LandedPayloads

    # Monthly responses of this run's window; self-assessments of all time (they are few).
    rows = wh.query(
        query_text("landed_responses"),
        {"country": country, "kind": kind, "month": month},
    )
    return LandedPayloads([p for _, p in rows], ids=[i for i, _ in rows])


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
