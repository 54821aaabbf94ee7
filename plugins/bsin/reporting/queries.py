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
    The values are those of ``plain`` on each cell of the frame as objects.
    """
    df = wh.query_df(sql, dict(params))
    names = list(df.columns)
    # Column by column: a partner's member rows are tens of thousands of cells, and a
    # whole numeric column converts in one call where a cell costs a pandas call each.
    columns = [plain_column(df.iloc[:, i]) for i in range(len(names))]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def plain_column(column: Any) -> list[Any]:
    """A pandas Series as a list of ``plain`` values (None for every kind of missing)."""
    import numpy as np

    dtype = column.dtype
    if isinstance(dtype, np.dtype):
        # NumPy dtypes hold no missing value but NaN and NaT; tolist() gives Python
        # int, bool, float and (at microseconds, NaT as None) datetime.
        if dtype.kind in "iub":
            return column.to_numpy().tolist()
        if dtype.kind == "f":
            return [None if v != v else v for v in column.to_numpy().tolist()]
        if dtype.kind == "M":
            return column.to_numpy().astype("datetime64[us]").tolist()
    return [plain(v) for v in column.astype(object).tolist()]


def as_month(month: date | datetime | str) -> date:
    """The first day of the month of ``month`` (a date, a datetime or ``YYYY-MM``)."""
    if isinstance(month, str):
        return parse_month(month)
    return month_start(month)
