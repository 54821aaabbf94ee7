"""The keys DuckDB holds without an index, and the set-based check that stands in for it.

DuckDB keeps a PRIMARY KEY or UNIQUE constraint as an ART index and writes that index
whole at every checkpoint that touches its table (duckdb/duckdb#24848), and every
Airflow task checkpoints when it closes its connection. The four tables below gain a
month of rows every month and reach about a million rows at the benchmark's size, so
with their indexes the month's load grew with the warehouse (docs/performance.md).

On DuckDB they carry no constraint (migration ``018_unindexed_keys.duckdb.sql``): every
write that adds rows to them checks, inside its own transaction, that the keys of the
rows it touched are still unique (``Warehouse.check_unique_keys``), so a duplicate rolls
the write back as the constraint would have. PostgreSQL keeps the constraints (its
B-tree indexes change in place); ``tests/integration/test_unindexed_keys.py`` holds this
list equal to them.
"""

from __future__ import annotations

from collections.abc import Sequence

# table -> its keys (primary key first), as PostgreSQL declares them.
UNINDEXED_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "raw_response": (("form_id", "response_id"),),
    "feedback_candidate": (("country", "response_id"),),
    "feedback": (("country", "feedback_month", "member_id"), ("country", "response_id")),
    "feedback_selection": (("country", "feedback_month", "member_id", "field", "value"),),
}


def duplicate_keys_sql(
    table: str, key: Sequence[str], scope: str, scope_cols: Sequence[str]
) -> str:
    """The rows of ``key`` that ``table`` holds more than once, among those whose
    ``scope_cols`` values appear in table ``scope`` (the rows a write just touched).

    Each result row is the key's values and ``copies``. Scoping makes a duplicate this
    write's own finding and keeps the grouping small; the table's key columns are still
    scanned, so the cost grows with the table, though far less than the index writes
    it replaces (docs/performance.md, "Fifth full run").
    Identifiers must already be checked by the caller.
    """
    cols = ", ".join(f"t.{c}" for c in key)
    on = " and ".join(f"s.{c} = t.{c}" for c in scope_cols)
    return (
        f"select {cols}, count(*) as copies"  # noqa: S608 (identifiers checked by the caller)
        f" from {table} as t"
        f" join (select distinct {', '.join(scope_cols)} from {scope}) as s on {on}"
        f" group by {cols} having count(*) > 1"
        f" order by {cols} limit 3"
    )
