"""Month arithmetic and the rule that assigns a response to its feedback month.

A month is a ``datetime.date`` on the 1st. Members answer a month's form at its end or in
the first days after it, so a submission made within ``grace_days`` after month end still
belongs to the month before (docs/architecture.md, "Months, windows and the feedback month").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def month_start(d: date | datetime) -> date:
    """The 1st of the month that ``d`` falls in."""
    return date(d.year, d.month, 1)


def add_months(month: date, n: int) -> date:
    """``month`` shifted by ``n`` months (``n`` may be negative)."""
    index = month.year * 12 + (month.month - 1) + n
    return date(index // 12, index % 12 + 1, 1)


def parse_month(text: str) -> date:
    """Parse ``YYYY-MM`` or ``YYYY-MM-DD`` into the month's 1st; ValueError otherwise."""
    parts = text.strip().split("-")
    if len(parts) not in (2, 3):
        raise ValueError(f"not a month: {text!r} (expected YYYY-MM)")
    return date(int(parts[0]), int(parts[1]), 1)


def month_range(first: date, last: date) -> list[date]:
    """Every month from ``first`` to ``last`` inclusive."""
    out, m = [], month_start(first)
    while m <= last:
        out.append(m)
        m = add_months(m, 1)
    return out


def _local_midnight_utc(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC)


def month_window(month: date, tz: str, grace_days: int) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of submissions whose default feedback month is ``month``."""
    zone = ZoneInfo(tz)
    start = _local_midnight_utc(month + timedelta(days=grace_days), zone)
    end = _local_midnight_utc(add_months(month, 1) + timedelta(days=grace_days), zone)
    return start, end


def parse_rfc3339(text: str) -> datetime:
    """Parse the API's RFC 3339 UTC timestamps (``2023-03-01T10:00:00.123456Z``)."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python 3.11 accepts at most microseconds; Google may send nanoseconds.
    if "." in text:
        head, rest = text.split(".", 1)
        frac, offset = rest[:-6], rest[-6:]
        text = f"{head}.{frac[:6].ljust(6, '0')}{offset}"
    return datetime.fromisoformat(text).astimezone(UTC)


def format_rfc3339(ts: datetime) -> str:
    """UTC ``Z`` form that the Forms API filter accepts."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def feedback_month_for(submitted: datetime, tz: str, grace_days: int) -> date:
    """Default feedback month of a submission: its local date minus ``grace_days``."""
    local = submitted.astimezone(ZoneInfo(tz)) - timedelta(days=grace_days)
    return month_start(local)


MONTH_RUN_PREFIX = "month__"


def month_run_id(month: date) -> str:
    """Airflow run id of the run for report ``month``: ``month__2023-03``.

    Every run the project starts (demo, backfill, tests, the documented trigger) uses it,
    so the UI's run list says which month each run covers.
    """
    return f"{MONTH_RUN_PREFIX}{month:%Y-%m}"
