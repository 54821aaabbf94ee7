"""One warehouse API over DuckDB and PostgreSQL.

The pipeline, the marts and the analysts' SQL use one text for both backends, so this module
hides the few places where the drivers differ: the parameter style, bulk loading (DuckDB
scans a registered DataFrame, PostgreSQL gets ``COPY``) and the Python types that come back.
Everything else is plain SQL under ``include/sql``. The connection itself is Airflow's
(:mod:`bsin.warehouse.connection`: the Airflow connection API and the providers' SQL hooks);
migrations are :mod:`bsin.warehouse.migrations`, SQL text helpers
:mod:`bsin.warehouse.sql_text`.

Usage::

    with Warehouse.from_conn_id("warehouse_default") as wh:
        wh.migrate()
        with wh.transaction():
            wh.replace("feedback", {"country": country, "feedback_month": month}, df)
        wh.query_df("select * from indicators_monthly where month = :m", {"m": month})
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from bsin.warehouse.connection import WarehouseConnection, mask_uri
from bsin.warehouse.errors import WarehouseError
from bsin.warehouse.errors import check_ident as _check_ident
from bsin.warehouse.keys import KEY_DIGESTS, UNINDEXED_KEYS, duplicate_keys_sql
from bsin.warehouse.session import SqlSession, _py
from bsin.warehouse.sql_text import convert_params, split_statements

__all__ = [
    "SqlSession",
    "Warehouse",
    "WarehouseConnection",
    "WarehouseError",
    "convert_params",
    "mask_uri",
    "month_param",
    "split_statements",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Value normalisation shared by both backends.


_INTEGER_TYPES = ("integer", "bigint", "smallint", "int", "int4", "int8", "hugeint")
# Column types _coerce changes values for; every other type passes values through.
_COERCED_TYPES = frozenset((*_INTEGER_TYPES, "date"))


# Values _py returns unchanged; checked by exact class first, since loads convert millions
# of values (text, ids, dates) and _py's checks cost ~5 us each.
_PLAIN_TYPES = frozenset((str, int, bool, date))
# Classes of values that neither _py nor _coerce changes.
_UNCHANGED_CLASSES = frozenset((*_PLAIN_TYPES, type(None)))


def _py_fast(value: Any) -> Any:
    """``_py(value)``, with a shortcut for the plain values that are most of a load."""
    cls = value.__class__
    if cls in _PLAIN_TYPES or (cls is datetime and value.tzinfo is None):
        return value
    return _py(value)


def _coerce(value: Any, sql_type: str, table: str, col: str) -> Any:
    """Fit one prepared value to its target column type where pandas changed it.

    pandas turns an integer column with a missing value into floats and a date column
    into timestamps; DuckDB casts those silently, PostgreSQL's COPY does not.
    """
    if value is None:
        return None
    kind = sql_type.lower()
    if kind in _INTEGER_TYPES:
        if isinstance(value, float):
            if not value.is_integer():
                raise WarehouseError(
                    f"{table}.{col} is an integer column but got {value!r}: round or fix the value"
                )
            return int(value)
    elif kind == "date":
        if isinstance(value, datetime):
            return value.date()
    return value


def _check_frame_columns(df: pd.DataFrame, table: str) -> None:
    for col in df.columns:
        if not isinstance(col, str):
            raise WarehouseError(f"{table}: column name {col!r} is not a string")
        _check_ident(col, f"column of {table}")
    if df.columns.duplicated().any():
        dupes = sorted(set(df.columns[df.columns.duplicated()]))
        raise WarehouseError(f"{table}: duplicate columns {dupes} in the DataFrame")


def _fitted(values: list[Any], table: str, col: str, sql_type: str | None) -> list[Any]:
    """A column's values ready for a driver (``_py``), fitted to ``sql_type`` (``_coerce``)."""
    # Most columns hold only values that pass unchanged: one look at their classes spares a
    # call per value (loads convert millions of them).
    if not set(map(type, values)) <= _UNCHANGED_CLASSES:
        values = [_py_fast(v) for v in values]
    if sql_type and sql_type.lower() in _COERCED_TYPES:
        if set(map(type, values)) - _UNCHANGED_CLASSES:  # floats, datetimes: see _coerce
            values = [_coerce(v, sql_type, table, col) for v in values]
    return values


def _prepare_frame(
    df: pd.DataFrame, table: str, types: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Validate column names and normalise values (missing -> None, aware -> naive UTC) as
    Python objects, for PostgreSQL's ``COPY``.

    With ``types`` (column -> SQL type of the target table) values are also coerced to
    the target type where pandas changed them (see ``_coerce``).
    """
    _check_frame_columns(df, table)
    out = pd.DataFrame(index=range(len(df)))
    for col in df.columns:
        series = df[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_dtype(series.dtype):
            # One conversion for the column instead of a Timestamp per value.
            values = [None if v is pd.NaT else v for v in series.dt.to_pydatetime()]
        else:
            values = series.tolist()
        out[col] = pd.Series(_fitted(values, table, col, (types or {}).get(col)), dtype=object)
    return out


def _typed_frame(
    df: pd.DataFrame, table: str, types: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """``df`` ready for DuckDB to scan: what ``_prepare_frame`` gives, column types kept.

    DuckDB reads numpy and pandas' nullable columns (``Int64``, ``boolean``, ``string``,
    ``datetime64``) directly, with every missing value (``NaN``, ``NA``, ``NaT``) as NULL,
    and casts a timestamp to a DATE column as ``_coerce`` does. So only object columns go
    value by value, aware timestamps become naive UTC, and floats bound for an integer
    column are checked to be whole: DuckDB would round 2.5 to 2 where ``_coerce`` refuses
    it. Converting every value to a Python object first, for DuckDB to convert back, was
    about half of the landing's and the candidates' insert (docs/performance.md).
    """
    _check_frame_columns(df, table)
    out = df.copy(deep=False)
    for col in df.columns:
        series, sql_type = df[col], (types or {}).get(col)
        if pd.api.types.is_object_dtype(series.dtype):
            out[col] = pd.Series(
                _fitted(series.tolist(), table, col, sql_type), index=df.index, dtype=object
            )
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            out[col] = series.dt.tz_convert("UTC").dt.tz_localize(None)
        elif (
            sql_type
            and sql_type.lower() in _INTEGER_TYPES
            and pd.api.types.is_float_dtype(series.dtype)
        ):
            whole = series.dropna()
            fraction = whole[~np.isfinite(whole) | (whole != whole.round())]
            if len(fraction):
                raise WarehouseError(
                    f"{table}.{col} is an integer column but got {float(fraction.iloc[0])!r}: "
                    "round or fix the value"
                )
            out[col] = series.astype("Int64")
    return out


def _infer_sql_type(values: pd.Series) -> str:
    """Portable SQL type for a prepared column: from its dtype, or for an object column from
    its first non-null value."""
    dtype = values.dtype
    if not pd.api.types.is_object_dtype(dtype):
        if pd.api.types.is_bool_dtype(dtype):
            return "boolean"
        if pd.api.types.is_integer_dtype(dtype):
            return "bigint"
        if pd.api.types.is_float_dtype(dtype):
            return "double precision"
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return "timestamp"
        return "text"
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, int):
            return "bigint"
        if isinstance(v, float):
            return "double precision"
        if isinstance(v, datetime):
            return "timestamp"
        if isinstance(v, date):
            return "date"
        return "text"
    return "text"


# A statement that may change a table's columns (after any leading comment lines).
_SCHEMA_DDL = re.compile(r"^\s*(?:--[^\n]*\n\s*)*(?:create|alter|drop)\b", re.IGNORECASE)
# The staging tables' own DDL (replace_staging): session-private, never a cached table.
_STAGING_DDL = re.compile(
    r"^\s*(?:drop table if exists (?:temp|pg_temp)\.|create temporary table )", re.IGNORECASE
)

# --------------------------------------------------------------------------------------


class Warehouse(SqlSession):
    """The warehouse: a :class:`SqlSession` with the project's writes (replace, upsert,
    staging tables, bulk inserts).

    Build one with :meth:`from_uri` or :meth:`from_conn_id`; use it as a context manager
    (or call :meth:`close`). The connection opens on first use.
    """

    def __init__(self, target: WarehouseConnection) -> None:
        super().__init__(target)
        # column_types per table: every load asked information_schema again, some 12
        # queries per country-month (docs/performance.md). Any DDL other than the staging
        # tables', a rollback or closing the connection forgets them.
        self._column_types: dict[str, dict[str, str]] = {}

    def _cursor_execute(self, sql: str, params: Mapping[str, Any] | None, strict: bool = True):
        if self._column_types and _SCHEMA_DDL.match(sql) and not _STAGING_DDL.match(sql):
            self._column_types.clear()
        return super()._cursor_execute(sql, params, strict)

    @contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """All-or-nothing block (:meth:`SqlSession.transaction`)."""
        try:
            with super().transaction():
                yield self
        except BaseException:
            self._column_types.clear()  # a rolled-back DDL may have changed columns
            raise

    def close(self) -> None:
        """Close the connection (it reopens on next use) and forget cached column types."""
        self._column_types.clear()
        super().close()

    # ---- bulk writes ----------------------------------------------------------------

    def _prepare(
        self, df: pd.DataFrame, table: str, types: Mapping[str, str] | None
    ) -> pd.DataFrame:
        # DuckDB scans typed columns; PostgreSQL's COPY writes Python objects.
        prepare = _typed_frame if self.backend == "duckdb" else _prepare_frame
        return prepare(df, table, types)

    def _insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if self.backend == "duckdb":
            with self._registered(frame) as name:
                self._insert_from(table, list(frame.columns), name)
            return
        col_list = ", ".join(frame.columns)
        with self.conn.cursor() as cur:
            with cur.copy(f"copy {table} ({col_list}) from stdin") as copy:
                for row in frame.itertuples(index=False, name=None):
                    copy.write_row(row)

    @contextmanager
    def _registered(self, frame: pd.DataFrame) -> Iterator[str]:
        """DuckDB only: ``frame`` as a view for the block's statements; yields its name."""
        name = f"_bsin_frame_{id(frame)}"
        self.conn.register(name, frame)
        try:
            yield name
        finally:
            # After a failed insert DuckDB refuses further calls until rollback; the view
            # vanishes with the rollback, and the insert's own error is the one worth
            # reporting.
            try:
                self.conn.unregister(name)
            except Exception:
                log.debug("unregister %s after a failed insert", name)

    def _insert_from(self, table: str, cols: Sequence[str], view: str) -> None:
        # Scanning the registered frame is one vectorised insert; the cast to the target
        # types happens inside DuckDB.
        col_list = ", ".join(cols)
        self.conn.execute(f"insert into {table} ({col_list}) select {col_list} from {view}")  # noqa: S608 (identifiers checked)

    def column_types(self, table: str) -> dict[str, str]:
        """``{column: SQL type}`` of ``table`` as the backend names the types."""
        _check_ident(table, "table")
        cached = self._column_types.get(table)
        if cached is not None:
            return dict(cached)
        rows = self.query(
            "select column_name, data_type from information_schema.columns "
            "where table_name = :t and table_schema = current_schema() "
            "and table_catalog = current_database() "
            "order by ordinal_position",
            {"t": table},
        )
        types = dict(rows)
        if types:  # a missing table is not remembered: a migration may create it
            self._column_types[table] = types
        return dict(types)

    def replace_staging(self, name: str, df: pd.DataFrame, like: str | None = None) -> int:
        """(Re)create the session-private staging table ``name`` holding ``df``.

        Load SQL then merges it into a real table (see include/sql/load). Column types
        come from table ``like`` where it has the column (default: ``name`` without its
        ``_incoming`` suffix, when such a table exists), else from the values. The table
        is temporary: it lives until the connection closes and no other session sees it.
        """
        _check_ident(name, "staging table")
        base = like or (name.removesuffix("_incoming") if name.endswith("_incoming") else None)
        known = self.column_types(base) if base else {}
        if like and not known:
            raise WarehouseError(f"replace_staging({name}): table {like} does not exist")
        frame = self._prepare(df, name, known)
        defs = ", ".join(f"{c} {known.get(c) or _infer_sql_type(frame[c])}" for c in frame.columns)
        if not defs:
            raise WarehouseError(f"replace_staging({name}): the DataFrame has no columns")
        with self.transaction():
            self._drop_staging(name)
            self.execute(f"create temporary table {name} ({defs})")
            try:
                self._insert_frame(name, frame)
            except Exception as exc:
                raise WarehouseError(f"loading staging table {name} failed: {exc}") from exc
        return len(frame)

    def _drop_staging(self, name: str) -> None:
        # Qualified so that a permanent table of the same name is never dropped.
        temp = "temp" if self.backend == "duckdb" else "pg_temp"
        self.execute(f"drop table if exists {temp}.{name}")

    def replace_staging_from_query(
        self, name: str, sql: str, params: Mapping[str, Any] | None = None
    ) -> int:
        """(Re)create the session-private staging table ``name`` as the result of ``sql``.

        Like :meth:`replace_staging`, for rows the warehouse already holds: they stay in
        it instead of travelling through Python, with the column types of the query.
        Returns the row count.
        """
        _check_ident(name, "staging table")
        with self.transaction():
            self._drop_staging(name)
            self.execute(f"create temporary table {name} as {sql}", params)  # noqa: S608 (identifier checked)
            return int(self.query(f"select count(*) from {name}")[0][0])  # noqa: S608

    def insert(self, table: str, df: pd.DataFrame) -> int:
        """Append ``df``'s rows to ``table`` (columns by name); return the row count."""
        _check_ident(table, "table")
        types = self.column_types(table)
        frame = self._prepare(df, table, types)
        self._check_columns(table, list(frame.columns), types)
        with self.transaction():
            self._insert_checked(table, frame)
        return len(frame)

    def _insert_checked(self, table: str, frame: pd.DataFrame) -> None:
        # Errors of either backend become a WarehouseError naming the table. On DuckDB a
        # keyed table's insert and its key check read the frame through one registration,
        # and the frame's own columns scope the check (about 6 ms a country task less than
        # registering it twice and asking the view for its columns, docs/performance.md).
        checked = self.backend == "duckdb" and table in UNINDEXED_KEYS and not frame.empty
        try:
            if not checked:
                self._insert_frame(table, frame)
                return
            with self._registered(frame) as name:
                self._insert_from(table, list(frame.columns), name)
                self.check_unique_keys(table, name, columns=frame.columns)
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(f"insert into {table} failed: {exc}") from exc

    def check_unique_keys(
        self, table: str, touched: str, columns: Iterable[str] | None = None
    ) -> None:
        """Raise ``WarehouseError`` if a key of ``table`` (``UNINDEXED_KEYS``) is held twice
        among the rows sharing a key with table ``touched`` (the staging table or frame a
        write just added from).

        On DuckDB these tables have no index (``bsin.warehouse.keys``): call this inside the
        write's transaction, so a duplicate rolls the write back as a constraint would.
        PostgreSQL enforces the same keys with its constraints, so there it does nothing.
        ``columns``: those of ``touched`` when the caller knows them (else it is asked).
        """
        if table not in UNINDEXED_KEYS:
            raise WarehouseError(
                f"check_unique_keys({table}): not a table of bsin.warehouse.keys.UNINDEXED_KEYS"
            )
        if self.backend != "duckdb":
            return
        _check_ident(touched, "table")
        # A staging table is temporary and a frame a registered view: neither is in
        # information_schema's current catalog, so ask the relation itself.
        if columns is not None:
            have = set(columns)
        else:
            have = {d[0] for d in self.conn.execute(f"select * from {touched} limit 0").description}  # noqa: S608
        for key in UNINDEXED_KEYS[table]:
            scope = [c for c in key if c in have]
            if not scope:
                raise WarehouseError(
                    f"check_unique_keys({table}): {touched} has none of the key columns {key}"
                )
            dupes = self.query(
                duplicate_keys_sql(
                    table, key, touched, scope, self._digest(table, key, touched, have)
                )
            )
            if dupes:
                shown = "; ".join(
                    f"({', '.join(map(repr, row[:-1]))}) {row[-1]} times" for row in dupes
                )
                raise WarehouseError(
                    f"{table} would hold a key twice: ({', '.join(key)}) = {shown}. "
                    "The write's transaction is rolled back: the table keeps one row per key "
                    "(on DuckDB the code checks it: bsin.warehouse.keys)"
                )

    def _digest(self, table: str, key: Sequence[str], touched: str, have: set[str]) -> str | None:
        """The ``KEY_DIGESTS`` column that may scope the check of ``key``, or None: the
        touched rows (columns ``have``) must carry it, filled."""
        known_key, column = KEY_DIGESTS.get(table, ((), ""))
        if tuple(key) != known_key or column not in have:
            return None
        missing = self.query(f"select count(*) from {touched} where {column} is null")[0][0]  # noqa: S608
        return column if not missing else None

    def _check_columns(
        self, table: str, cols: Sequence[str], types: Mapping[str, str] | None = None
    ) -> None:
        known = list(types) if types is not None else self.columns(table)
        if not known:
            raise WarehouseError(f"table {table} does not exist: run Warehouse.migrate() first")
        unknown = [c for c in cols if c not in known]
        if unknown:
            raise WarehouseError(
                f"{table} has no column(s) {unknown}: its columns are {known} "
                "(docs/architecture.md); rename the DataFrame columns or add a migration"
            )

    def replace(self, table: str, where: Mapping[str, Any], df: pd.DataFrame) -> int:
        """Delete the rows of ``table`` matching ``where`` (column = value) and insert ``df``.

        One transaction: either both happen or neither. ``where={}`` replaces the whole
        table. Returns the number of rows inserted.
        """
        _check_ident(table, "table")
        for col in where:
            _check_ident(col, f"column of {table}")
        with self.transaction():
            if where:
                cond = " and ".join(f"{c} = :w_{c}" for c in where)
                self.execute(
                    f"delete from {table} where {cond}",  # noqa: S608 (identifiers checked)
                    {f"w_{c}": v for c, v in where.items()},
                )
            else:
                self.execute(f"delete from {table}")  # noqa: S608 (identifier checked)
            return self.insert(table, df)

    def upsert(self, table: str, key_cols: Sequence[str], df: pd.DataFrame) -> int:
        """Insert ``df``, replacing rows of ``table`` that have the same ``key_cols`` values.

        One transaction. Rows of ``df`` must be unique on ``key_cols``.
        """
        _check_ident(table, "table")
        keys = [_check_ident(k, f"key column of {table}") for k in key_cols]
        if not keys:
            raise WarehouseError(f"upsert into {table}: give at least one key column")
        missing = [k for k in keys if k not in df.columns]
        if missing:
            raise WarehouseError(
                f"upsert into {table}: key column(s) {missing} not in the DataFrame"
            )
        if df.duplicated(subset=keys).any():
            dup = df[df.duplicated(subset=keys, keep=False)][keys].head(3).to_dict("records")
            raise WarehouseError(
                f"upsert into {table}: the DataFrame repeats key(s) {keys}, e.g. {dup}; "
                "keep one row per key"
            )
        types = self.column_types(table)
        frame = self._prepare(df, table, types)
        cond = " and ".join(f"{k} = :{k}" for k in keys)
        with self.transaction():
            self._check_columns(table, list(frame.columns), types)
            for key in frame[keys].itertuples(index=False, name=None):
                self.execute(
                    f"delete from {table} where {cond}",  # noqa: S608 (identifiers checked)
                    dict(zip(keys, key, strict=True)),
                )
            self._insert_checked(table, frame)
        return len(frame)


def month_param(month: date | str) -> date:
    """Accept a ``date`` or ``YYYY-MM[-DD]`` text and return the month's 1st."""
    if isinstance(month, datetime):
        month = month.date()
    if isinstance(month, date):
        return date(month.year, month.month, 1)
    from bsin.core.months import parse_month

    return parse_month(month)
