"""Approval of a month's reports by data staff before anything is sent (optional).

With ``approval: required`` in programme.yaml the monthly DAG gets two extra tasks between
the marts and ``send_report``:

* ``render_for_approval`` renders every partner's report to preview files
  (``<BSIN_DATA_DIR>/preview/approval/<YYYY-MM>/<cc>/report.html``) and returns a Markdown
  summary: per partner the headline figures with their n, the signals that fired and the
  preview path;
* ``approve_reports`` (``MonthApprovalOperator``, Airflow's human-in-the-loop
  ``ApprovalOperator``) shows that summary in the Airflow UI (*Required actions*) and waits.
  *Approve* lets ``send_report`` run; *Reject* skips every ``send_report``, so nothing is
  sent, and the reason typed into the form is recorded in ``report_approval`` with who
  decided and when (approvals are recorded there too).

Approval is off by default: the DAG then has neither task and sends as soon as the marts
are built.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

if TYPE_CHECKING:
    from bsin.pipeline import Context

log = logging.getLogger(__name__)

TASK_ID = "approve_reports"
RENDER_TASK_ID = "render_for_approval"
#: How long a month waits for a decision before the approval task fails (and alerts).
RESPONSE_TIMEOUT = timedelta(days=20)
#: The form field of the approval where a person says why (required on Reject).
REASON_PARAM = "reason"


def preview_dir(month: date) -> Path:
    """Where the month's previews for approval are written."""
    from bsin.core.paths import data_dir

    return data_dir() / "preview" / "approval" / f"{month:%Y-%m}"


def _write_preview(rendered: Any, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    html = rendered.html
    for cid, png in rendered.images.items():
        name = cid.split("@")[0] + ".png"
        (folder / name).write_bytes(png)
        html = html.replace(f"cid:{cid}", name)
    page = folder / "report.html"
    page.write_text(html, encoding="utf-8")
    (folder / "subject.txt").write_text(rendered.subject + "\n", encoding="utf-8")
    (folder / "report.txt").write_text(rendered.text, encoding="utf-8")
    return page


def render_for_approval(month: date, ctx: Context) -> str:
    """Render every partner's report for ``month`` to preview files; return the summary
    (Markdown) the approver reads: headline figures, fired signals, preview path."""
    from bsin.reporting.report import ReportDataError, build_report, render_report
    from bsin.reporting.report_i18n import Translator
    from bsin.reporting.report_view import format_value, label, with_n

    en = Translator("en")
    lines = [
        f"Reports of **{month:%Y-%m}** are rendered and wait for approval. "
        "Approve to send them; Reject to send nothing (write why in the reason field).",
        "",
    ]
    for partner in ctx.partners.partners:
        try:
            report_ctx = build_report(ctx.warehouse, ctx.partners, partner.country, month)
        except ReportDataError as exc:
            lines.append(f"* **{partner.name} ({partner.country})**: no report: {exc}")
            continue
        rendered = render_report(report_ctx, partner.report_language)
        page = _write_preview(rendered, preview_dir(month) / partner.country)
        figures = []
        for key in ("response_rate", "satisfaction_mean", "nps"):
            line = report_ctx.line(key)
            if line is not None:
                value = format_value(key, line.country.value, en)
                figures.append(f"{label(key, en)} {with_n(value, line.country.n, en)}")
        signals = ", ".join(sorted({s.rule_id for s in report_ctx.signals})) or "none"
        lines += [
            f"* **{partner.name} ({partner.country})**, {partner.report_language}: "
            + "; ".join(figures),
            f"  signals: {signals}; to: {', '.join(partner.recipients)}",
            f"  preview: `{page}`",
        ]
    summary = "\n".join(lines)
    log.info("approval summary for %s:\n%s", f"{month:%Y-%m}", summary)
    return summary


def record_decision(
    wh: Any, month: date, decision: str, reason: str, decided_by: str, decided_at: datetime
) -> None:
    """Store the month's decision in ``report_approval`` (one row per month, replaced)."""
    import pandas as pd

    row = {
        "report_month": month,
        "decision": decision,
        "reason": reason or None,
        "decided_by": decided_by or None,
        "decided_at": decided_at.astimezone(UTC).replace(tzinfo=None),
    }
    wh.replace("report_approval", {"report_month": month}, pd.DataFrame([row]))


class MonthApprovalOperator(ApprovalOperator):
    """``ApprovalOperator`` that records the decision and its reason in the warehouse."""

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Record who decided what, and why; then let the base class go on (Approve) or
        skip every send (Reject).

        Recorded first: on Reject the base class ends the task by raising Airflow's
        "skip downstream tasks" signal, so nothing after it would run.
        """
        from bsin.pipeline import Context, report_month

        chosen = list(event.get("chosen_options") or [])
        if "error" not in event and chosen and set(chosen) <= set(self.options):
            decision = "approved" if chosen[0] == self.APPROVE else "rejected"
            reason = str((event.get("params_input") or {}).get(REASON_PARAM) or "").strip()
            user = event.get("responded_by_user") or {}
            who = str(user.get("name") or user.get("id") or "") if isinstance(user, dict) else ""
            month = report_month(context["data_interval_start"])
            when = event.get("responded_at") or datetime.now(UTC)
            if isinstance(when, str):
                when = datetime.fromisoformat(when)
            record_decision(Context.load().warehouse, month, decision, reason, who, when)
            log_level = logging.WARNING if decision == "rejected" else logging.INFO
            log.log(
                log_level,
                "reports of %s %s by %s: %s%s",
                f"{month:%Y-%m}",
                decision,
                who or "unknown",
                reason or "(no reason given)",
                "; nothing is sent" if decision == "rejected" else "",
            )
        return super().execute_complete(context=context, event=event)


def approval_operator(**kwargs: Any) -> MonthApprovalOperator:
    """The DAG's approval step: subject, body from ``render_for_approval``, reason field."""
    from airflow.sdk import Param

    return MonthApprovalOperator(
        task_id=TASK_ID,
        subject="Send the BSIN partner reports of {{ data_interval_start.strftime('%Y-%m') }}?",
        body="{{ ti.xcom_pull(task_ids='" + RENDER_TASK_ID + "') }}",
        params={
            REASON_PARAM: Param(
                "",
                type="string",
                title="Reason",
                description="Why the reports are rejected (or a note on the approval)",
            )
        },
        # Retries would ask the same question again. The month waits up to RESPONSE_TIMEOUT
        # for a decision, then the task fails and the failure alert reaches data staff;
        # execution_timeout (default_args) only bounds the rendering of the request.
        retries=0,
        response_timeout=RESPONSE_TIMEOUT,
        execution_timeout=None,
        **kwargs,
    )
