"""Task ``extract_country``: pull one country's forms and responses through the Forms hook,
pseudonymise, land them raw and reconcile responses deleted in Google Forms.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from typing import Any

from bsin.core.config import (
    Partner,
    ProgrammeConfig,
)
from bsin.core.months import add_months, format_rfc3339, month_window, parse_rfc3339
from bsin.core.runtime import gc_paused
from bsin.pipeline.context import (
    FORMS_CONN_ID,
    Context,
    CountryHeldBack,
    PipelineError,
    report_month,
)
from bsin.transform.schema import QUARANTINE_TABLE_COLUMNS
from bsin.warehouse import lineage
from bsin.warehouse.sql_text import query_text

log = logging.getLogger(__name__)


def _strip_email(response: dict, key: bytes) -> dict:
    """The raw payload as received, but with the respondent email replaced by its pseudonym."""
    from bsin.ingest.pseudonymise import member_id

    payload = dict(response)
    email = payload.pop("respondentEmail", None)
    if email:
        payload["member_id"] = member_id(email, key)
    return payload


def extract_country(
    country: str,
    data_interval_start: datetime | date,
    ctx: Context | None = None,
    service=None,
    num_retries: int | None = None,
) -> dict:
    """Pull one country's two forms and the month's responses; land them raw; record drift.

    ``service`` (tests, benchmark) replaces the client built from the Forms connection;
    ``num_retries`` overrides the connection's retries (default 0 for a given ``service``,
    whose settings the task cannot see).
    """
    import pandas as pd

    from bsin.ingest.forms_client import FormsApiError, cut_window, get_form, iter_responses
    from bsin.ingest.reconcile import response_key
    from bsin.transform.drift import DRIFT_COLUMNS, StructuralDriftError, detect_drift
    from bsin.transform.mapping import load_mapping

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    partner = ctx.partners.partner(country)
    if service is None:
        from bsin.ingest.forms_hook import FormsHook

        hook = FormsHook(FORMS_CONN_ID)
        service = hook.get_conn()
        num_retries = hook.num_retries if num_retries is None else num_retries
    elif num_retries is None:
        num_retries = 0
    wh = ctx.warehouse
    lineage.declare(
        wh,
        writes=["raw_form", "raw_response", "raw_response_history", "form_drift", "quarantine"],
        extra_inputs=lineage.form_datasets(partner.form_id(k) for k in partner.form_kinds),
    )
    summary: dict[str, Any] = {"country": country, "month": month.isoformat()}
    drift_rows: list[dict] = []
    forms: list[dict] = []
    responses: list[dict] = []
    extract_quarantine: list[dict] = []
    reconcile_plan: list[dict] = []
    forgotten = _forgotten_members(wh)
    # Only the kinds the partner collects: a partner without a self-assessment form costs
    # no API call for it.
    # Pages parse, and responses are cut, pseudonymised and re-serialised, into hundreds of
    # thousands of acyclic containers: the collector would rescan the heap throughout.
    with gc_paused():
        for kind in partner.form_kinds:
            form_id = partner.form_id(kind)
            try:
                form = get_form(service, form_id, num_retries=num_retries)
            except FormsApiError as exc:
                raise PipelineError(f"{country} {kind} form: {exc}") from exc
            mapping = load_mapping(country, kind)
            previous = _previous_revision(wh, country, kind, month)
            try:
                findings = detect_drift(form, mapping, previous_revision_id=previous)
            except StructuralDriftError as exc:
                _hold_back_structural_drift(wh, country, kind, form_id, month, exc)
            for f in findings:
                getattr(log, "warning" if f.severity != "info" else "info")(
                    "%s %s form drift (%s): %s", country, kind, f.kind, f.detail
                )
                drift_rows.append(
                    {
                        "country": country,
                        "form_kind": kind,
                        "report_month": month,
                        "kind": f.kind,
                        "detail": f.detail,
                        "form_id": form_id,
                        "revision_id": form.get("revisionId"),
                        "severity": f.severity,
                    }
                )
            forms.append(
                {
                    "country": country,
                    "form_kind": kind,
                    "report_month": month,
                    "form_id": form_id,
                    "revision_id": form.get("revisionId"),
                    "payload": json.dumps(form, ensure_ascii=False, sort_keys=True),
                }
            )
            first_start = None
            if kind == "monthly":
                start, end = month_window(month, partner.timezone, ctx.programme.grace_days)
            else:
                # Self-assessments arrive at joining and at the end, not per month: read what is
                # new since the latest one landed (inclusive, so an edit at the same instant is
                # not missed), from three months before the programme on the first run.
                start, _ = month_window(
                    add_months(ctx.programme.first_month, -3), partner.timezone, 0
                )
                first_start = start
                latest = _latest_landed(wh, form_id)
                if latest is not None:
                    start = max(start, latest)
                _, end = month_window(month, partner.timezone, ctx.programme.grace_days)
            listed: set[str] = set()
            try:
                pulled, unusable = cut_window(
                    _collect_ids(
                        iter_responses(service, form_id, since_utc=start, num_retries=num_retries),
                        listed,
                    ),
                    start,
                    end,
                )
                reconcile_plan.append(
                    _reconcile_listing(
                        service,
                        form_id,
                        kind,
                        month,
                        partner,
                        ctx.programme,
                        listed_since=start,
                        listed=listed,
                        since_all=first_start,
                        num_retries=num_retries,
                    )
                )
            except FormsApiError as exc:
                raise PipelineError(f"{country} {kind} form: {exc}") from exc
            pulled, summary[f"{kind}_forgotten"] = _drop_forgotten(pulled, forgotten, ctx.key)
            for response_id, rule, field, reason, value in unusable:
                log.warning(
                    "%s %s form: response %s quarantined: %s", country, kind, response_id, reason
                )
                extract_quarantine.append(
                    {
                        "country": country,
                        "form_kind": kind,
                        "report_month": month,
                        "response_id": response_id,
                        "rule": rule,
                        "field": field,
                        "reason": reason,
                        "value": value,
                        "stage": "extract",
                    }
                )
            summary[f"{kind}_responses"] = len(pulled)
            for r in pulled:
                responses.append(
                    {
                        "form_id": form_id,
                        "response_id": r["responseId"],
                        "country": country,
                        "form_kind": kind,
                        "report_month": month,
                        "last_submitted_time": _naive_utc(r.get("lastSubmittedTime")),
                        "create_time": _naive_utc(r.get("createTime")),
                        "payload": json.dumps(
                            _strip_email(r, ctx.key), ensure_ascii=False, sort_keys=True
                        ),
                        "response_key": response_key(r["responseId"]),
                    }
                )
            log.info(
                "%s %s form %s revision %s: %d responses submitted %s..%s",
                country,
                kind,
                form_id,
                form.get("revisionId"),
                len(pulled),
                format_rfc3339(start),
                format_rfc3339(end),
            )
    with wh.transaction():
        wh.replace("raw_form", {"country": country, "report_month": month}, pd.DataFrame(forms))
        wh.replace(
            "form_drift",
            {"country": country, "report_month": month},
            pd.DataFrame(drift_rows, columns=DRIFT_COLUMNS),
        )
        wh.replace(
            "quarantine",
            {"country": country, "report_month": month, "stage": "extract"},
            pd.DataFrame(extract_quarantine, columns=QUARANTINE_TABLE_COLUMNS),
        )
        summary["removed_at_source"] = _reconcile_deleted(wh, reconcile_plan)
        summary["clashes"] = _land_responses(wh, pd.DataFrame(responses, columns=_RAW_COLUMNS))
        # In the same transaction: the landing and the end of an earlier failure's status
        # commit together (one commit, and so one checkpoint check, per extract).
        _clear_extract_status(wh, country, month)
    summary["drift_findings"] = len(drift_rows)
    summary["unusable_responses"] = len(extract_quarantine)
    return summary


def _hold_back_structural_drift(wh, country, kind, form_id, month, exc) -> None:
    """Record a structural form change for the country's notice, then fail the task."""
    from bsin.quality.country_status import record_status

    detail = (
        f"{country} {kind} form {form_id} changed for {month:%Y-%m}: {exc}. Fix "
        f"mappings/{country.lower()}_{kind}.yaml as the finding says (docs/mapping.md), then "
        "clear the country's extract task"
    )
    record_status(wh, country, month, "extract", [("structural_drift", detail)])
    raise CountryHeldBack(detail) from exc


def _clear_extract_status(wh, country: str, month: date) -> None:
    """A successful extract replaces what an earlier failed one recorded."""
    from bsin.quality.country_status import record_status

    record_status(wh, country, month, "extract", [])


_RAW_COLUMNS = [
    "form_id",
    "response_id",
    "country",
    "form_kind",
    "report_month",
    "last_submitted_time",
    "create_time",
    "payload",
    "response_key",
]


def _naive_utc(text: str | None) -> datetime | None:
    return parse_rfc3339(text).replace(tzinfo=None) if text else None


def _previous_revision(wh, country: str, kind: str, month: date) -> str | None:
    # Rows, not a DataFrame: one value, and a frame's construction cost more than the query.
    rows = wh.query(
        query_text("previous_form_revision"),
        {"country": country, "kind": kind, "month": month},
    )
    return rows[0][0] if rows else None


def _latest_landed(wh, form_id: str) -> datetime | None:
    """``lastSubmittedTime`` (aware UTC) of the newest response landed for ``form_id``."""
    rows = wh.query(
        query_text("latest_landed_response"),
        {"form_id": form_id},
    )
    value = rows[0][0] if rows else None
    return None if value is None else value.replace(tzinfo=UTC)


def _land_responses(wh, df) -> int:
    """Upsert raw responses by (form_id, response_id); keep superseded versions in history.

    A response id that clashes with a landed one (bsin.ingest.reconcile.quarantine_clashes) is
    quarantined instead; returns how many. ``df`` has ``_RAW_COLUMNS``.
    """
    from bsin.ingest.reconcile import quarantine_clashes

    if df.empty:
        return 0
    _fill_response_keys(wh)
    wh.replace_staging("raw_response_incoming", df)
    # Every comparison below reads only the landed rows sharing a key with an incoming one:
    # reading the whole table's ids for each extract grew the landing with the warehouse.
    # Kept inside the warehouse: the landed rows never travel through pandas.
    wh.replace_staging_from_query("raw_response_landed", query_text("landed_for_incoming"))
    clashes = quarantine_clashes(wh)
    if len(clashes):
        wh.insert("quarantine", clashes[QUARANTINE_TABLE_COLUMNS])
    edited = wh.query(query_text("edited_incoming_responses"))[0][0]
    if edited:
        wh.run_sql_file("load/raw_response_history.sql")
        wh.run_sql_file("load/raw_response_upsert.sql")
    wh.run_sql_file("load/raw_response_append.sql")
    wh.check_unique_keys("raw_response", "raw_response_incoming")
    return len(clashes)


def _fill_response_keys(wh) -> None:
    """Give landed responses without one their ``response_key`` (migration 016)."""
    import pandas as pd

    from bsin.ingest.reconcile import response_key

    missing = wh.query_df(query_text("responses_without_key"))
    if missing.empty:
        return
    missing["response_key"] = [response_key(r) for r in missing["response_id"]]
    wh.replace_staging("response_key_fill", pd.DataFrame(missing), like="raw_response")
    wh.run_sql_file("load/response_key_fill.sql")


def _collect_ids(responses, ids: set[str]):
    """Pass ``responses`` through, adding each response id to ``ids`` (the full listing)."""
    for r in responses:
        if isinstance(r, dict) and isinstance(r.get("responseId"), str):
            ids.add(r["responseId"])
        yield r


def _reconcile_listing(
    service,
    form_id: str,
    kind: str,
    month: date,
    partner: Partner,
    programme: ProgrammeConfig,
    *,
    listed_since: datetime | None,
    listed: set[str],
    since_all: datetime | None,
    num_retries: int,
) -> dict:
    """Which landed responses of the form to check against which id listing (docs/security.md).

    Monthly form: the report months ``programme.reconcile_months`` back to this one; the
    month's own listing covers them when the window is this month only, otherwise one id
    listing (one call per page of 5,000, ids and times only) from the window's start.
    Self-assessment form: every landed response, against one id listing of the form.
    """
    from bsin.ingest.forms_client import list_response_ids

    if kind == "monthly":
        first = add_months(month, -programme.reconcile_months)
        since, _ = month_window(first, partner.timezone, programme.grace_days)
        months = (first, month)
    else:
        since, months = since_all, None
    if listed_since is not None and listed_since <= since:
        ids = listed  # the month's own listing already covers the window
    else:
        ids = list_response_ids(service, form_id, since, num_retries=num_retries)
    return {"form_id": form_id, "listed_ids": ids, "months": months}


def _reconcile_deleted(wh, plan: list[dict]) -> int:
    """Remove landed responses their form no longer lists (bsin.ingest.reconcile); how many."""
    from bsin.ingest.reconcile import reconcile_deleted

    return sum(len(reconcile_deleted(wh, **item)) for item in plan)


def _forgotten_members(wh) -> set[str]:
    from bsin.warehouse.erasure import forgotten_member_hashes

    return forgotten_member_hashes(wh)


def _drop_forgotten(pulled: list[dict], forgotten: set[str], key: bytes) -> tuple[list[dict], int]:
    """``pulled`` without the responses of erased members (``make forget``); and how many.

    A member who asked to be forgotten stays forgotten when a later run lists their response
    again (the partner has not deleted it at the source yet).
    """
    from bsin.warehouse.erasure import response_member_hash

    if not forgotten:
        return pulled, 0
    kept = [r for r in pulled if response_member_hash(r, key) not in forgotten]
    return kept, len(pulled) - len(kept)
