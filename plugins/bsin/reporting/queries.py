"""Reading the warehouse for the reports: plain rows and report months.

The partner and the programme report read the marts the same way: a query with portable
``:name`` parameters whose rows come back as dicts of plain Python values (None for every
kind of missing, ``datetime`` rather than ``Timestamp``, ``int`` rather than ``int64``), so
the type checks of ``bsin.reporting.disclosure`` and the templates hold on both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bsin.core.months import month_start, parse_month

#: Types that are plain already (exact types: ``pd.Timestamp`` is a ``datetime`` subclass).
_PLAIN_TYPES = frozenset({str, int, bool, date, datetime})


def plain(value: Any) -> Any:
    """A database value as a plain Python object (None for every kind of missing)."""
    # Most values of a report's queries are plain already: a member month's CSV rows are
    # tens of thousands of them, and the general path below costs a pandas call each.
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind is float:
        return None if value != value else value  # NaN is the only float unequal to itself
    import pandas as pd

    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    # numpy scalars (int64, bool_) become int/bool, so type checks downstream hold.
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def rows(wh: Any, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run a query (portable ``:name`` parameters) and return plain dict rows.

    ``wh`` is a ``bsin.warehouse.db.Warehouse`` (anything with ``query_df(sql, params)``).
    """
    df = wh.query_df(sql, dict(params))
    return [{k: plain(v) for k, v in r.items()} for r in df.astype(object).to_dict("records")]


def as_month(month: date | datetime | str) -> date:
    """The first day of the month of ``month`` (a date, a datetime or ``YYYY-MM``)."""
    if isinstance(month, str):
        return parse_month(month)
    return month_start(month)
