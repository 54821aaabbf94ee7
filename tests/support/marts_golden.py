"""Golden copies of every mart table, taken with the hand-written SQL runner before the
marts moved to dbt (issue 12), so that a test can prove the dbt models give the same rows
and column types on both backends.

The fixture is one CSV per table and backend under ``tests/support/golden/marts/<backend>/``: a
``# column type`` header, then every row sorted, floats written with ``repr`` (the shortest
text that round-trips the exact double), so any difference in any bit shows up as a diff.

Regenerate (only after a deliberate change of a model's results; it builds with dbt now)::

    .venv/bin/python -m tests.support.marts_golden
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent / "golden" / "marts"
# The data sets the fixture is built from: (name, seed of warehouse_data.generated).
DATASETS: tuple[tuple[str, int], ...] = (("seed7", 7), ("seed11", 11))
GOLDEN_TABLES: tuple[str, ...] = (
    "int_monthly_counts",
    "indicators_monthly",
    "indicator_value",
    "stakeholder_access_monthly",
    "need_coverage_status",
    "capability_growth",
)

# The backends name the same SQL types differently; the fixture records the portable name.
_TYPE_NAMES = {
    "varchar": "text",
    "character varying": "text",
    "text": "text",
    "integer": "integer",
    "int4": "integer",
    "double": "double precision",
    "double precision": "double precision",
    "float8": "double precision",
    "date": "date",
    "boolean": "boolean",
}


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "<null>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def dump_table(wh, table: str) -> str:
    """``table`` as golden CSV text: a type header, then the sorted rows."""
    types = wh.column_types(table)
    if not types:
        raise AssertionError(f"table {table} does not exist in {wh!r}")
    header = [f"{c} {_TYPE_NAMES.get(t.lower(), t.lower())}" for c, t in types.items()]
    rows = [
        [_cell(v) for v in row]
        for row in wh.query(f"select * from {table}")  # noqa: S608 (test-owned names)
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["# " + header[0], *header[1:]])
    writer.writerows(sorted(rows))
    return out.getvalue()


def golden_path(backend: str, dataset: str, table: str) -> Path:
    """Where the golden CSV of ``table`` built from ``dataset`` on ``backend`` lives."""
    return GOLDEN_DIR / backend / dataset / f"{table}.csv"


def _write_all() -> None:  # pragma: no cover - run by hand, see the module docstring
    import tempfile

    from bsin.warehouse.db import Warehouse
    from bsin.warehouse.dbt_project import build_marts as build
    from tests.conftest import _drop_pg_schema, _pg_warehouse
    from tests.support import warehouse_data as wd

    with tempfile.TemporaryDirectory() as tmp:
        for name, seed in DATASETS:
            duck = Warehouse.from_uri(f"duckdb:///{tmp}/{name}.duckdb")
            pg = _pg_warehouse()
            try:
                for backend, wh in (("duckdb", duck), ("postgres", pg)):
                    wh.migrate()
                    wd.load(wh, wd.generated(seed=seed))
                    build(wh)
                    for table in GOLDEN_TABLES:
                        path = golden_path(backend, name, table)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(dump_table(wh, table), encoding="utf-8")
            finally:
                duck.close()
                _drop_pg_schema(pg)


if __name__ == "__main__":  # pragma: no cover
    _write_all()
