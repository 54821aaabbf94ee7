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


# table -> (its key, an integer column computed from that key alone): rows sharing the key
# share the digest, so the check can find them by one integer column instead of the key's
# text columns. raw_response.response_key is bsin.ingest.reconcile.response_key(response_id),
# the column the landing already finds landed rows by (docs/performance.md, seventh run).
KEY_DIGESTS: dict[str, tuple[tuple[str, ...], str]] = {
    "raw_response": (("form_id", "response_id"), "response_key"),
}


def duplicate_keys_sql(
    table: str,
    key: Sequence[str],
    scope: str,
    scope_cols: Sequence[str],
    digest: str | None = None,
) -> str:
    """The rows of ``key`` that ``table`` holds more than once, among those whose
    ``scope_cols`` values appear in table ``scope`` (the rows a write just touched).

    Each result row is the key's values and ``copies``. Scoping makes a duplicate this
    write's own finding and keeps the grouping small; the table's key columns are still
    scanned, so the cost grows with the table, though far less than the index writes
    it replaces (docs/performance.md, "Fifth full run").
    With ``digest`` (a column of both, from ``KEY_DIGESTS``) the rows are found by it
    instead, together with every row whose digest is missing; the caller uses it only when
    no ``scope`` row lacks its digest, so a NULL digest never hides a duplicate.
    Identifiers must already be checked by the caller.
    """
    cols = ", ".join(f"t.{c}" for c in key)
    tail = f" group by {cols} having count(*) > 1 order by {cols} limit 3"
    if digest is not None:
        # Two plain scans, not one filter with OR: DuckDB turns "in (...) or ..." into a
        # nested-loop join over the whole table, three times slower than the text key.
        keys = ", ".join(key)
        return (
            f"select {cols}, count(*) as copies from ("  # noqa: S608 (checked identifiers)
            f"select {keys} from {table} where {digest} in (select {digest} from {scope})"
            f" union all select {keys} from {table} where {digest} is null) as t" + tail
        )
    on = " and ".join(f"s.{c} = t.{c}" for c in scope_cols)
    return (
        f"select {cols}, count(*) as copies"  # noqa: S608 (identifiers checked by the caller)
        f" from {table} as t"
        f" join (select distinct {', '.join(scope_cols)} from {scope}) as s on {on}" + tail
    )
