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

from bsin import lineage
from bsin.config import (
    FORM_KINDS,
    Partner,
    PartnersConfig,
    ProgrammeConfig,
    load_partners,
    load_programme,
)
from bsin.months import add_months, format_rfc3339, month_start, month_window, parse_rfc3339

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "warehouse_default"
FORMS_CONN_ID = "google_forms_default"
SMTP_CONN_ID = "smtp_default"


class PipelineError(RuntimeError):
    """A step cannot complete; the message names the country, form and what to fix."""


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
            from bsin.warehouse import Warehouse

            self._warehouse = Warehouse.from_conn_id(WAREHOUSE_CONN_ID)
        return self._warehouse

    @property
    def key(self) -> bytes:
        if self._key is None:
            from bsin.pseudonymise import load_key

            self._key = load_key()
        return self._key


# --------------------------------------------------------------------------- prepare


def prepare_warehouse(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Create or upgrade the warehouse schema and refresh reference data from config."""
    from bsin.marts import load_reference_data
    from bsin.months import month_range

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    wh = ctx.warehouse
    lineage.declare(wh, writes=["member_roster", "programme_topic"])
    wh.migrate()
    months = month_range(ctx.programme.first_month, max(month, ctx.programme.last_month))
    load_reference_data(wh, ctx.partners, months)
    log.info("warehouse ready for %s (%s)", f"{month:%Y-%m}", wh)
    return {"month": month.isoformat()}


# --------------------------------------------------------------------------- extract


def _strip_email(response: dict, key: bytes) -> dict:
    """The raw payload as received, but with the respondent email replaced by its pseudonym."""
    from bsin.pseudonymise import member_id

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

    from bsin.drift import DRIFT_COLUMNS, StructuralDriftError, detect_drift
    from bsin.forms_client import FormsApiError, cut_window, get_form, iter_responses
    from bsin.mapping import load_mapping

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    partner = ctx.partners.partner(country)
    if service is None:
        from bsin.forms_hook import FormsHook

        hook = FormsHook(FORMS_CONN_ID)
        service = hook.get_service()
        num_retries = hook.num_retries if num_retries is None else num_retries
    elif num_retries is None:
        num_retries = 0
    wh = ctx.warehouse
    lineage.declare(
        wh,
        writes=["raw_form", "raw_response", "raw_response_history", "form_drift", "quarantine"],
        extra_inputs=lineage.form_datasets(partner.form_id(k) for k in FORM_KINDS),
    )
    summary: dict[str, Any] = {"country": country, "month": month.isoformat()}
    drift_rows: list[dict] = []
    forms: list[dict] = []
    responses: list[dict] = []
    extract_quarantine: list[dict] = []
    for kind in FORM_KINDS:
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
            raise PipelineError(f"{country} {kind} form {form_id} changed: {exc}") from exc
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
        if kind == "monthly":
            start, end = month_window(month, partner.timezone, ctx.programme.grace_days)
        else:
            # Self-assessments arrive at joining and at the end, not per month: read what is
            # new since the latest one landed (inclusive, so an edit at the same instant is
            # not missed), from three months before the programme on the first run.
            start, _ = month_window(add_months(ctx.programme.first_month, -3), partner.timezone, 0)
            latest = _latest_landed(wh, form_id)
            if latest is not None:
                start = max(start, latest)
            _, end = month_window(month, partner.timezone, ctx.programme.grace_days)
        try:
            pulled, unusable = cut_window(
                iter_responses(service, form_id, since_utc=start, num_retries=num_retries),
                start,
                end,
            )
        except FormsApiError as exc:
            raise PipelineError(f"{country} {kind} form: {exc}") from exc
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
        _land_responses(wh, pd.DataFrame(responses, columns=_RAW_COLUMNS))
    summary["drift_findings"] = len(drift_rows)
    summary["unusable_responses"] = len(extract_quarantine)
    return summary


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


def _land_responses(wh, df) -> None:
    """Upsert raw responses by (form_id, response_id); keep superseded versions in history."""
    if df.empty:
        return
    wh.replace_staging("raw_response_incoming", df)
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


# --------------------------------------------------------------------------- harmonise


def harmonise_country(
    country: str, data_interval_start: datetime | date, ctx: Context | None = None
) -> dict:
    """Map the country's landed responses to canonical candidate rows and quarantine."""
    import pandas as pd

    from bsin.harmonise import harmonise_feedback, harmonise_self_assessment
    from bsin.mapping import load_mapping

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
    fb, sa = results["monthly"], results["self_assessment"]
    quarantine = pd.concat(
        [fb.quarantine, sa.quarantine.assign(report_month=month)], ignore_index=True
    ).assign(stage="harmonise")
    with wh.transaction():
        wh.replace(
            "feedback_candidate",
            {"country": country, "report_month": month},
            fb.rows.assign(report_month=month),
        )
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


# --------------------------------------------------------------------------- validate


def validate_month(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Run the GX suites over the merged month; load valid rows, quarantine the rest.

    A batch-level failure (a country with members but no answers, too much quarantined)
    records the quarantine, loads nothing of the month and fails the task.
    """
    import pandas as pd

    from bsin.harmonise import feedback_selections
    from bsin.paths import data_dir
    from bsin.validation import ValidationFailed, validate_feedback_month, validate_self_assessment

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
    failure: ValidationFailed | None = None
    try:
        outcome = validate_feedback_month(
            candidates,
            ctx.partners,
            month,
            docs,
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
        sa_outcome = validate_self_assessment(self_assessments, ctx.partners, month, docs)
    except ValidationFailed as exc:
        failure, sa_outcome = failure or exc, exc.outcome
    quarantine = pd.concat(
        [q for q in (outcome.quarantine_df, sa_outcome.quarantine_df) if len(q)]
        or [pd.DataFrame(columns=_Q_COLUMNS[:-1])],
        ignore_index=True,
    ).assign(report_month=month, stage="validate")
    with wh.transaction():
        for country in landed:
            wh.replace(
                "quarantine",
                {"country": country, "report_month": month, "stage": "validate"},
                quarantine.loc[quarantine["country"] == country, _Q_COLUMNS],
            )
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


# --------------------------------------------------------------------------- marts


def build_marts_for_month(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Rebuild the indicator marts (``dbt build``) and evaluate the month's adaptation signals.

    The DAG runs the same two steps as the ``build_marts`` dbt task group and ``signals``.
    """
    from bsin.dbt_project import build_marts

    ctx = ctx or Context.load()
    build_marts(ctx.warehouse)
    return signals_for_month(data_interval_start, ctx)


def signals_for_month(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Evaluate the adaptation signals of the month from the (already rebuilt) marts."""
    from bsin.signals import evaluate_signals

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
    from bsin.delivery import deliver as deliver_message
    from bsin.report import build_message, build_report, render_report

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    partner: Partner = ctx.partners.partner(country)
    wh = ctx.warehouse
    lineage.declare(
        wh,
        reads=["indicators_monthly", "indicator_value", "adaptation_signal", "feedback"],
        writes=["delivery_log"],
    )
    landed = wh.query_df(
        "select count(*) as n from raw_form where country = :country and report_month = :month",
        {"country": country, "month": month},
    )
    if int(landed.iloc[0, 0]) == 0:
        from airflow.exceptions import AirflowSkipException

        raise AirflowSkipException(
            f"{country}: no data ingested for {month:%Y-%m} (its extract failed); no report sent"
        )
    report_ctx = build_report(wh, ctx.partners, country, month)
    rendered = render_report(report_ctx, partner.report_language)
    message = build_message(rendered, partner, ctx.programme.sender)
    if not deliver:
        log.info("%s %s: report rendered, delivery off for this run", country, f"{month:%Y-%m}")
        return {"country": country, "month": month.isoformat(), "status": "not_delivered"}
    result = deliver_message(wh, SMTP_CONN_ID, partner, month, message, resend=resend)
    log.info("%s %s: %s", country, f"{month:%Y-%m}", result)
    return {"country": country, "month": month.isoformat(), "status": str(result.status)}


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
                  join feedback_candidate fc on fc.response_id = f.response_id
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
