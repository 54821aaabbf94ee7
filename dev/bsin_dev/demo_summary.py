"""The closing lines of `make demo` and `make backfill`: where the results are, each
partner's headline (demo) or one line per month of the programme (backfill)."""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path


def _fmt(value, pattern: str) -> str:
    return "n/a" if value is None or value != value else pattern.format(value)


def headline_rows(wh, month: date) -> list[dict]:
    """Headline indicators per partner and the network for ``month``."""
    df = wh.query_df(
        """
        select scope_country, respondents, active_members, response_rate,
               satisfaction_mean, relevance_mean, nps, connections_sum
          from indicators_monthly
         where month = :month
         order by case when scope_country = 'NETWORK' then 1 else 0 end, scope_country
        """,
        {"month": month},
    )
    return df.to_dict(orient="records")


def split_messages(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(report emails, other emails such as failure alerts) among saved ``.eml`` files.

    A report carries the ``X-BSIN-Country`` header that ``bsin.reporting.report.build_message`` sets;
    Airflow's failure alerts do not.
    """
    reports, others = [], []
    for path in sorted(paths):
        with path.open("rb") as fh:
            headers = email.parser.BytesHeaderParser(policy=email.policy.default).parse(fh)
        (reports if headers.get("X-BSIN-Country") else others).append(path)
    return reports, others


def _subject(path: Path) -> str:
    with path.open("rb") as fh:
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parse(fh)
    return str(headers.get("Subject", "")).strip()


def _print_where_to_look() -> None:
    from bsin.core.paths import data_dir

    docs = data_dir() / "gx" / "data_docs" / "index.html"
    if docs.exists():
        print(f"  data quality pages (last month validated): {docs}")
    print("  runs and task logs: `make airflow`, DAG bsin_monthly_feedback, runs month__YYYY-MM")


def _print_emails(outbox: Path, emails: Sequence[Path]) -> None:
    reports, others = split_messages(emails)
    print(f"  report emails ({len(reports)}) in {outbox}/")
    for path in reports:
        print(f"    {path.name}")
    if others:
        print(f"  failure alerts ({len(others)}):")
        for path in others:
            print(f"    {path.name}: {_subject(path)}")


def _print_sent_before(wh, month: date) -> None:
    # A second `make demo` on the same warehouse sends nothing: say why, instead of a bare 0.
    from bsin.delivery.ledger import delivered_countries

    sent = delivered_countries(wh, month)
    if sent:
        print(
            f"  no report sent again: {', '.join(sent)} got the {month:%Y-%m} report in an "
            "earlier run (delivery_log; each partner-month is sent once, docs/security.md)"
        )


def print_summary(month: date, outbox: Path, emails: Sequence[Path] | None = None) -> None:
    """Print the warehouse location, the run's emails and one line per partner.

    ``emails``: the ``.eml`` files this demo wrote (default: every file in ``outbox``).
    """
    from bsin.core.config import load_partners
    from bsin.warehouse.db import Warehouse

    wh = Warehouse.from_conn_id("warehouse_default")
    partners = load_partners()
    order = {p.country: i for i, p in enumerate(partners.partners)}
    rows = sorted(headline_rows(wh, month), key=lambda r: order.get(r["scope_country"], 99))
    print()
    print(f"Report month {month:%Y-%m}")
    print(f"  warehouse: {wh}")
    emails = sorted(outbox.glob("*.eml")) if emails is None else emails
    _print_emails(outbox, emails)
    if not split_messages(emails)[0]:
        _print_sent_before(wh, month)
    _print_where_to_look()
    print("  headline indicators:")
    for r in rows:
        name = r["scope_country"]
        print(
            f"    {name:<8} response rate {_fmt(r['response_rate'], '{:.0%}')}"
            f" ({r['respondents']}/{r['active_members']}),"
            f" satisfaction {_fmt(r['satisfaction_mean'], '{:.2f}')},"
            f" relevance {_fmt(r['relevance_mean'], '{:.2f}')},"
            f" NPS {_fmt(r['nps'], '{:+.0f}')},"
            f" new cross-border connections {_fmt(r['connections_sum'], '{:.0f}')}"
        )
    wh.close()


def backfill_rows(wh, months: Sequence[date]) -> list[dict]:
    """Per month: the network's respondents and response rate, quarantined responses and
    reports recorded as sent."""
    if not months:
        return []
    bounds = {"first": min(months), "last": max(months)}
    network = {
        r["month"]: r
        for r in wh.query_df(
            "select month, respondents, active_members, response_rate, satisfaction_mean"
            " from indicators_monthly where scope_country = 'NETWORK'"
            " and month between :first and :last",
            bounds,
        ).to_dict(orient="records")
    }
    quarantined = dict(
        wh.query(
            "select report_month, count(distinct response_id) from quarantine"
            " where report_month between :first and :last group by report_month",
            bounds,
        )
    )
    sent = dict(
        wh.query(
            "select report_month, count(*) from delivery_log where status = 'sent'"
            " and report_month between :first and :last group by report_month",
            bounds,
        )
    )
    out = []
    for month in months:
        n = network.get(month, {})
        out.append(
            {
                "month": month,
                "respondents": n.get("respondents"),
                "active_members": n.get("active_members"),
                "response_rate": n.get("response_rate"),
                "satisfaction_mean": n.get("satisfaction_mean"),
                "quarantined": int(quarantined.get(month, 0)),
                "reports_sent": int(sent.get(month, 0)),
            }
        )
    return out


def print_backfill_summary(
    runs: Sequence[tuple[date, str]], outbox: Path, emails: Sequence[Path]
) -> None:
    """Print the whole backfill: one line per month run, totals, and the emails it sent."""
    from bsin.core.months import month_run_id
    from bsin.warehouse.db import Warehouse

    wh = Warehouse.from_conn_id("warehouse_default")
    try:
        rows = {r["month"]: r for r in backfill_rows(wh, [m for m, _ in runs])}
        failed = [m for m, state in runs if state != "success"]
        print()
        print(
            f"Backfill {runs[0][0]:%Y-%m}..{runs[-1][0]:%Y-%m}: {len(runs)} runs,"
            f" {len(runs) - len(failed)} succeeded, {len(failed)} failed"
            + (f" ({', '.join(f'{m:%Y-%m}' for m in failed)})" if failed else "")
        )
        print(f"  warehouse: {wh}")
        print(
            "  month     run               state    respondents  rate  satisfaction"
            "  quarantined  reports sent"
        )
        for month, state in runs:
            r = rows[month]
            answered = (
                f"{r['respondents']}/{r['active_members']}" if r["respondents"] is not None else "-"
            )
            print(
                f"  {month:%Y-%m}   {month_run_id(month):<16}  {state:<7}  {answered:>11}"
                f"  {_fmt(r['response_rate'], '{:.0%}'):>4}"
                f"  {_fmt(r['satisfaction_mean'], '{:.2f}'):>12}"
                f"  {r['quarantined']:>11}  {r['reports_sent']:>12}"
            )
        total = sum(r["respondents"] or 0 for r in rows.values())
        print(f"  responses loaded over the backfill: {total}")
        _print_emails(outbox, emails)
        _print_where_to_look()
    finally:
        wh.close()
