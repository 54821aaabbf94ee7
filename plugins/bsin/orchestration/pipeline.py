"""Task bodies of the monthly DAG: one function per task, keyed by (country, month).

Each function builds what it needs from Airflow connections and config, does one step, and
returns a small JSON-able summary for XCom (never rows, never personal data). Every write
replaces exactly the slice the task owns, so any task can be re-run or cleared safely.
"""

from __future__ import annotations

import gc
import json
import logging
from datetime import UTC, date, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from bsin.core.config import (
    Partner,
    PartnersConfig,
    ProgrammeConfig,
    load_partners,
    load_programme,
)
from bsin.core.months import add_months, format_rfc3339, month_start, month_window, parse_rfc3339
from bsin.warehouse import lineage

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "warehouse_default"
FORMS_CONN_ID = "google_forms_default"
SMTP_CONN_ID = "smtp_default"


class PipelineError(RuntimeError):
    """A step cannot complete; the message names the country, form and what to fix."""


class CountryHeldBack(PipelineError, AirflowFailException):
    """One country's month is held back (its own problem); fail its task without retries.

    Retrying cannot fix a changed form or a month without answers: the task fails at once,
    red on that country's task in the UI, and the failure alert reaches data staff.
    """


def report_month(data_interval_start: datetime | date) -> date:
    """The report month of a run: the month its data interval starts in."""
    return month_start(data_interval_start)


class Context:
    """Config and connections one task needs; connections open lazily, on first use.

    Tests and the benchmark pass their own ``warehouse`` and ``key``; tasks take them from
    the Airflow connections.
    """

    def __init__(
        self,
        partners: PartnersConfig,
        programme: ProgrammeConfig,
        *,
        warehouse=None,
        key: bytes | None = None,
    ) -> None:
        self.partners = partners
        self.programme = programme
        self._warehouse = warehouse
        self._key = key

    @classmethod
    def load(cls, **kwargs) -> Context:
        """Context from the configured files (``BSIN_CONFIG_DIR`` or include/config)."""
        return cls(load_partners(), load_programme(), **kwargs)

    @property
    def warehouse(self):
        if self._warehouse is None:
            from bsin.warehouse.db import Warehouse

            self._warehouse = Warehouse.from_conn_id(WAREHOUSE_CONN_ID)
        return self._warehouse

    @property
    def key(self) -> bytes:
        if self._key is None:
            from bsin.ingest.pseudonymise import load_key

            self._key = load_key()
        return self._key


# --------------------------------------------------------------------------- prepare


def prepare_warehouse(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Create or upgrade the warehouse schema and refresh reference data from config."""
    from bsin.core.months import month_range
    from bsin.warehouse.marts import load_reference_data

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    wh = ctx.warehouse
    lineage.declare(wh, writes=["member_roster", "programme_topic"])
    wh.migrate()
    # Before any member id is written: a changed key would split every member in two.
    from bsin.ingest.pseudonymise import check_key_fingerprint

    check_key_fingerprint(wh, ctx.key)
    months = month_range(ctx.programme.first_month, max(month, ctx.programme.effective_last_month))
    load_reference_data(wh, ctx.partners, months)
    log.info("warehouse ready for %s (%s)", f"{month:%Y-%m}", wh)
    return {"month": month.isoformat()}


# --------------------------------------------------------------------------- extract


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
    from bsin.transform.drift import DRIFT_COLUMNS, StructuralDriftError, detect_drift
    from bsin.transform.mapping import load_mapping

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    partner = ctx.partners.partner(country)
    if service is None:
        from bsin.ingest.forms_hook import FormsHook

        hook = FormsHook(FORMS_CONN_ID)
        service = hook.get_service()
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
            start, _ = month_window(add_months(ctx.programme.first_month, -3), partner.timezone, 0)
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
            pd.DataFrame(extract_quarantine, columns=_Q_COLUMNS),
        )
        summary["removed_at_source"] = _reconcile_deleted(wh, reconcile_plan)
        summary["clashes"] = _land_responses(wh, pd.DataFrame(responses, columns=_RAW_COLUMNS))
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
]


def _naive_utc(text: str | None) -> datetime | None:
    return parse_rfc3339(text).replace(tzinfo=None) if text else None


def _previous_revision(wh, country: str, kind: str, month: date) -> str | None:
    df = wh.query_df(
        "select revision_id from raw_form where country = :country and form_kind = :kind"
        " and report_month < :month order by report_month desc limit 1",
        {"country": country, "kind": kind, "month": month},
    )
    return None if df.empty else df.iloc[0, 0]


def _latest_landed(wh, form_id: str) -> datetime | None:
    """``lastSubmittedTime`` (aware UTC) of the newest response landed for ``form_id``."""
    rows = wh.query(
        "select max(last_submitted_time) from raw_response where form_id = :form_id",
        {"form_id": form_id},
    )
    value = rows[0][0] if rows else None
    return None if value is None else value.replace(tzinfo=UTC)


def _land_responses(wh, df) -> int:
    """Upsert raw responses by (form_id, response_id); keep superseded versions in history.

    A response id that clashes with a landed one (bsin.ingest.reconcile.quarantine_clashes) is
    quarantined instead; returns how many.
    """
    from bsin.ingest.reconcile import quarantine_clashes

    if df.empty:
        return 0
    wh.replace_staging("raw_response_incoming", df)
    clashes = quarantine_clashes(wh)
    if len(clashes):
        wh.insert("quarantine", clashes[_Q_COLUMNS])
    # Comparing keys first spares reading every stored payload when nothing was edited,
    # which is almost every run.
    edited = wh.query(
        "select count(*) from raw_response_incoming as i join raw_response as r"
        " on r.form_id = i.form_id and r.response_id = i.response_id"
        " where r.last_submitted_time < i.last_submitted_time"
    )[0][0]
    if edited:
        wh.run_sql_file("load/raw_response_history.sql")
    wh.run_sql_file("load/raw_response_upsert.sql")
    return len(clashes)


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


# --------------------------------------------------------------------------- harmonise


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
            quarantine[_Q_COLUMNS] if len(quarantine) else pd.DataFrame(columns=_Q_COLUMNS),
        )
    return summary


_Q_COLUMNS = [
    "country",
    "form_kind",
    "report_month",
    "response_id",
    "rule",
    "field",
    "reason",
    "value",
    "stage",
]


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


# --------------------------------------------------------------------------- validate


def validate_month(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Run the GX suites over the merged month; load valid rows, quarantine the rest.

    A batch-level failure (a country with members but no answers, too much quarantined)
    records the quarantine, loads nothing of the month and fails the task.
    """
    import pandas as pd

    from bsin.core.paths import data_dir
    from bsin.quality.validation import (
        DataDocsSite,
        ValidationFailed,
        validate_feedback_month,
        validate_self_assessment,
    )
    from bsin.transform.harmonise import feedback_selections

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    wh = ctx.warehouse
    lineage.declare(
        wh,
        reads=["raw_form", "feedback_candidate", "self_assessment", "member_roster"],
        writes=["feedback", "feedback_selection", "self_assessment", "quarantine"],
    )
    landed = sorted(
        wh.query_df(
            "select distinct country from raw_form where report_month = :month", {"month": month}
        )["country"]
    )
    if not landed:
        raise PipelineError(f"no country was ingested for {month:%Y-%m}: every extract task failed")
    candidates = wh.query_df(
        "select * from feedback_candidate where report_month = :month order by country, response_id",
        {"month": month},
    )
    prior = wh.query_df(
        "select country, count(distinct response_id) as n from quarantine"
        " where report_month = :month and form_kind = 'monthly' and stage in ('extract', 'harmonise')"
        " group by country",
        {"month": month},
    )
    # A country whose harmonise task failed has landed responses but neither candidates nor
    # harmonise quarantine. Its own task is red already; counting it here as "no answers"
    # would fail every other country's month too.
    unharmonised = set(
        wh.query_df(
            "select distinct r.country from raw_response r"
            " where r.report_month = :month and r.form_kind = 'monthly'"
            " and not exists (select 1 from feedback_candidate c"
            "  where c.country = r.country and c.report_month = :month)"
            " and not exists (select 1 from quarantine q where q.country = r.country"
            "  and q.report_month = :month and q.stage = 'harmonise')",
            {"month": month},
        )["country"]
    )
    for country in sorted(unharmonised):
        log.warning("%s: responses landed but not harmonised for %s; left out", country, month)
    expected = [c for c in landed if c not in unharmonised]
    docs = data_dir() / "gx" / "data_docs"
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
    self_assessments = wh.query_df(
        "select * from self_assessment order by country, wave, member_id", {}
    )
    try:
        sa_outcome = validate_self_assessment(self_assessments, ctx.partners, month, site)
    except ValidationFailed as exc:
        failure, sa_outcome = failure or exc, exc.outcome
    site.build()
    quarantine = pd.concat(
        [q for q in (outcome.quarantine_df, sa_outcome.quarantine_df) if len(q)]
        or [pd.DataFrame(columns=_Q_COLUMNS[:-1])],
        ignore_index=True,
    ).assign(report_month=month, stage="validate")
    problems = outcome.summary.get("country_problems", {})
    with wh.transaction():
        for country in landed:
            wh.replace(
                "quarantine",
                {"country": country, "report_month": month, "stage": "validate"},
                quarantine.loc[quarantine["country"] == country, _Q_COLUMNS],
            )
        _record_country_problems(wh, landed, month, problems)
        if failure is None:
            valid = outcome.valid_df
            wh.replace_staging("feedback_incoming", valid)
            wh.replace_staging("feedback_selection_incoming", feedback_selections(valid))
            wh.run_sql_file("load/feedback_upsert.sql", {"month": month})
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
        "data_docs": str(docs / "index.html"),
    }
    log.info("validated %s: %s", f"{month:%Y-%m}", summary)
    if failure is not None:
        raise PipelineError(
            f"validation of {month:%Y-%m} failed, nothing of the month was loaded: "
            + "; ".join(map(str, failure.failures))
            + f". Quarantine rows are in the warehouse; Data Docs: {docs / 'index.html'}"
        )
    return summary


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


# --------------------------------------------------------------------------- marts


def build_marts_for_month(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Rebuild the indicator marts (``dbt build``) and evaluate the month's adaptation signals.

    The DAG runs the same two steps as the ``build_marts`` dbt task group and ``signals``.
    """
    from bsin.warehouse.dbt_project import build_marts

    ctx = ctx or Context.load()
    build_marts(ctx.warehouse)
    return signals_for_month(data_interval_start, ctx)


def signals_for_month(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Evaluate the adaptation signals of the month from the (already rebuilt) marts."""
    from bsin.reporting.signals import evaluate_signals

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    lineage.declare(
        ctx.warehouse,
        reads=["indicator_value", "need_coverage_status"],
        writes=["adaptation_signal"],
    )
    fired = evaluate_signals(ctx.warehouse, month)
    log.info("%d adaptation signals fired for %s", len(fired), f"{month:%Y-%m}")
    return {"month": month.isoformat(), "signals": len(fired)}


def rebuild_marts(ctx: Context | None = None) -> dict:
    """Rebuild every mart, and the signals of every month with indicators, from current rows.

    Called after rows left the warehouse outside a monthly run (``make forget``). The one
    place that says how marts are built outside the DAG: re-point it when that changes.
    """
    from bsin.reporting.signals import evaluate_signals
    from bsin.warehouse.dbt_project import build_marts

    ctx = ctx or Context.load()
    wh = ctx.warehouse
    build_marts(wh)
    months = sorted(r[0] for r in wh.query("select distinct month from indicators_monthly"))
    for month in months:
        evaluate_signals(wh, month)
    return {"signal_months": len(months)}


# --------------------------------------------------------------------------- report


def send_report(
    country: str,
    data_interval_start: datetime | date,
    *,
    deliver: bool = True,
    resend: bool = False,
    ctx: Context | None = None,
) -> dict:
    """Render the partner's report and send it exactly once (unless ``resend``)."""
    from bsin.delivery.delivery import deliver as deliver_message
    from bsin.reporting.report import build_message, build_report, render_report

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    partner: Partner = ctx.partners.partner(country)
    wh = ctx.warehouse
    from bsin.quality.country_status import country_condition

    lineage.declare(
        wh,
        reads=["indicators_monthly", "indicator_value", "adaptation_signal", "feedback"],
        writes=["delivery_log"],
    )

    condition = country_condition(wh, partner, month)
    if condition is not None:
        return _send_condition_notice(ctx, partner, condition, deliver=deliver, resend=resend)
    report_ctx = build_report(
        wh, ctx.partners, country, month, min_respondents=ctx.programme.min_respondents
    )
    rendered = render_report(report_ctx, partner.report_language)
    message = build_message(rendered, partner, ctx.programme.sender)
    if not deliver:
        log.info("%s %s: report rendered, delivery off for this run", country, f"{month:%Y-%m}")
        return {"country": country, "month": month.isoformat(), "status": "not_delivered"}
    result = deliver_message(
        wh,
        SMTP_CONN_ID,
        partner,
        month,
        message,
        resend=resend,
        alert_to=ctx.programme.alert_recipients,
    )
    log.info("%s %s: %s", country, f"{month:%Y-%m}", result)
    return {"country": country, "month": month.isoformat(), "status": str(result.status)}


def _send_condition_notice(ctx: Context, partner: Partner, condition, *, deliver, resend) -> dict:
    """Tell the partner what happened to its month; fail the task when staff must act.

    The notice goes through the same exactly-once delivery as a report. After a validation
    problem the task then fails without retries (CountryHeldBack): red on this country's
    task in the UI, and the failure alert names the country, the month and what to do.
    After a failed extract (red and alerted already) it ends as skipped.
    """
    from bsin.delivery.delivery import deliver as deliver_message
    from bsin.quality.country_status import EXTRACT_STATUSES, build_notice, network_coverage

    month, country = condition.month, partner.country
    coverage = network_coverage(ctx.warehouse, ctx.partners, month, ctx.programme.min_respondents)
    message = build_notice(condition, partner, ctx.programme.name, ctx.programme.sender, coverage)
    status = "not_delivered"
    if deliver:
        result = deliver_message(
            ctx.warehouse, SMTP_CONN_ID, partner, month, message, resend=resend
        )
        status = str(result.status)
    log.warning("%s %s: %s; partner notice %s", country, f"{month:%Y-%m}", condition.detail, status)
    summary = {
        "country": country,
        "month": month.isoformat(),
        "status": status,
        "condition": condition.status,
    }
    if not condition.needs_action:
        return summary
    if condition.status in EXTRACT_STATUSES:
        from airflow.sdk.exceptions import AirflowSkipException

        # The country's extract task is red and has alerted already: one alert per cause.
        raise AirflowSkipException(
            f"{country} {month:%Y-%m}: extract failed, partner notice {status}; no report"
        )
    raise CountryHeldBack(
        f"{country} {month:%Y-%m} held back ({condition.status}); partner notice {status}: "
        f"{condition.detail}"
    )


def summarise_run(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Counts for the run's log: what was read, loaded, quarantined and sent."""
    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    wh = ctx.warehouse
    counts = wh.query_df(
        """
        select c.country,
               (select count(*) from raw_response r
                 where r.country = c.country and r.report_month = :month
                   and r.form_kind = 'monthly') as responses_read,
               (select count(*) from feedback f
                  join feedback_candidate fc
                    on fc.country = f.country and fc.response_id = f.response_id
                 where fc.country = c.country and fc.report_month = :month) as loaded,
               (select count(distinct q.response_id) from quarantine q
                 where q.country = c.country and q.report_month = :month) as quarantined,
               (select count(*) from delivery_log d
                 where d.country = c.country and d.report_month = :month) as reports_sent
          from raw_form c
         where c.report_month = :month and c.form_kind = 'monthly'
         order by c.country
        """,
        {"month": month},
    )
    rows = counts.to_dict(orient="records")
    for row in rows:
        log.info("%s %s: %s", row["country"], f"{month:%Y-%m}", row)
    return {"month": month.isoformat(), "countries": rows}
