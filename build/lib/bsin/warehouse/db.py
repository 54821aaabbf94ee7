"""One warehouse API over DuckDB and PostgreSQL.

The pipeline, the marts and the analysts' SQL use one text for both backends, so this module
hides the few places where the drivers differ: how a connection is named, the parameter
style, bulk loading (DuckDB scans a registered DataFrame, PostgreSQL gets ``COPY``) and the
Python types that come back. Everything else is plain SQL under ``include/sql``.

Usage::

    with Warehouse.from_conn_id("warehouse_default") as wh:
        wh.migrate()
        with wh.transaction():
            wh.replace("feedback", {"country": "SE", "feedback_month": month}, df)
        wh.query_df("select * from indicators_monthly where month = :m", {"m": month})
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pandas as pd

from bsin.core.paths import SQL_DIR

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_DUCKDB_LOCK_WAIT_S = 60.0


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message names the table, file or statement."""


def _check_ident(name: str, what: str) -> str:
    # Table and column names are spliced into SQL text, so only plain lower-case
    # identifiers are accepted: no quoting games, no injection through a DataFrame header.
    if not _IDENT.match(name):
        raise WarehouseError(
            f"invalid {what} name {name!r}: use lower-case letters, digits and underscores"
        )
    return name


# Connection fields and URI query parameters whose values are secret (libpq's password,
# sslpassword; tokens and keys of other drivers), masked wherever a connection is shown.
_SECRET_KEY = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)


def mask_uri(uri: str) -> str:
    """``uri`` with any password, in the user part or the query, replaced by ``***``."""
    parts = urlsplit(uri)
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{user}:***@{host}{port}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(_SECRET_KEY.search(k) for k, _ in pairs):
        query = "&".join(
            f"{quote(k, safe='')}={'***' if _SECRET_KEY.search(k) else quote(v, safe='')}"
            for k, v in pairs
        )
    if (netloc, query) == (parts.netloc, parts.query):
        return uri  # geturl() would drop the empty authority of duckdb:///path
    return parts._replace(netloc=netloc, query=query).geturl()


# --------------------------------------------------------------------------------------
# SQL text helpers over sqlparse's lexer (it knows quotes, comments, ``::`` casts and
# ``:name`` placeholders): split files into statements, and turn portable ``:name``
# parameters into each driver's placeholders.


def split_statements(sql: str) -> list[str]:
    """Split SQL text on ``;`` outside quotes and comments; drop empty statements."""
    import sqlparse

    out = []
    for stmt in sqlparse.split(sql):
        code = sqlparse.format(stmt, strip_comments=True).strip().rstrip(";").strip()
        if code:
            out.append(stmt.strip())
    return out


def convert_params(
    sql: str,
    params: Mapping[str, Any] | None,
    placeholder: str,
    escape_percent: bool,
    strict: bool = True,
) -> tuple[str, list[Any]]:
    """Rewrite ``:name`` parameters into positional ``placeholder`` and the value list.

    ``::`` casts, quoted strings and comments are left alone. psycopg reads ``%`` as the
    start of a placeholder everywhere in the text, so it is doubled when asked.
    """
    from sqlparse import lexer, tokens

    params = dict(params or {})
    values: list[Any] = []
    used: set[str] = set()
    out: list[str] = []
    for ttype, text in lexer.tokenize(sql):
        if ttype in tokens.Name.Placeholder and text.startswith(":"):
            name = text[1:]
            if name not in params:
                raise WarehouseError(
                    f"SQL parameter :{name} has no value: pass it in params (got {sorted(params)})"
                )
            used.add(name)
            values.append(params[name])
            out.append(placeholder)
            continue
        out.append(text.replace("%", "%%") if escape_percent else text)
    unused = set(params) - used
    if unused and strict:
        raise WarehouseError(f"params {sorted(unused)} are not used in the SQL: remove them")
    return "".join(out), values


# --------------------------------------------------------------------------------------
# Value normalisation shared by both backends.


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


def _coerce(value: Any, sql_type: str, table: str, col: str) -> Any:
    """Fit one prepared value to its target column type where pandas changed it.

    pandas turns an integer column with a missing value into floats and a date column
    into timestamps; DuckDB casts those silently, PostgreSQL's COPY does not.
    """
    if value is None:
        return None
    kind = sql_type.lower()
    if kind in ("integer", "bigint", "smallint", "int", "int4", "int8", "hugeint"):
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


def _prepare_frame(
    df: pd.DataFrame, table: str, types: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Validate column names and normalise values (missing -> None, aware -> naive UTC).

    With ``types`` (column -> SQL type of the target table) values are also coerced to
    the target type where pandas changed them (see ``_coerce``).
    """
    for col in df.columns:
        if not isinstance(col, str):
            raise WarehouseError(f"{table}: column name {col!r} is not a string")
        _check_ident(col, f"column of {table}")
    if df.columns.duplicated().any():
        dupes = sorted(set(df.columns[df.columns.duplicated()]))
        raise WarehouseError(f"{table}: duplicate columns {dupes} in the DataFrame")
    out = pd.DataFrame(index=range(len(df)))
    for col in df.columns:
        series = df[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        values = [_py(v) for v in series.tolist()]
        if types and col in types:
            values = [_coerce(v, types[col], table, col) for v in values]
        out[col] = pd.Series(values, dtype=object)
    return out


def _infer_sql_type(values: pd.Series) -> str:
    """Portable SQL type for a prepared (object) column, from its first non-null value."""
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


def _from_db(value: Any) -> Any:
    # PostgreSQL returns numeric (sum/avg of integers) as Decimal, DuckDB as float or int;
    # analysts and reports get the same Python types from both.
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


# --------------------------------------------------------------------------------------


class Warehouse:
    """A DuckDB file or a PostgreSQL database (optionally one schema of it).

    Build one with :meth:`from_uri` or :meth:`from_conn_id`; use it as a context manager
    (or call :meth:`close`). The connection opens on first use.
    """

    def __init__(
        self,
        backend: str,
        *,
        path: str | None = None,
        pg_kwargs: Mapping[str, Any] | None = None,
        schema: str | None = None,
        display: str = "",
    ) -> None:
        if backend not in ("duckdb", "postgres"):
            raise WarehouseError(f"unknown backend {backend!r}: use 'duckdb' or 'postgres'")
        self.backend = backend
        self.path = path
        self._pg_kwargs = dict(pg_kwargs or {})
        self.schema = _check_ident(schema, "schema") if schema else None
        self._display = display
        self._conn: Any = None
        self._tx_depth = 0

    # ---- construction ---------------------------------------------------------------

    @classmethod
    def from_uri(cls, uri: str, schema: str | None = None) -> Warehouse:
        """``duckdb:///abs/path.duckdb`` (or ``duckdb:///:memory:``) or ``postgresql://...``.

        For PostgreSQL, ``schema`` (or a ``?search_path=`` / ``?schema=`` query parameter)
        selects the schema the tables live in; it is created when missing.
        """
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme == "duckdb":
            path = unquote(parts.path)
            if parts.netloc:
                raise WarehouseError(
                    f"{uri}: write a DuckDB URI with three slashes and an absolute path, "
                    "e.g. duckdb:///abs/path/warehouse.duckdb"
                )
            if path in ("/:memory:", ""):
                path = ":memory:"
            else:
                # f"duckdb:///{abs_path}" gives four slashes; both spellings mean abs_path.
                path = "/" + path.lstrip("/")
            return cls("duckdb", path=path, display=uri)
        if scheme in ("postgres", "postgresql"):
            query = dict(parse_qsl(parts.query))
            schema = schema or query.pop("search_path", None) or query.pop("schema", None)
            kwargs: dict[str, Any] = {
                "host": parts.hostname or None,
                "port": parts.port,
                "user": unquote(parts.username) if parts.username else None,
                "password": unquote(parts.password) if parts.password else None,
                "dbname": unquote(parts.path.lstrip("/")) or None,
                **query,
            }
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            return cls("postgres", pg_kwargs=kwargs, schema=schema, display=mask_uri(uri))
        raise WarehouseError(
            f"unsupported warehouse URI {mask_uri(uri)!r}: use duckdb:///abs/path.duckdb "
            "or postgresql://user:password@host:5432/dbname"
        )

    @classmethod
    def from_conn_id(
        cls, conn_id: str = "warehouse_default", schema: str | None = None
    ) -> Warehouse:
        """The warehouse named by an Airflow connection (conn type ``duckdb`` or ``postgres``).

        The connection is read through Airflow's own API (``AIRFLOW_CONN_<ID>`` as URI or
        JSON, a secrets backend or the metadata DB), never parsed here: that is how Airflow's
        secret masker learns the password and every extra value (``?password=`` in a URI
        lands in the extra) and hides them in task logs.
        """
        from airflow.sdk import BaseHook  # heavy import, only when really needed

        try:
            conn = BaseHook.get_connection(conn_id)
        except Exception as exc:  # not found, unreadable JSON/URI, backend down: all fatal
            # The exception text may quote the connection (and its password): not shown.
            raise WarehouseError(
                f"cannot read the Airflow connection {conn_id!r} ({type(exc).__name__}): "
                f"create it in the UI or set AIRFLOW_CONN_{conn_id.upper()} to "
                "duckdb:///abs/path.duckdb or postgresql://user:password@host:5432/db"
            ) from None
        return cls.from_connection(conn, schema=schema)

    @classmethod
    def from_connection(cls, conn: Any, schema: str | None = None) -> Warehouse:
        """The warehouse of an Airflow ``Connection`` object (see :meth:`from_conn_id`)."""
        return cls._from_fields(
            conn.conn_id or "",
            conn.conn_type or "",
            conn.host,
            conn.port,
            conn.login,
            conn.password,
            conn.schema,
            conn.extra_dejson,
            schema,
        )

    @classmethod
    def _from_fields(
        cls,
        conn_id: str,
        conn_type: str,
        host: str | None,
        port: int | None,
        login: str | None,
        password: str | None,
        db: str | None,
        extra: Mapping[str, Any],
        schema: str | None,
    ) -> Warehouse:
        kind = conn_type.lower().replace("-", "_")
        if kind == "duckdb":
            # Airflow keeps a URI's path without its leading slash in ``schema``; the
            # contract says the path is absolute, so the slash is put back.
            path = extra.get("path") or db or ""
            if host and not extra.get("path"):
                path = f"{host}/{path}"
            if path != ":memory:" and not path.startswith("/"):
                path = "/" + path
            return cls("duckdb", path=path, display=f"duckdb:///{path.lstrip('/')}")
        if kind in ("postgres", "postgresql"):
            extra = dict(extra)
            schema = schema or extra.pop("search_path", None) or extra.pop("schema", None)
            kwargs = {
                "host": host or None,
                "port": int(port) if port else None,
                "user": login or None,
                "password": password or None,
                "dbname": db or None,
                **{k: v for k, v in extra.items() if isinstance(v, str | int)},
            }
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            user = quote(login or "")
            secret = password or any(_SECRET_KEY.search(k) for k in extra)
            display = f"postgresql://{user}{':***' if secret else ''}@{host or ''}"
            display += f"{':' + str(port) if port else ''}/{db or ''}"
            return cls("postgres", pg_kwargs=kwargs, schema=schema, display=display)
        raise WarehouseError(
            f"connection {conn_id!r} has conn type {conn_type!r}: use 'duckdb' "
            "(duckdb:///abs/path.duckdb) or 'postgres' (postgresql://user:pw@host:5432/db)"
        )

    def __repr__(self) -> str:
        extra = f", schema={self.schema!r}" if self.schema else ""
        return f"Warehouse({self._display!r}{extra})"

    def _masked(self, text: str) -> str:
        """``text`` with every secret of the connection (plain or URL-encoded) as ``***``."""
        for key, value in self._pg_kwargs.items():
            if _SECRET_KEY.search(key) and value:
                for form in {str(value), quote(str(value), safe="")}:
                    text = text.replace(form, "***")
        return text

    # ---- connection -----------------------------------------------------------------

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
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> Any:
        if self.backend == "duckdb":
            import duckdb

            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            deadline = time.monotonic() + _DUCKDB_LOCK_WAIT_S
            while True:
                try:
                    con = duckdb.connect(self.path)
                    break
                except duckdb.IOException as exc:
                    # DuckDB allows one writing process per file; parallel Airflow tasks
                    # queue here instead of failing.
                    if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                        raise WarehouseError(f"cannot open {self!r}: {exc}") from None
                    time.sleep(0.5)
            con.execute("set TimeZone = 'UTC'")
            return con
        import psycopg

        try:
            kwargs = {"connect_timeout": 10, **self._pg_kwargs, "autocommit": True}
            con = psycopg.connect(**kwargs)
        except psycopg.Error as exc:
            raise WarehouseError(f"cannot connect to {self!r}: {self._masked(str(exc))}") from None
        con.execute("set timezone to 'UTC'")
        if self.schema:
            con.execute(f"create schema if not exists {self.schema}")
            con.execute(f"set search_path to {self.schema}")
        return con

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._tx_depth = 0

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transactions ---------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Warehouse]:
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
        return [tuple(_from_db(v) for v in row) for row in cur.fetchall()]

    def query_df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """A query's result as a DataFrame with the same Python types on both backends.

        Dates come back as ``datetime.date``, timestamps as naive UTC ``datetime``,
        numerics as ``float``/``int`` (never ``Decimal``).
        """
        cur = self._cursor_execute(sql, params)
        columns = [d[0] for d in cur.description]
        rows = [tuple(_from_db(v) for v in row) for row in cur.fetchall()]
        return pd.DataFrame.from_records(rows, columns=columns)

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

    # ---- bulk writes ----------------------------------------------------------------

    def _insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        cols = list(frame.columns)
        col_list = ", ".join(cols)
        if self.backend == "duckdb":
            name = f"_bsin_frame_{id(frame)}"
            self.conn.register(name, frame)
            try:
                # Scanning the registered frame is one vectorised insert; the cast to the
                # target types happens inside DuckDB.
                self.conn.execute(f"insert into {table} ({col_list}) select {col_list} from {name}")  # noqa: S608 (identifiers checked)
            finally:
                # After a failed insert DuckDB refuses further calls until rollback; the
                # view vanishes with the rollback, and the insert's own error is the one
                # worth reporting.
                try:
                    self.conn.unregister(name)
                except Exception:
                    log.debug("unregister %s after a failed insert", name)
            return
        with self.conn.cursor() as cur:
            with cur.copy(f"copy {table} ({col_list}) from stdin") as copy:
                for row in frame.itertuples(index=False, name=None):
                    copy.write_row(row)

    def column_types(self, table: str) -> dict[str, str]:
        """``{column: SQL type}`` of ``table`` as the backend names the types."""
        _check_ident(table, "table")
        rows = self.query(
            "select column_name, data_type from information_schema.columns "
            "where table_name = :t and table_schema = current_schema() "
            "and table_catalog = current_database() "
            "order by ordinal_position",
            {"t": table},
        )
        return dict(rows)

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
        frame = _prepare_frame(df, name, known)
        defs = ", ".join(f"{c} {known.get(c) or _infer_sql_type(frame[c])}" for c in frame.columns)
        if not defs:
            raise WarehouseError(f"replace_staging({name}): the DataFrame has no columns")
        with self.transaction():
            # Qualified so that a permanent table of the same name is never dropped.
            temp = "temp" if self.backend == "duckdb" else "pg_temp"
            self.execute(f"drop table if exists {temp}.{name}")
            self.execute(f"create temporary table {name} ({defs})")
            try:
                self._insert_frame(name, frame)
            except Exception as exc:
                raise WarehouseError(f"loading staging table {name} failed: {exc}") from exc
        return len(frame)

    def insert(self, table: str, df: pd.DataFrame) -> int:
        """Append ``df``'s rows to ``table`` (columns by name); return the row count."""
        _check_ident(table, "table")
        types = self.column_types(table)
        frame = _prepare_frame(df, table, types)
        self._check_columns(table, list(frame.columns), types)
        try:
            self._insert_frame(table, frame)
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(f"insert into {table} failed: {exc}") from exc
        return len(frame)

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
        frame = _prepare_frame(df, table, types)
        cond = " and ".join(f"{k} = :{k}" for k in keys)
        with self.transaction():
            self._check_columns(table, list(frame.columns), types)
            for key in frame[keys].itertuples(index=False, name=None):
                self.execute(
                    f"delete from {table} where {cond}",  # noqa: S608 (identifiers checked)
                    dict(zip(keys, key, strict=True)),
                )
            self._insert_frame(table, frame)
        return len(frame)

    # ---- schema ---------------------------------------------------------------------

    def migrate(self, schema_dir: str | Path | None = None) -> list[str]:
        """Apply ``include/sql/schema/*.sql`` in name order; return the files applied now.

        Every file is idempotent DDL; ``schema_migration`` records each applied file with
        its checksum. A file whose text changed after it was applied is an error: schema
        changes go into a new, later file.
        """
        folder = Path(schema_dir) if schema_dir else SQL_DIR / "schema"
        files = sorted(folder.glob("*.sql"))
        if not files:
            raise WarehouseError(f"no schema files in {folder}")
        applied_now: list[str] = []
        with self.transaction():
            self.execute(
                "create table if not exists schema_migration ("
                " filename text not null primary key,"
                " checksum text not null,"
                " applied_at timestamp not null)"
            )
            done = dict(self.query("select filename, checksum from schema_migration"))
            for f in files:
                digest = hashlib.sha256(f.read_bytes()).hexdigest()
                if f.name in done:
                    if done[f.name] != digest:
                        raise WarehouseError(
                            f"schema file {f.name} changed after it was applied to {self!r}: "
                            "put schema changes in a new, later file (or rebuild a development "
                            "warehouse from scratch)"
                        )
                    continue
                self.run_sql_file(f)
                self.execute(
                    "insert into schema_migration (filename, checksum, applied_at) "
                    "values (:f, :c, :t)",
                    {"f": f.name, "c": digest, "t": datetime.now(UTC).replace(tzinfo=None)},
                )
                applied_now.append(f.name)
        if applied_now:
            log.info("%r: applied schema files %s", self, applied_now)
        return applied_now


def _short(sql: str, limit: int = 300) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[:limit] + " ..."


def month_param(month: date | str) -> date:
    """Accept a ``date`` or ``YYYY-MM[-DD]`` text and return the month's 1st."""
    if isinstance(month, datetime):
        month = month.date()
    if isinstance(month, date):
        return date(month.year, month.month, 1)
    from bsin.core.months import parse_month

    return parse_month(month)
