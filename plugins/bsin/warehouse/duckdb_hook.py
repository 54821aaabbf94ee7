"""The DuckDB provider's hook, on a connection object instead of a connection id, opening
the warehouse file with small row groups."""

from __future__ import annotations

import gc
import hashlib
import sys
from pathlib import Path
from typing import Any

from airflow.providers.duckdb.hooks.duckdb import IN_MEMORY_DATABASE, DuckDBHook

#: Rows per DuckDB row group of the warehouse file (DuckDB's default is 122,880). A
#: checkpoint rewrites the whole partly filled last row group of every table it touches, so
#: with the default each extract's commit re-compressed up to 120,000 landed payloads; with
#: 16,384 at most that many (docs/performance.md, "Tenth full run"). Reads were as fast.
#: DuckDB does not keep the size in the file: it holds for the connections that attach it
#: so, which every warehouse connection does. dbt opens the file by path and writes only
#: the marts; its profile turns off DuckDB's vacuum, which would merge the small groups
#: (bsin.warehouse.dbt_project.profile_output).
ROW_GROUP_SIZE = 16_384

# Names DuckDB gives its own catalogs: a warehouse file stem may not take them.
_RESERVED_CATALOGS = frozenset({"memory", "system", "temp", "main"})

# DuckDB option -> the connection extra key that sets it (DuckDBHook's names).
_EXTENSION_POLICY = {
    "autoinstall_known_extensions": "autoinstall_extensions",
    "autoload_known_extensions": "autoload_extensions",
    "allow_community_extensions": "allow_community_extensions",
}


class WarehouseDuckDBHook(DuckDBHook):
    """``DuckDBHook`` on the connection object passed as ``connection=``.

    ``DuckDBHook`` looks its connection up by id and falls back to an in-memory database when
    the default one is missing; a warehouse built from a URI has no id to look up, and a
    warehouse must never fall back to memory. So the object given to ``DbApiHook``'s own
    ``connection=`` argument is the connection, and everything else (memory limit, threads,
    extensions and settings from the extra) is the provider's, except how a file opens
    (:meth:`get_conn`).
    """

    @property
    def airflow_connection(self) -> Any:
        """The connection this hook was built on."""
        return self.connection

    def get_connect_config(self) -> dict[str, Any]:
        """The provider's configuration without its extension-policy defaults.

        dbt-duckdb opens the same file in the same process (the marts task), and DuckDB
        refuses a second connection to an open file whose configuration differs. So only
        what the connection's extra sets explicitly is passed, and both share one instance.
        """
        config = super().get_connect_config()
        for option, extra_key in _EXTENSION_POLICY.items():
            if self.connection_extra.get(extra_key) is None:
                config.pop(option, None)
        return config

    def get_conn(self) -> Any:
        """A connection to the warehouse file, attached with ``ROW_GROUP_SIZE`` rows per group.

        The provider opens a file with ``duckdb.connect(path)``, which cannot set the row
        group size. So the file is attached, under its stem (the catalog name
        ``duckdb.connect`` gives it), to a named in-memory instance and made the default.
        DuckDB shares a named instance between the connections of a process, as it shares
        a file's: a second connection (the provider's ``get_first``, another task's
        session) reaches the same attached file instead of a second, conflicting copy. An
        in-memory warehouse opens as the provider opens it.
        """
        import duckdb

        database = self.get_database()
        if database == IN_MEMORY_DATABASE or database.startswith("md:"):
            return super().get_conn()
        alias = Path(database).stem
        if not alias or alias.lower() in _RESERVED_CATALOGS:
            raise ValueError(
                f"the warehouse file {database} is named like a DuckDB catalog ({alias!r}): "
                "rename it, e.g. warehouse.duckdb"
            )
        config = self.get_connect_config()
        # An in-memory instance would spill to ./.tmp; a file's own default is <file>.tmp.
        config.setdefault("temp_directory", f"{database}.tmp")
        # A read-only connection gets an instance of its own: while the process has the
        # file open for writing DuckDB refuses it, as it refuses duckdb.connect(read_only).
        mode = "-ro" if self.read_only else ""
        instance = f":memory:bsin-{hashlib.sha256(database.encode()).hexdigest()[:16]}{mode}"
        self.log.info("Opening DuckDB database %s", database)
        conn = duckdb.connect(instance, config=config)
        try:
            options = f"row_group_size {ROW_GROUP_SIZE}" + (", read_only" if mode else "")
            quoted_path = database.replace("'", "''")
            quoted_alias = alias.replace('"', '""')
            conn.execute(f"attach if not exists '{quoted_path}' as \"{quoted_alias}\" ({options})")
            attached = AttachedConnection(conn, f'use "{quoted_alias}"')
            self.load_extensions(conn)
            self.configure_secrets(conn)
        except Exception:
            conn.close()
            raise
        return attached


class AttachedConnection:
    """A DuckDB connection, and every cursor of it, in the attached warehouse's catalog.

    DuckDB's ``cursor()`` is a new connection to the same instance, and ``USE`` holds per
    connection: the provider's ``get_first``, ``run`` and ``get_df`` would otherwise look
    for the tables in the instance's empty in-memory catalog. Everything else is the
    wrapped ``DuckDBPyConnection``'s.
    """

    __slots__ = ("_conn", "_use")

    def __init__(self, conn: Any, use: str) -> None:
        conn.execute(use)
        self._conn = conn
        self._use = use

    def cursor(self) -> Any:
        """A new connection to the same instance, in the warehouse's catalog."""
        cur = self._conn.cursor()
        cur.execute(self._use)
        return cur

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __enter__(self) -> AttachedConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


def release_dbt_instance() -> None:
    """Close the DuckDB instance dbt-duckdb keeps for the process after an invocation.

    dbt-duckdb holds it in a class attribute for the next invocation; until then it kept
    the warehouse file locked against every other process (a task of another process
    could not open it), its buffer pool resident in this one, and the file attached, so
    that this process's own warehouse connection could not attach it. A no-op where dbt
    was never imported.
    """
    module = sys.modules.get("dbt.adapters.duckdb.connections")
    if module is None:
        return
    manager = module.DuckDBConnectionManager
    # No public handle on the instance; getattr so that a dbt-duckdb without the attribute
    # still builds (tests/integration/test_marts.py then shows the file locked again).
    env = getattr(manager, "_ENV", None)
    manager.close_all_connections()
    if env is not None:
        env.close()


def release_instances_of_this_process() -> None:
    """Let go of other DuckDB instances of this process that may hold the warehouse file.

    Cosmos runs dbt inside the task's process (and ``dag.test`` every task in one), and
    a closed DuckDB instance detaches its files only when its last Python reference is
    collected; until then attaching the file again fails with "Unique file handle
    conflict".
    """
    release_dbt_instance()
    gc.collect()
