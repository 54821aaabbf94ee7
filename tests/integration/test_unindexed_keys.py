"""The keys the code checks on DuckDB instead of an index (bsin.warehouse.keys).

DuckDB holds raw_response, feedback_candidate, feedback and feedback_selection without
their PRIMARY KEY / UNIQUE constraints (migration 018): their ART indexes were written
whole at every checkpoint. These tests hold the checked keys equal to PostgreSQL's
constraints and show that every write path refuses a duplicate on both backends, leaving
the table as it was.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from bsin.warehouse.db import Warehouse, WarehouseError
from bsin.warehouse.keys import UNINDEXED_KEYS
from tests.conftest import open_warehouse, schema_before, schema_from

MARCH = date(2023, 3, 1)


def _feedback(country: str, response_id: str, member: str, month: date = MARCH) -> dict:
    return {
        "country": country,
        "feedback_month": month,
        "member_id": member,
        "response_id": response_id,
        "submitted_at": datetime(2023, 3, 28, 10, 0),
        "satisfaction": 4,
    }


def _raw(form_id: str, response_id: str, minute: int = 0) -> dict:
    return {
        "form_id": form_id,
        "response_id": response_id,
        "country": "XK",
        "form_kind": "monthly",
        "report_month": MARCH,
        "last_submitted_time": datetime(2023, 3, 28, 10, minute),
        "create_time": None,
        "payload": '{"answers": {}}',
        "response_key": None,
    }


@pytest.mark.postgres
def test_checked_keys_are_postgres_constraints(tmp_path):
    """One definition: the keys checked on DuckDB are PostgreSQL's constraints, in order."""
    with open_warehouse("postgres", tmp_path) as wh:
        for table, keys in UNINDEXED_KEYS.items():
            rows = wh.query(
                "select tc.constraint_type, tc.constraint_name, k.column_name"
                "  from information_schema.table_constraints as tc"
                "  join information_schema.key_column_usage as k"
                "    on k.constraint_name = tc.constraint_name"
                "   and k.table_schema = tc.table_schema"
                " where tc.table_name = :t and tc.table_schema = current_schema()"
                "   and tc.constraint_type in ('PRIMARY KEY', 'UNIQUE')"
                " order by tc.constraint_type, tc.constraint_name, k.ordinal_position",
                {"t": table},
            )
            declared: dict[tuple[str, str], list[str]] = {}
            for kind, name, column in rows:
                declared.setdefault((kind, name), []).append(column)
            found = [tuple(cols) for cols in declared.values()]  # PRIMARY KEY sorts first
            assert found == list(keys), table


def test_duckdb_holds_the_growing_tables_without_an_index(tmp_path):
    with open_warehouse("duckdb", tmp_path) as wh:
        for table in UNINDEXED_KEYS:
            constraints = wh.query(
                "select constraint_type from duckdb_constraints()"
                " where table_name = :t and constraint_type in ('PRIMARY KEY', 'UNIQUE')",
                {"t": table},
            )
            assert constraints == [], table
            assert (
                wh.query("select * from duckdb_indexes() where table_name = :t", {"t": table}) == []
            )
        # The small tables keep theirs: only what grows every month pays at checkpoints.
        assert wh.query(
            "select count(*) from duckdb_constraints()"
            " where table_name = 'quarantine' and constraint_type = 'PRIMARY KEY'"
        ) == [(1,)]


@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_every_write_path_refuses_a_duplicate_key_and_keeps_the_table(tmp_path, backend):
    with open_warehouse(backend, tmp_path) as wh:
        first = pd.DataFrame([_feedback("XK", "R1", "m1"), _feedback("XK", "R2", "m2")])
        wh.insert("feedback", first)
        before = sorted(wh.query("select * from feedback"))

        # insert: the same member and month again (primary key) ...
        with pytest.raises(WarehouseError):
            wh.insert("feedback", pd.DataFrame([_feedback("XK", "R3", "m1")]))
        # ... and the same response id in the country under another member (unique key).
        with pytest.raises(WarehouseError):
            wh.insert("feedback", pd.DataFrame([_feedback("XK", "R2", "m9")]))
        # replace: the frame itself repeats a key; the delete before it is rolled back too.
        twice = pd.DataFrame([_feedback("XK", "R5", "m5"), _feedback("XK", "R6", "m5")])
        with pytest.raises(WarehouseError):
            wh.replace("feedback", {"country": "XK"}, twice)
        # upsert: one row per primary key, but its response id is another member's.
        with pytest.raises(WarehouseError):
            wh.upsert(
                "feedback",
                ["country", "feedback_month", "member_id"],
                pd.DataFrame([_feedback("XK", "R2", "m1")]),
            )
        assert sorted(wh.query("select * from feedback")) == before
        # Another country may use the same response id and member pseudonym.
        wh.insert("feedback", pd.DataFrame([_feedback("QZ", "R1", "m1")]))

        # Load SQL: a staging table that repeats a landed key, merged by SQL, is refused.
        wh.insert("raw_response", pd.DataFrame([_raw("f1", "A")]))
        raw_before = wh.query("select form_id, response_id from raw_response")
        wh.replace_staging("raw_response_incoming", pd.DataFrame([_raw("f1", "A", 5)]))
        with pytest.raises(WarehouseError) as err:
            with wh.transaction():
                wh.execute("insert into raw_response select * from raw_response_incoming")
                wh.check_unique_keys("raw_response", "raw_response_incoming")
        if backend == "duckdb":
            assert (
                "raw_response would hold a key twice: (form_id, response_id) = ('f1', 'A') 2 times"
                in str(err.value)
            )
        assert wh.query("select form_id, response_id from raw_response") == raw_before


def test_the_check_reads_only_the_touched_keys(tmp_path):
    """A duplicate elsewhere in the table (written around the check) is not this write's:
    the check scopes itself to the keys the write touched."""
    with open_warehouse("duckdb", tmp_path) as wh:
        wh.execute(
            "insert into feedback_selection values"
            " ('XK', '2023-03-01', 'm1', 'challenges', 'funding'),"
            " ('XK', '2023-03-01', 'm1', 'challenges', 'funding'),"
            " ('XK', '2023-03-01', 'm2', 'challenges', 'funding')"
        )
        wh.replace_staging(
            "feedback_selection_incoming",
            pd.DataFrame(
                [
                    {
                        "country": "XK",
                        "feedback_month": MARCH,
                        "member_id": "m2",
                        "field": "challenges",
                        "value": "funding",
                    }
                ]
            ),
        )
        wh.check_unique_keys("feedback_selection", "feedback_selection_incoming")
        wh.execute(
            "insert into feedback_selection values"
            " ('XK', '2023-03-01', 'm2', 'challenges', 'funding')"
        )
        with pytest.raises(
            WarehouseError,
            match=r"\('XK', datetime.date\(2023, 3, 1\), 'm2', 'challenges', 'funding'\) 2 times",
        ):
            wh.check_unique_keys("feedback_selection", "feedback_selection_incoming")
        # A staging table without any key column cannot scope the check: a clear error.
        wh.replace_staging("odd_incoming", pd.DataFrame([{"x": 1}]))
        with pytest.raises(WarehouseError, match="has none of the key columns"):
            wh.check_unique_keys("feedback", "odd_incoming")


def test_upgrade_to_018_keeps_every_row_and_the_checked_keys(tmp_path):
    before = schema_before(tmp_path, "duckdb", "018")
    with Warehouse.from_uri(f"duckdb:///{tmp_path / 'old.duckdb'}") as wh:
        wh.migrate(before)
        wh.insert("raw_response", pd.DataFrame([_raw("f1", "A"), _raw("f1", "B")]))
        wh.insert("feedback", pd.DataFrame([_feedback("XK", "R1", "m1")]))
        wh.execute(
            "insert into feedback_candidate (country, response_id, report_month, member_id)"
            " values ('XK', 'R1', '2023-03-01', 'm1')"
        )
        wh.execute(
            "insert into feedback_selection values"
            " ('XK', '2023-03-01', 'm1', 'challenges', 'funding')"
        )
        rows = {t: wh.query(f"select * from {t} order by all") for t in UNINDEXED_KEYS}  # noqa: S608
        types = {t: wh.column_types(t) for t in UNINDEXED_KEYS}
        applied = wh.migrate()
        assert applied[0] == "018_unindexed_keys.duckdb.sql"
        assert applied == schema_from("duckdb", "018")
        for t in UNINDEXED_KEYS:
            assert wh.query(f"select * from {t} order by all") == rows[t], t  # noqa: S608
            assert wh.column_types(t) == types[t], t
        (ddl,) = wh.query("select sql from duckdb_tables() where table_name = 'raw_response'")[0]
        assert "payload VARCHAR USING COMPRESSION ZSTD NOT NULL" in ddl
        with pytest.raises(WarehouseError, match="feedback would hold a key twice"):
            wh.insert("feedback", pd.DataFrame([_feedback("XK", "R1", "m2")]))


def test_the_landing_check_finds_duplicates_by_the_integer_response_key(tmp_path):
    """raw_response's check scopes itself by response_key (bsin.warehouse.keys.KEY_DIGESTS):
    a duplicate is still found when a landed copy has no key yet, and a staged row without
    one makes the check fall back to the text key."""
    from bsin.ingest.reconcile import response_key

    def raw(response_id: str, minute: int = 0, keyed: bool = True) -> dict:
        row = _raw("f1", response_id, minute)
        row["response_key"] = response_key(response_id) if keyed else None
        return row

    def frame(rows: list[dict]) -> pd.DataFrame:
        # Nullable integers: with a missing key pandas would make the column float and
        # round the 63-bit keys (the extract's frames always carry every key).
        keys = pd.array([r["response_key"] for r in rows], dtype="Int64")
        return pd.DataFrame(rows).assign(response_key=keys)

    with open_warehouse("duckdb", tmp_path) as wh:
        wh.insert("raw_response", frame([raw("A"), raw("B", keyed=False)]))
        for staged, digest in (
            ([raw("A", 5)], "response_key"),  # the landed copy has the same key
            ([raw("B", 5)], "response_key"),  # the landed copy has none: read anyway
            ([raw("A", 5, keyed=False)], None),  # no key staged: the text key scopes it
        ):
            wh.replace_staging("raw_response_incoming", frame(staged))
            have = set(frame(staged).columns)
            key = UNINDEXED_KEYS["raw_response"][0]
            assert wh._digest("raw_response", key, "raw_response_incoming", have) == digest
            before = sorted(wh.query("select form_id, response_id from raw_response"))
            with pytest.raises(WarehouseError, match=r"\('f1', '[AB]'\) 2 times"):
                with wh.transaction():
                    wh.execute("insert into raw_response select * from raw_response_incoming")
                    wh.check_unique_keys("raw_response", "raw_response_incoming")
            assert sorted(wh.query("select form_id, response_id from raw_response")) == before
        # A new response passes, by either path.
        for staged in ([raw("C")], [raw("D", keyed=False)]):
            wh.replace_staging("raw_response_incoming", frame(staged))
            with wh.transaction():
                wh.execute("insert into raw_response select * from raw_response_incoming")
                wh.check_unique_keys("raw_response", "raw_response_incoming")
        assert len(wh.query("select * from raw_response")) == 4
