"""The warehouse's SQL session: connection, transactions and statements on either backend.

A :class:`SqlSession` holds one DB-API connection opened through the provider's SQL hook
(:mod:`bsin.warehouse.connection`), runs statements with portable ``:name`` parameters
(:mod:`bsin.warehouse.sql_text`) and gives back the same Python types from DuckDB and
PostgreSQL. :class:`bsin.warehouse.db.Warehouse` adds the project's writes on top.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from bsin.core.paths import SQL_DIR
from bsin.warehouse.connection import WarehouseConnection
from bsin.warehouse.errors import WarehouseError
from bsin.warehouse.errors import check_ident as _check_ident
from bsin.warehouse.sql_text import convert_params, split_statements
from bsin.warehouse.sql_text import short as _short

log = logging.getLogger(__name__)


def _py(value: Any) -> Any:
    """One Python value ready for a driver: missing -> None, timestamps -> naive UTC."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        if value is pd.NaT:
            return None
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        # Timestamps are stored as UTC without zone: convert aware values explicitly so the
        # session time zone of either backend can never shift them.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()  # numpy scalar -> Python scalar
    return value


def _from_db(value: Any) -> Any:
    # PostgreSQL returns numeric (sum/avg of integers) as Decimal, DuckDB as float or int;
    # analysts and reports get the same Python types from both.
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _needs_from_db(value: Any) -> bool:
    return isinstance(value, Decimal) or (isinstance(value, datetime) and value.tzinfo is not None)


def _first_values(rows: list[tuple[Any, ...]]) -> list[Any]:
    """Each column's first non-null value (None for a column of nulls only)."""
    first: list[Any] = [None] * len(rows[0])
    pending = list(range(len(first)))
    # Usually the first row settles every column: the rows are not walked, let alone
    # transposed (a reconciliation read 2,000 ids a country only to find nothing to do).
    for row in rows:
        still = []
        for i in pending:
            if row[i] is None:
                still.append(i)
            else:
                first[i] = row[i]
        pending = still
        if not pending:
            break
    return first


def _rows_from_db(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``rows`` with ``_from_db`` applied, converting only the columns that need it."""
    if not rows:
        return rows
    # A result column holds one SQL type, so its first value tells for the whole column.
    convert = [i for i, v in enumerate(_first_values(rows)) if _needs_from_db(v)]
    if not convert:
        return rows
    columns = list(zip(*rows, strict=True))
    for i in convert:
        columns[i] = tuple(_from_db(v) for v in columns[i])
    return list(zip(*columns, strict=True))


class SqlSession:
    """A DuckDB file or a PostgreSQL database (optionally one schema of it).

    Build one with :meth:`from_uri` or :meth:`from_conn_id`; use it as a context manager
    (or call :meth:`close`). The connection opens on first use.
    """

    def __init__(self, target: WarehouseConnection) -> None:
        self.target = target
        self.backend = target.backend
        self.path = target.path
        self.schema = target.schema
        self._conn: Any = None
        self._tx_depth = 0

    # ---- construction ---------------------------------------------------------------

    @classmethod
    def from_uri(cls, uri: str, schema: str | None = None) -> SqlSession:
        """``duckdb:///abs/path.duckdb`` (or ``duckdb:///:memory:``) or ``postgresql://...``.

        For PostgreSQL, ``schema`` (or a ``?search_path=`` / ``?schema=`` query parameter)
        selects the schema the tables live in; it is created when missing.
        """
        return cls(WarehouseConnection.from_uri(uri, schema))

    @classmethod
    def from_conn_id(
        cls, conn_id: str = "warehouse_default", schema: str | None = None
    ) -> SqlSession:
        """The warehouse named by an Airflow connection (conn type ``duckdb`` or ``postgres``).

        The connection is read through Airflow's own API (``AIRFLOW_CONN_<ID>`` as URI or
        JSON, a secrets backend or the metadata DB), never parsed here: that is how Airflow's
        secret masker learns the password and every extra value (``?password=`` in a URI
        lands in the extra) and hides them in task logs.
        """
        return cls(WarehouseConnection.from_conn_id(conn_id, schema))

    @classmethod
    def from_connection(cls, conn: Any, schema: str | None = None) -> SqlSession:
        """The warehouse of an Airflow ``Connection`` object (see :meth:`from_conn_id`)."""
        return cls(WarehouseConnection.from_connection(conn, schema))

    def __repr__(self) -> str:
        extra = f", schema={self.schema!r}" if self.schema else ""
        return f"{type(self).__name__}({self.target.display!r}{extra})"

    @property
    def _pg_kwargs(self) -> dict[str, Any]:
        # libpq keywords; lineage and the dbt profile read host, port, user and dbname here.
        return self.target.pg_kwargs

    def _masked(self, text: str) -> str:
        """``text`` with every secret of the connection (plain or URL-encoded) as ``***``."""
        return self.target.masked(text)

    # ---- connection -----------------------------------------------------------------

    @property
    def hook(self) -> Any:
        """The provider's SQL hook (``DuckDBHook`` or ``PostgresHook``) on this connection.

        For SQL the Warehouse does not offer (``get_df``, ``run``, ``insert_rows`` ...); each
        of its calls opens its own connection, outside the Warehouse's transaction.
        """
        return self.target.hook()

    @property
    def conn(self) -> Any:
        """The open DB-API connection (opened on first use, reopened after it was lost)."""
        if (
            self._conn is not None
            and self.backend == "postgres"
            and self._conn.closed
            and not self._tx_depth
        ):
            # The server dropped the session (restart, admin kill, network): the dead
            # connection would fail every later call. Outside a transaction nothing is lost
            # by opening a new one; the failed transaction was rolled back by the server.
            log.warning("%r: connection was lost; reconnecting", self)
            self._conn = None
        if self._conn is None:
            # The session's schema, which a caller may change between connections.
            self._conn = self.target.connect(self.schema)
        return self._conn

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._tx_depth = 0

    def __enter__(self) -> SqlSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transactions ---------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SqlSession]:
        """All-or-nothing block; nested blocks join the outermost one.

        DDL is transactional on both backends, so a failure anywhere inside leaves the
        warehouse exactly as it was before the outermost block began.
        """
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self
            finally:
                self._tx_depth -= 1
            return
        conn = self.conn
        if self.backend == "duckdb":
            conn.execute("begin transaction")
        else:
            conn.execute("begin")
        self._tx_depth = 1
        try:
            yield self
        except BaseException:
            self._tx_depth = 0
            try:
                conn.execute("rollback")
            except Exception:  # the original error matters more than a failed rollback
                log.exception("rollback failed on %r", self)
            raise
        else:
            self._tx_depth = 0
            conn.execute("commit")

    # ---- statements -----------------------------------------------------------------

    def _cursor_execute(
        self, sql: str, params: Mapping[str, Any] | None, strict: bool = True
    ) -> Any:
        if self.backend == "duckdb":
            text, values = convert_params(sql, params, "?", escape_percent=False, strict=strict)
            try:
                return self.conn.execute(text, [_py(v) for v in values])
            except Exception as exc:
                raise WarehouseError(f"{self!r}: {exc}\nSQL: {_short(sql)}") from exc
        import psycopg

        # Without params psycopg sends the text untouched, so '%' is only doubled with them.
        bind = bool(params)
        text, values = convert_params(sql, params, "%s", escape_percent=bind, strict=strict)
        cur = self.conn.cursor()
        try:
            cur.execute(text, [_py(v) for v in values] if bind else None)
        except psycopg.Error as exc:
            raise WarehouseError(f"{self!r}: {self._masked(str(exc))}\nSQL: {_short(sql)}") from exc
        return cur

    def execute(
        self, sql: str, params: Mapping[str, Any] | None = None, *, strict: bool = True
    ) -> int:
        """Run one statement with portable ``:name`` parameters; return affected row count.

        ``strict=False`` tolerates params the statement does not use (SQL files share one
        params dict across statements).
        """
        cur = self._cursor_execute(sql, params, strict)
        if self.backend == "duckdb":
            try:
                rows = cur.fetchall()
            except Exception:
                return -1
            # DuckDB reports DML counts as a one-row result.
            return (
                int(rows[0][0])
                if rows and len(rows[0]) == 1 and isinstance(rows[0][0], int)
                else -1
            )
        return cur.rowcount

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a query as tuples (types normalised like :meth:`query_df`)."""
        cur = self._cursor_execute(sql, params)
        return _rows_from_db(cur.fetchall())

    def query_df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """A query's result as a DataFrame with the same Python types on both backends.

        Dates come back as ``datetime.date``, timestamps as naive UTC ``datetime``,
        numerics as ``float``/``int`` (never ``Decimal``).
        """
        cur = self._cursor_execute(sql, params)
        columns = [d[0] for d in cur.description]
        return pd.DataFrame.from_records(_rows_from_db(cur.fetchall()), columns=columns)

    def run_sql_file(self, path: str | Path, params: Mapping[str, Any] | None = None) -> None:
        """Run every statement of a SQL file in order (inside the caller's transaction).

        A relative path that does not exist from the working directory is taken relative
        to ``include/sql``. ``params`` is shared by all statements; each uses what it needs.
        """
        path = Path(path)
        if not path.is_absolute() and not path.exists():
            path = SQL_DIR / path  # "load/x.sql" means include/sql/load/x.sql
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise WarehouseError(f"SQL file {path} not found") from None
        for k, stmt in enumerate(split_statements(text), start=1):
            try:
                self.execute(stmt, params, strict=False)
            except WarehouseError as exc:
                raise WarehouseError(f"{path.name}, statement {k}: {exc}") from exc

    def columns(self, table: str) -> list[str]:
        """Column names of ``table`` in table order (empty when it does not exist)."""
        _check_ident(table, "table")
        sql = (
            "select column_name from information_schema.columns "
            "where table_name = :t and table_schema = current_schema() "
            "and table_catalog = current_database() "
            "order by ordinal_position"
        )
        return [r[0] for r in self.query(sql, {"t": table})]

    def table_exists(self, table: str) -> bool:
        """Whether ``table`` (or a view of that name) exists in the warehouse schema."""
        return bool(self.columns(table))

    # ---- schema ---------------------------------------------------------------------

    def migrate(self, schema_dir: str | Path | None = None) -> list[str]:
        """Apply ``include/sql/schema/*.sql`` in name order; return the files applied now.

        See :func:`bsin.warehouse.migrations.migrate`.
        """
        from bsin.warehouse.migrations import migrate

        return migrate(self, schema_dir)
