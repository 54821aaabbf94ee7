"""Schema migrations: ``include/sql/schema/*.sql`` applied once each, in name order."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bsin.core.paths import SQL_DIR
from bsin.warehouse.errors import WarehouseError

if TYPE_CHECKING:
    from bsin.warehouse.db import Warehouse

log = logging.getLogger(__name__)


#: Backends a schema file may be limited to, as ``NNN_name.<backend>.sql``: DDL that one
#: engine has and the other lacks (DuckDB's column compression). Other files apply to both.
BACKENDS = ("duckdb", "postgres")


def file_backend(path: Path) -> str | None:
    """The backend a schema file is limited to, or None when it applies to both."""
    parts = path.name.split(".")
    return parts[-2] if len(parts) >= 3 and parts[-2] in BACKENDS else None


def schema_files(backend: str, schema_dir: str | Path | None = None) -> list[Path]:
    """The schema files that apply to ``backend``, in name (= application) order."""
    folder = Path(schema_dir) if schema_dir else SQL_DIR / "schema"
    return [f for f in sorted(folder.glob("*.sql")) if file_backend(f) in (None, backend)]


def migrate(wh: Warehouse, schema_dir: str | Path | None = None) -> list[str]:
    """Apply ``include/sql/schema/*.sql`` in name order; return the files applied now.

    Every file is idempotent DDL; ``schema_migration`` records each applied file with
    its checksum. A file whose text changed after it was applied is an error: schema
    changes go into a new, later file. A file named ``NNN_name.duckdb.sql`` (or
    ``.postgres.sql``) applies to that backend only.
    """
    folder = Path(schema_dir) if schema_dir else SQL_DIR / "schema"
    files = schema_files(wh.backend, folder)
    if not files:
        raise WarehouseError(f"no schema files in {folder}")
    applied_now: list[str] = []
    with wh.transaction():
        wh.execute(
            "create table if not exists schema_migration ("
            " filename text not null primary key,"
            " checksum text not null,"
            " applied_at timestamp not null)"
        )
        done = dict(wh.query("select filename, checksum from schema_migration"))
        for f in files:
            digest = hashlib.sha256(f.read_bytes()).hexdigest()
            if f.name in done:
                if done[f.name] != digest:
                    raise WarehouseError(
                        f"schema file {f.name} changed after it was applied to {wh!r}: "
                        "put schema changes in a new, later file (or rebuild a development "
                        "warehouse from scratch)"
                    )
                continue
            wh.run_sql_file(f)
            wh.execute(
                "insert into schema_migration (filename, checksum, applied_at) values (:f, :c, :t)",
                {"f": f.name, "c": digest, "t": datetime.now(UTC).replace(tzinfo=None)},
            )
            applied_now.append(f.name)
    if applied_now:
        log.info("%r: applied schema files %s", wh, applied_now)
    return applied_now
