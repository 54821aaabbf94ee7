"""The closing lines of `make demo`: where the results are and each partner's headline."""

from __future__ import annotations

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


def print_summary(month: date, outbox: Path) -> None:
    """Print the warehouse location, the report emails and one line per partner."""
    from bsin.config import load_partners
    from bsin.warehouse import Warehouse

    wh = Warehouse.from_conn_id("warehouse_default")
    partners = load_partners()
    order = {p.country: i for i, p in enumerate(partners.partners)}
    rows = sorted(headline_rows(wh, month), key=lambda r: order.get(r["scope_country"], 99))
    print()
    print(f"Report month {month:%Y-%m}")
    print(f"  warehouse: {wh}")
    emails = sorted(outbox.glob("*.eml"))
    print(f"  report emails ({len(emails)}) in {outbox}/")
    for path in emails:
        print(f"    {path.name}")
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
