"""Tasks ``send_report`` and ``summarise_run``: each partner's report (or its held-back
notice) exactly once, and the run summary.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from bsin.core.config import (
    Partner,
)
from bsin.pipeline.context import (
    SMTP_CONN_ID,
    Context,
    CountryHeldBack,
    report_month,
)
from bsin.warehouse import lineage

log = logging.getLogger(__name__)


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
