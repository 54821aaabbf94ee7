"""How the warehouse is reached: an Airflow connection, opened through the providers' SQL hooks.

The connection is always an Airflow ``Connection``: read by id through Airflow's connection
API (``AIRFLOW_CONN_<ID>`` as URI or JSON, a secrets backend or the metadata DB), or parsed
from a URI by Airflow's own parser (``Connection.from_uri``) for tools and tests. Either way
Airflow's secret masker learns the password and the secret extras and hides them in logs;
nothing here parses a connection URI by hand.

Opening it is the providers' job: ``DuckDBHook`` (apache-airflow-providers-duckdb) and
``PostgresHook`` (apache-airflow-providers-postgres, psycopg 3) build the DB-API connection
from the connection's fields and extra. This module adds only the project's conventions:

* DuckDB: the file path is the URI's path (``duckdb:///abs/path.duckdb``, which Airflow keeps
  in ``schema`` without its leading slash) or the host field (the DuckDB provider's form) or
  the extra ``path``/``database``; a locked file is waited for (one writer per file); the
  session runs in UTC.
* PostgreSQL: extra ``search_path`` (or ``schema``) selects the schema the tables live in,
  created when missing; a 10 s connect timeout unless the extra sets one; autocommit (the
  ``Warehouse`` opens its own transactions); the session runs in UTC.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from bsin.warehouse.errors import WarehouseError, check_ident

log = logging.getLogger(__name__)

EXAMPLES = "duckdb:///abs/path.duckdb or postgresql://user:password@host:5432/dbname"
_DUCKDB_LOCK_WAIT_S = 60.0
_PG_CONNECT_TIMEOUT_S = 10
# Extra keys the project reads itself; the driver must not see them (libpq rejects them).
_PROJECT_EXTRA = ("search_path", "schema")

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


@dataclass(frozen=True)
class WarehouseConnection:
    """An Airflow connection to the warehouse, with the project's reading of it.

    Build one with :meth:`from_uri`, :meth:`from_conn_id` or :meth:`from_connection`.
    """

    conn: Any  # airflow.sdk.Connection
    backend: str  # duckdb | postgres
    path: str | None = None  # DuckDB file (absolute) or ":memory:"
    schema: str | None = None  # PostgreSQL schema of the tables (None: the server's default)

    # ---- construction ---------------------------------------------------------------

    @classmethod
    def from_uri(cls, uri: str, schema: str | None = None) -> WarehouseConnection:
        """``duckdb:///abs/path.duckdb`` (or ``duckdb:///:memory:``) or ``postgresql://...``.

        Parsed by Airflow's ``Connection.from_uri``; for PostgreSQL ``schema`` (or a
        ``?search_path=`` / ``?schema=`` query parameter) selects the schema.
        """
        from airflow.sdk import Connection

        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme == "duckdb" and parts.netloc:
            raise WarehouseError(
                f"{uri}: write a DuckDB URI with three slashes and an absolute path, "
                "e.g. duckdb:///abs/path/warehouse.duckdb"
            )
        if scheme not in ("duckdb", "postgres", "postgresql"):
            raise WarehouseError(f"unsupported warehouse URI {mask_uri(uri)!r}: use {EXAMPLES}")
        try:
            conn = Connection.from_uri(uri, conn_id="warehouse_uri")
        except Exception as exc:  # the parser's message may quote the URI, password included
            raise WarehouseError(
                f"cannot parse the warehouse URI {mask_uri(uri)!r} ({type(exc).__name__}): "
                f"use {EXAMPLES}"
            ) from None
        if conn.password:
            # Reading a connection through Airflow's API registers its password with the
            # masker (its extra's secrets are registered by extra_dejson); a URI handed to a
            # tool never passes that API, so the password is registered here.
            from airflow.sdk.log import mask_secret

            mask_secret(conn.password)
        return cls.from_connection(conn, schema)

    @classmethod
    def from_conn_id(cls, conn_id: str, schema: str | None = None) -> WarehouseConnection:
        """The warehouse named by an Airflow connection (conn type ``duckdb`` or ``postgres``)."""
        from airflow.sdk import BaseHook  # heavy import, only when really needed

        try:
            conn = BaseHook.get_connection(conn_id)
        except Exception as exc:  # not found, unreadable JSON/URI, backend down: all fatal
            # The exception text may quote the connection (and its password): not shown.
            raise WarehouseError(
                f"cannot read the Airflow connection {conn_id!r} ({type(exc).__name__}): "
                f"create it in the UI or set AIRFLOW_CONN_{conn_id.upper()} to {EXAMPLES}"
            ) from None
        return cls.from_connection(conn, schema)

    @classmethod
    def from_connection(cls, conn: Any, schema: str | None = None) -> WarehouseConnection:
        """The warehouse of an Airflow ``Connection`` object."""
        kind = (conn.conn_type or "").lower().replace("-", "_")
        extra = conn.extra_dejson or {}
        if kind == "duckdb":
            return cls(conn, "duckdb", path=_duckdb_path(conn, extra))
        if kind in ("postgres", "postgresql"):
            schema = schema or extra.get("search_path") or extra.get("schema")
            return cls(conn, "postgres", schema=check_ident(schema, "schema") if schema else None)
        raise WarehouseError(
            f"connection {conn.conn_id!r} has conn type {conn.conn_type!r}: use 'duckdb' "
            "(duckdb:///abs/path.duckdb) or 'postgres' (postgresql://user:pw@host:5432/db)"
        )

    # ---- what it is -----------------------------------------------------------------

    @property
    def display(self) -> str:
        """The connection as a URI without its secrets, for messages and logs."""
        if self.backend == "duckdb":
            return f"duckdb:///{(self.path or '').lstrip('/')}"
        c = self.conn
        secret = c.password or any(_SECRET_KEY.search(k) for k in c.extra_dejson or {})
        port = f":{c.port}" if c.port else ""
        user = quote(c.login or "")
        return (
            f"postgresql://{user}{':***' if secret else ''}@{c.host or ''}{port}/{c.schema or ''}"
        )

    @property
    def pg_kwargs(self) -> dict[str, Any]:
        """libpq keywords of a PostgreSQL connection (host, port, user, password, dbname, extras)."""
        c = self.conn
        kwargs = {
            "host": c.host or None,
            "port": int(c.port) if c.port else None,
            "user": c.login or None,
            "password": c.password or None,
            "dbname": c.schema or None,
            **_driver_extra(c.extra_dejson or {}),
        }
        return {k: v for k, v in kwargs.items() if v is not None}

    def masked(self, text: str) -> str:
        """``text`` with every secret of the connection (plain or URL-encoded) as ``***``."""
        for key, value in self.pg_kwargs.items() if self.backend == "postgres" else ():
            if _SECRET_KEY.search(key) and value:
                for form in {str(value), quote(str(value), safe="")}:
                    text = text.replace(form, "***")
        return text

    # ---- opening --------------------------------------------------------------------

    def hook(self) -> Any:
        """The provider's SQL hook (a ``DbApiHook``) on this connection."""
        if self.backend == "duckdb":
            # Imported on first use: the provider pulls in DuckDB and the common SQL provider.
            from bsin.warehouse.duckdb_hook import WarehouseDuckDBHook

            return WarehouseDuckDBHook(
                duckdb_conn_id=self.conn.conn_id, database=self.path, connection=self.conn
            )
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        c = self.conn
        extra = {"connect_timeout": _PG_CONNECT_TIMEOUT_S, **_driver_extra(c.extra_dejson or {})}
        driver_conn = type(c)(
            conn_id=c.conn_id,
            conn_type="postgres",
            host=c.host,
            port=c.port,
            login=c.login,
            password=c.password,
            schema=c.schema,
            extra=json.dumps(extra),
        )
        return PostgresHook(postgres_conn_id=c.conn_id, connection=driver_conn)

    def connect(self, schema: str | None = None) -> Any:
        """A new DB-API connection from :meth:`hook`, in the project's session settings.

        PostgreSQL: ``schema`` (the session's; default none) is created when missing and
        becomes the search path.
        """
        if self.backend == "duckdb":
            return self._connect_duckdb()
        from airflow.providers.postgres.hooks import postgres

        if not postgres.USE_PSYCOPG3:
            raise WarehouseError(
                "the postgres provider is not using psycopg 3 (needs SQLAlchemy 2 and psycopg "
                "installed); install the pinned requirements.txt"
            )
        hook = self.hook()
        try:
            con = hook.get_conn()
        except Exception as exc:  # psycopg.Error, or a bad option in the extra
            raise WarehouseError(
                f"cannot connect to {self.display}: {self.masked(str(exc))}"
            ) from None
        hook.set_autocommit(con, True)
        con.execute("set timezone to 'UTC'")
        if schema:
            schema = check_ident(schema, "schema")
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"set search_path to {schema}")
        return con

    def _connect_duckdb(self) -> Any:
        import duckdb

        memory_limit = duckdb_memory_limit()  # a bad setting fails before the file opens
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        hook = self.hook()
        deadline = time.monotonic() + _DUCKDB_LOCK_WAIT_S
        while True:
            try:
                con = hook.get_conn()
                break
            except duckdb.IOException as exc:
                # DuckDB allows one writing process per file; parallel Airflow tasks
                # queue here instead of failing.
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise WarehouseError(f"cannot open {self.display}: {exc}") from None
                time.sleep(0.5)
            except duckdb.ResourceInUseException as exc:
                # Another DuckDB instance of this process holds the file (dbt's, or one
                # closed but not yet collected): release them and try again.
                if "file handle conflict" not in str(exc).lower() or time.monotonic() > deadline:
                    raise WarehouseError(f"cannot open {self.display}: {exc}") from None
                from bsin.warehouse.duckdb_hook import release_instances_of_this_process

                release_instances_of_this_process()
                time.sleep(0.05)
            except (duckdb.Error, ValueError) as exc:
                raise WarehouseError(f"cannot open {self.display}: {exc}") from None
        con.execute("set TimeZone = 'UTC'")
        # DuckDB's buffer pool may grow to 80 % of RAM and keeps what it read: over a
        # growing warehouse a long-lived connection then holds gigabytes. A bound keeps a
        # task within its memory budget (issue 14, docs/performance.md); joins and sorts
        # past it spill to DuckDB's temp directory.
        con.execute(f"set memory_limit = '{memory_limit}'")
        return con


#: DuckDB buffer pool bound; ``BSIN_DUCKDB_MEMORY_LIMIT`` (DuckDB's syntax, e.g. ``1GB``)
#: overrides it. The pipeline's imports take ~390 MB of a task's 1 GiB (issue 14, goal 3);
#: 256 MB ran the benchmark's 40-country network as fast as 384 MB did.
DUCKDB_MEMORY_LIMIT = "256MB"
_MEMORY_LIMIT = re.compile(r"^\s*[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.I)


def duckdb_memory_limit() -> str:
    """The DuckDB ``memory_limit`` every connection sets (WarehouseError when malformed)."""
    value = os.environ.get("BSIN_DUCKDB_MEMORY_LIMIT") or DUCKDB_MEMORY_LIMIT
    if not _MEMORY_LIMIT.match(value):
        raise WarehouseError(
            f"BSIN_DUCKDB_MEMORY_LIMIT={value!r} is not a size: write it like 512MB or 2GB"
        )
    return value.strip()


def _duckdb_path(conn: Any, extra: dict[str, Any]) -> str:
    """The DuckDB file of a connection, absolute (or ``:memory:``)."""
    path = str(extra.get("path") or extra.get("database") or "")
    if not path:
        host, db = conn.host or "", conn.schema or ""
        # URI form: the path is in schema (Airflow drops its leading slash); the DuckDB
        # provider's form puts it in host.
        path = f"{host}/{db}" if host and db else (host or db)
    if not path:
        raise WarehouseError(
            f"connection {conn.conn_id!r} names no DuckDB file: write duckdb:///abs/path.duckdb "
            "(or put the path in the connection's host field)"
        )
    if path == ":memory:":
        return path
    return "/" + path.lstrip("/")


def _driver_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """The extra's libpq options: plain values only, without the project's own keys."""
    return {
        k: v
        for k, v in extra.items()
        if k not in _PROJECT_EXTRA and isinstance(v, str | int) and not isinstance(v, bool)
    }
