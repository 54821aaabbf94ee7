"""One message to data staff per run with every form drift finding and the fix for each.

Drift (a new option, a retitled question, a new question) is recorded in ``form_drift``
by each country's extract; a structural change that broke the mapping is recorded in
``country_month_status`` and failed that country's extract. Nobody reads tables by
habit, so after the countries' extracts this sends the month's findings in one email
(``include/templates/alert_drift.html``, through the Airflow SMTP provider, like the
failure alert) to ``alert_recipients`` in programme.yaml.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from bsin.core.paths import TEMPLATES_DIR

log = logging.getLogger(__name__)

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def month_findings(wh: Any, month: date) -> list[dict[str, str]]:
    """Every drift finding of ``month`` (structural ones first), as display rows."""
    drift = wh.query_df(
        "select country, form_kind, severity, kind, detail from form_drift where report_month = :m",
        {"m": month},
    )
    rows = [{k: str(v) for k, v in r.items()} for r in drift.to_dict("records")]
    structural = wh.query_df(
        "select country, stage, detail from country_month_status"
        " where report_month = :m and status = 'structural_drift'",
        {"m": month},
    )
    for r in structural.to_dict("records"):
        rows.append(
            {
                "country": str(r["country"]),
                "form_kind": "",
                "severity": "error",
                "kind": "structural_drift",
                "detail": str(r["detail"]),
            }
        )
    return sorted(
        rows, key=lambda r: (_SEVERITY_ORDER.get(r["severity"], 3), r["country"], r["kind"])
    )


def render_drift_alert(findings: list[dict[str, str]], month: date, run_id: str) -> str:
    """The alert's HTML body (autoescaped: details quote partners' form titles)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",)),
    )
    return env.get_template("alert_drift.html").render(
        findings=findings,
        held_back=[f for f in findings if f["kind"] == "structural_drift"],
        month=f"{month:%Y-%m}",
        run_id=run_id,
    )


def send_drift_alert(
    wh: Any,
    month: date,
    *,
    recipients: list[str],
    sender: str,
    smtp_conn_id: str,
    run_id: str = "",
) -> dict[str, Any]:
    """Email the month's findings to ``recipients`` (nothing when there are none)."""
    findings = month_findings(wh, month)
    summary: dict[str, Any] = {"month": month.isoformat(), "findings": len(findings), "sent": 0}
    if not findings:
        return summary
    countries = sorted({f["country"] for f in findings})
    for f in findings:
        log.warning("%s %s drift (%s): %s", f["country"], f["form_kind"], f["kind"], f["detail"])
    if not recipients:
        log.warning("form drift found but programme.yaml has no alert_recipients: nobody told")
        return summary
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    subject = (
        f"[BSIN] form drift for {month:%Y-%m}: {len(findings)} finding(s) in "
        f"{', '.join(countries)}: mapping edits needed"
    )
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        hook.send_email_smtp(
            to=recipients,
            subject=subject,
            html_content=render_drift_alert(findings, month, run_id),
            from_email=sender,
        )
    summary["sent"] = 1
    summary["countries"] = countries
    return summary
