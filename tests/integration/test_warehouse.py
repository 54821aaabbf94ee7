"""The Warehouse class on DuckDB and PostgreSQL: migrations, transactions, bulk writes."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import pytest

from bsin.core.config import load_partners
from bsin.core.paths import SQL_DIR
from bsin.warehouse.db import (
    Warehouse,
    WarehouseError,
    convert_params,
    mask_uri,
    split_statements,
)
from tests.conftest import schema_before, schema_from

# Three configured countries in code order (the roster assertions list rows sorted by it):
# the network grows, so none is named here.
LOW, MID, HIGH = sorted(load_partners().countries)[:3]

ROSTER = ["country", "month", "active_members"]


def roster(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=ROSTER)


def all_roster(wh) -> list[tuple]:
    return wh.query("select country, month, active_members from member_roster order by 1, 2")


JAN, FEB = date(2023, 1, 1), date(2023, 2, 1)


# ---------------------------------------------------------------- pure helpers


def test_split_statements_respects_quotes_and_comments():
    sql = """
    -- a comment; with a semicolon
    select 'a;b' as x;  /* block; comment */
    select "odd;name" from t;
    ;
    select 1
    """
    stmts = split_statements(sql)
    assert len(stmts) == 3
    assert "'a;b'" in stmts[0] and '"odd;name"' in stmts[1] and stmts[2].endswith("select 1")


def test_convert_params_positional_and_percent():
    text, values = convert_params(
        "select * from t where a = :a and b like '50%' and c = :b and d = :a -- :ignored",
        {"a": 1, "b": "x"},
        "%s",
        escape_percent=True,
    )
    assert text == (
        "select * from t where a = %s and b like '50%%' and c = %s and d = %s -- :ignored"
    )
    assert values == [1, "x", 1]
    text, _ = convert_params("select ':a', x::text from t", {}, "?", escape_percent=False)
    assert text == "select ':a', x::text from t"


def test_convert_params_missing_and_unused_are_errors():
    with pytest.raises(WarehouseError, match=":month has no value"):
        convert_params("select :month", {}, "?", escape_percent=False)
    with pytest.raises(WarehouseError, match=r"\['extra'\] are not used"):
        convert_params("select 1", {"extra": 1}, "?", escape_percent=False)


def test_mask_uri_hides_password():
    assert mask_uri("postgresql://bob:s3cret@db:5432/w") == "postgresql://bob:***@db:5432/w"
    assert mask_uri("duckdb:///tmp/w.duckdb") == "duckdb:///tmp/w.duckdb"
    # Issue 10, finding 5: libpq takes the password from the query too.
    assert (
        mask_uri("postgresql://bob@db/w?password=s3cret&sslmode=require&sslpassword=k3y")
        == "postgresql://bob@db/w?password=***&sslmode=require&sslpassword=***"
    )


def test_password_in_the_uri_query_is_masked_everywhere(monkeypatch):
    """A ``?password=`` warehouse connection: repr, errors and Airflow's masker hide it."""
    from airflow.sdk._shared.secrets_masker import redact

    password = "q-SECRET-" + uuid.uuid4().hex
    uri = f"postgresql://bob@127.0.0.1:1/w?password={password}&connect_timeout=1"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_QUERY_PW", uri)
    for wh in (Warehouse.from_uri(uri), Warehouse.from_conn_id("warehouse_query_pw")):
        assert wh._pg_kwargs["password"] == password  # still used to log in
        assert password not in repr(wh) and "***" in repr(wh)
        with pytest.raises(WarehouseError) as err:
            wh.query("select 1")  # nothing listens on port 1
        assert password not in str(err.value) and "cannot connect" in str(err.value)
    # Read through Airflow's connection API, so its masker hides it in task logs.
    assert password not in redact(f"log line {password} and {uri}")


def test_unreadable_connection_is_a_clear_error_without_its_text(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_BROKEN", '{"password": "pw-SECRET-123", ')
    with pytest.raises(WarehouseError, match="cannot read the Airflow connection") as err:
        Warehouse.from_conn_id("warehouse_broken")
    assert "pw-SECRET-123" not in str(err.value)


def test_repr_and_errors_never_show_the_password():
    wh = Warehouse.from_uri("postgresql://bob:s3cret-pw@127.0.0.1:1/w?connect_timeout=1")
    assert "s3cret-pw" not in repr(wh) and "***" in repr(wh)
    with pytest.raises(WarehouseError) as err:
        wh.query("select 1")  # nothing listens on port 1
    assert "s3cret-pw" not in str(err.value)
    assert "cannot connect" in str(err.value)


def test_unsupported_uri():
    with pytest.raises(
        WarehouseError, match="unsupported warehouse URI 'mysql://u:\\*\\*\\*@h/db'"
    ):
        Warehouse.from_uri("mysql://u:pw@h/db")
    with pytest.raises(WarehouseError, match="three slashes"):
        Warehouse.from_uri("duckdb://relative/w.duckdb")


def test_from_conn_id_reads_env_uri_and_json(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", f"duckdb:///{tmp_path}/a.duckdb")
    wh = Warehouse.from_conn_id("warehouse_default")
    assert wh.backend == "duckdb" and wh.path == f"{tmp_path}/a.duckdb"
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "db.example.org",
                "port": 5433,
                "login": "bsin",
                "password": "hunter2-pw",
                "schema": "warehouse",
                "extra": {"search_path": "bsin", "sslmode": "require"},
            }
        ),
    )
    wh = Warehouse.from_conn_id("warehouse_default")
    assert wh.backend == "postgres" and wh.schema == "bsin"
    assert "hunter2-pw" not in repr(wh)
    assert (
        repr(wh)
        == "Warehouse('postgresql://bsin:***@db.example.org:5433/warehouse', schema='bsin')"
    )
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", '{"conn_type": "mysql"}')
    with pytest.raises(WarehouseError, match="conn type 'mysql'"):
        Warehouse.from_conn_id("warehouse_default")


def test_airflow_style_duckdb_fields_keep_the_absolute_path():
    from airflow.sdk import Connection

    # Airflow stores the path of duckdb:///abs/w.duckdb without its leading slash.
    conn = Connection(conn_id="w", conn_type="duckdb", schema="abs/w.duckdb")
    assert Warehouse.from_connection(conn).path == "/abs/w.duckdb"
    # The DuckDB provider's connection form puts the path in the host field.
    conn = Connection(conn_id="w", conn_type="duckdb", host="/abs/w.duckdb")
    assert Warehouse.from_connection(conn).path == "/abs/w.duckdb"
    with pytest.raises(WarehouseError, match="names no DuckDB file"):
        Warehouse.from_connection(Connection(conn_id="w", conn_type="duckdb"))


def test_duckdb_connection_through_airflow_keeps_the_path(monkeypatch, tmp_path):
    from bsin_dev.localenv import duckdb_uri

    path = tmp_path / "with space" / "w.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_PATHS", duckdb_uri(path))
    assert Warehouse.from_conn_id("warehouse_paths").path == str(path)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_PATHS", "duckdb:///:memory:")
    assert Warehouse.from_conn_id("warehouse_paths").path == ":memory:"


def test_a_uri_warehouse_registers_its_password_with_the_masker():
    """A URI is parsed by Airflow's Connection.from_uri, so the masker learns its secrets."""
    from airflow.sdk._shared.secrets_masker import redact

    password = "uri-SECRET-" + uuid.uuid4().hex
    Warehouse.from_uri(f"postgresql://bob:{password}@127.0.0.1:1/w")
    assert password not in redact(f"log line {password}")


# ---------------------------------------------------------------- both backends


def test_the_providers_sql_hook_opens_the_warehouse(warehouse):
    """The connection is the provider's (DuckDBHook / PostgresHook), on the same database."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    hook = warehouse.hook
    assert isinstance(hook, DbApiHook)
    provider_hook = {"duckdb": "DuckDBHook", "postgres": "PostgresHook"}[warehouse.backend]
    assert provider_hook in [c.__name__ for c in type(hook).__mro__]
    assert hook.get_first("select 41 + 1")[0] == 42
    # The Warehouse's own connection is the hook's, in the project's session settings.
    assert warehouse.query("select current_setting('TimeZone')") == [("UTC",)]


def test_migrate_is_idempotent(warehouse):
    from bsin.warehouse.migrations import schema_files

    files = [p.name for p in schema_files(warehouse.backend)]
    # A file named NNN_name.duckdb.sql is DuckDB's only; the others apply to both.
    assert ("017_payload_compression.duckdb.sql" in files) == (warehouse.backend == "duckdb")
    assert ("018_unindexed_keys.duckdb.sql" in files) == (warehouse.backend == "duckdb")
    assert warehouse.migrate() == []
    assert warehouse.migrate() == []
    applied = warehouse.query("select filename from schema_migration order by filename")
    assert [r[0] for r in applied] == files
    for table in (
        "raw_form",
        "raw_response",
        "raw_response_history",
        "feedback_candidate",
        "feedback",
        "feedback_selection",
        "self_assessment",
        "self_assessment_need",
        "quarantine",
        "form_drift",
        "member_roster",
        "programme_topic",
        "adaptation_signal",
        "delivery_log",
        "delivery_attempt",
        "pseudonym_key",
    ):
        assert warehouse.table_exists(table), table
    # The marts are dbt's (include/dbt): no migration restates their DDL.
    for table in ("indicators_monthly", "indicator_value", "stg_feedback"):
        assert not warehouse.table_exists(table), table


def test_changed_schema_file_is_refused(warehouse, tmp_path):
    folder = tmp_path / "schema"
    shutil.copytree(SQL_DIR / "schema", folder)
    assert warehouse.migrate(folder) == []
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(WarehouseError, match=f"{first.name} changed after it was applied"):
        warehouse.migrate(folder)
    (folder / "900_extra.sql").write_text("create table if not exists extra_t (a integer);\n")
    first.write_text((SQL_DIR / "schema" / first.name).read_text())
    assert warehouse.migrate(folder) == ["900_extra.sql"]


@pytest.mark.parametrize(
    ("table", "row"),
    [
        ("member_roster", {"country": HIGH, "month": JAN, "active_members": 3}),
        ("programme_topic", {"month": JAN, "topic": "scaling"}),
        # Mart keys are dbt tests (unique_combination in include/dbt/models/marts/_marts.yml).
        (
            "adaptation_signal",
            {
                "country": HIGH,
                "month": JAN,
                "rule_id": "low_nps",
                "subject": "",
                "indicator": "nps",
                "measure": "value",
                "observed": 1.0,
                "comparison": "<",
                "threshold": 0.0,
                "recommendation": "x",
            },
        ),
    ],
)
def test_primary_keys_make_duplicates_impossible(warehouse, table, row):
    warehouse.insert(table, pd.DataFrame([row]))
    with pytest.raises(WarehouseError):
        warehouse.insert(table, pd.DataFrame([row]))
    assert warehouse.query(f"select count(*) from {table}")[0][0] == 1  # noqa: S608


def test_feedback_response_id_is_unique(warehouse):
    base = {
        "country": HIGH,
        "feedback_month": JAN,
        "member_id": "m_a",
        "response_id": "r1",
        "submitted_at": datetime(2023, 2, 1),
    }
    warehouse.insert("feedback", pd.DataFrame([base]))
    with pytest.raises(WarehouseError):
        warehouse.insert("feedback", pd.DataFrame([{**base, "member_id": "m_b"}]))


def test_replace_deletes_matching_rows_and_inserts(warehouse):
    warehouse.replace("member_roster", {}, roster((HIGH, JAN, 5), (HIGH, FEB, 6), (LOW, JAN, 4)))
    n = warehouse.replace("member_roster", {"country": HIGH, "month": FEB}, roster((HIGH, FEB, 7)))
    assert n == 1
    assert all_roster(warehouse) == [(LOW, JAN, 4), (HIGH, JAN, 5), (HIGH, FEB, 7)]
    warehouse.replace("member_roster", {"country": HIGH}, roster())
    assert all_roster(warehouse) == [(LOW, JAN, 4)]


def test_column_types_follow_schema_changes_made_after_they_were_read(warehouse):
    """Column types are remembered per table, but never past a change of the table."""
    assert "note" not in warehouse.column_types("member_roster")
    warehouse.replace("member_roster", {}, roster((HIGH, JAN, 5)))  # staging DDL keeps them
    warehouse.execute("alter table member_roster add column note text")
    assert warehouse.column_types("member_roster")["note"].lower() in {"text", "varchar"}
    warehouse.replace(
        "member_roster",
        {},
        pd.DataFrame([{"country": HIGH, "month": JAN, "active_members": 5, "note": "x"}]),
    )
    assert warehouse.query("select note from member_roster") == [("x",)]
    # A rolled-back DDL: the cache must not keep the column that never came to be.
    with pytest.raises(RuntimeError), warehouse.transaction():
        warehouse.execute("alter table member_roster add column colour text")
        assert "colour" in warehouse.column_types("member_roster")
        raise RuntimeError("abort")
    assert "colour" not in warehouse.column_types("member_roster")
    with pytest.raises(WarehouseError, match="no column"):
        warehouse.insert("member_roster", pd.DataFrame([{"country": HIGH, "colour": "red"}]))


def test_failed_replace_leaves_old_rows(warehouse):
    warehouse.replace("member_roster", {}, roster((HIGH, JAN, 5), (HIGH, FEB, 6)))
    before = all_roster(warehouse)
    duplicate = roster((HIGH, JAN, 1), (HIGH, JAN, 2))  # violates the primary key
    with pytest.raises(WarehouseError, match="member_roster"):
        warehouse.replace("member_roster", {"country": HIGH}, duplicate)
    assert all_roster(warehouse) == before
    with pytest.raises(WarehouseError, match="no column"):
        warehouse.replace("member_roster", {"country": HIGH}, pd.DataFrame([{"colour": "red"}]))
    assert all_roster(warehouse) == before


def test_transaction_is_all_or_nothing(warehouse):
    warehouse.replace("member_roster", {}, roster((HIGH, JAN, 5)))
    with pytest.raises(RuntimeError, match="boom"):
        with warehouse.transaction():
            warehouse.replace("member_roster", {}, roster((MID, JAN, 9)))
            warehouse.execute("create table tx_probe (a integer)")
            with warehouse.transaction():  # nested: joins the outer transaction
                warehouse.execute("delete from member_roster")
            raise RuntimeError("boom")
    assert all_roster(warehouse) == [(HIGH, JAN, 5)]
    assert not warehouse.table_exists("tx_probe")
    with warehouse.transaction():
        warehouse.replace("member_roster", {}, roster((MID, JAN, 9)))
    assert all_roster(warehouse) == [(MID, JAN, 9)]


def test_upsert_replaces_by_key(warehouse):
    warehouse.replace("member_roster", {}, roster((HIGH, JAN, 5), (HIGH, FEB, 6)))
    warehouse.upsert("member_roster", ["country", "month"], roster((HIGH, FEB, 8), (LOW, FEB, 3)))
    assert all_roster(warehouse) == [(LOW, FEB, 3), (HIGH, JAN, 5), (HIGH, FEB, 8)]
    with pytest.raises(WarehouseError, match="repeats key"):
        warehouse.upsert(
            "member_roster", ["country", "month"], roster((HIGH, JAN, 1), (HIGH, JAN, 2))
        )
    with pytest.raises(WarehouseError, match=r"key column\(s\) \['month'\] not in the DataFrame"):
        warehouse.upsert("member_roster", ["month"], pd.DataFrame([{"country": HIGH}]))
    assert all_roster(warehouse)[-1] == (HIGH, FEB, 8)


def test_result_columns_convert_as_a_whole_when_their_first_value_is_null(warehouse):
    """Decimals and aware timestamps are converted by column: a leading NULL hides nothing."""
    sql = (
        "select k, n, t from (values "
        "(1, cast(null as numeric(10, 2)), cast(null as timestamptz)), "
        "(2, cast(2.5 as numeric(10, 2)), cast('2023-02-03 12:00:00+02' as timestamptz)), "
        "(3, cast(7 as numeric(10, 2)), cast('2023-02-04 00:30:00+00' as timestamptz))"
        ") as x(k, n, t) order by k"
    )
    want = [
        (1, None, None),
        (2, 2.5, datetime(2023, 2, 3, 10, 0)),
        (3, 7.0, datetime(2023, 2, 4, 0, 30)),
    ]
    rows = warehouse.query(sql)
    assert rows == want
    assert [type(r[1]) for r in rows[1:]] == [float, float]
    assert all(r[2].tzinfo is None for r in rows[1:])
    df = warehouse.query_df(sql)
    assert [tuple(None if pd.isna(v) else v for v in r) for r in df.itertuples(index=False)] == want
    # Each column's first value comes in another row, and one column holds nulls only.
    staggered = (
        "select k, n, t, z from (values "
        "(1, cast(null as numeric(10, 2)), cast(null as timestamptz), cast(null as numeric)), "
        "(2, cast(null as numeric(10, 2)), cast('2023-02-03 12:00:00+02' as timestamptz), "
        "cast(null as numeric)), "
        "(3, cast(7 as numeric(10, 2)), cast(null as timestamptz), cast(null as numeric))"
        ") as x(k, n, t, z) order by k"
    )
    rows = warehouse.query(staggered)
    assert rows == [
        (1, None, None, None),
        (2, None, datetime(2023, 2, 3, 10, 0), None),
        (3, 7.0, None, None),
    ]
    assert type(rows[2][1]) is float  # Decimal("7.00") would compare equal


def test_inserted_columns_are_fitted_to_their_types_whatever_their_first_value(warehouse):
    """Loads look at a column's classes once; mixed columns are still fitted value by value."""
    df = pd.DataFrame(
        {
            "country": [HIGH, HIGH, HIGH],
            "month": [JAN, datetime(2023, 2, 1, 0, 0), date(2023, 3, 1)],  # date <- datetime
            "active_members": [3, 4.0, 5],  # integer <- float
        },
        dtype=object,
    )
    warehouse.replace("member_roster", {}, df)
    assert all_roster(warehouse) == [(HIGH, JAN, 3), (HIGH, FEB, 4), (HIGH, date(2023, 3, 1), 5)]
    bad = df.assign(active_members=[1, 2, 2.5])
    with pytest.raises(WarehouseError, match=r"member_roster.active_members is an integer column"):
        warehouse.replace("member_roster", {}, bad)


def test_values_round_trip_with_the_same_types(warehouse):
    cest = timezone(timedelta(hours=2))
    df = pd.DataFrame(
        [
            {
                "country": HIGH,
                "feedback_month": JAN,
                "member_id": "m_a",
                "response_id": "r1",
                # an aware timestamp is stored as naive UTC on both backends
                "submitted_at": datetime(2023, 2, 3, 12, 0, tzinfo=cest),
                "attended_peer_session": True,
                "satisfaction": 4,
                "suggestion": "Mehr Zeit für Austausch; ąčęėįšųūž āēīūņļķ õäöü",
            },
            {
                "country": HIGH,
                "feedback_month": JAN,
                "member_id": "m_b",
                "response_id": "r2",
                "submitted_at": datetime(2023, 2, 4, 8, 30, tzinfo=UTC),
                "attended_peer_session": None,
                "satisfaction": None,  # makes pandas store the column as float
                "suggestion": "100% useful",
            },
        ]
    )
    warehouse.replace("feedback", {"country": HIGH}, df)
    got = warehouse.query_df(
        "select member_id, submitted_at, attended_peer_session, satisfaction, suggestion "
        "from feedback where feedback_month = :m order by member_id",
        {"m": JAN},
    ).to_dict("records")
    assert got[0]["submitted_at"] == datetime(2023, 2, 3, 10, 0)
    assert got[0]["attended_peer_session"] is True and got[0]["satisfaction"] == 4
    assert got[0]["suggestion"].startswith("Mehr Zeit") and "ąčęėįšųūž" in got[0]["suggestion"]
    assert got[1]["submitted_at"] == datetime(2023, 2, 4, 8, 30)
    assert pd.isna(got[1]["satisfaction"]) and got[1]["suggestion"] == "100% useful"
    assert warehouse.query("select avg(satisfaction) from feedback")[0][0] == 4.0
    with pytest.raises(WarehouseError, match="integer column but got 2.5"):
        warehouse.replace("member_roster", {}, roster((HIGH, JAN, 2.5)))


def test_typed_columns_load_with_every_missing_value_as_null(warehouse):
    """Harmonised frames carry pandas' nullable types (Int64, boolean, string), numpy floats
    with NaN and datetimes: DuckDB scans them as they are, PostgreSQL gets Python objects,
    and both store the same rows."""
    cest = timezone(timedelta(hours=2))
    df = pd.DataFrame(
        {
            "country": pd.array([HIGH, HIGH, HIGH], dtype="string"),
            # midnight timestamps into a DATE column
            "feedback_month": pd.to_datetime([JAN, JAN, FEB]),
            "member_id": pd.array(["m_a", "m_b", "m_c"], dtype="string"),
            "response_id": ["r1", "r2", "r3"],
            "submitted_at": pd.Series(
                [
                    datetime(2023, 2, 3, 12, 0),
                    datetime(2023, 2, 4, 8, 30),
                    datetime(2023, 3, 1, 9, 0),
                ],
                dtype="datetime64[us]",
            ).dt.tz_localize(cest),
            "attended_peer_session": pd.array([True, None, False], dtype="boolean"),
            "satisfaction": pd.array([4, None, 2], dtype="Int64"),
            "relevance": [3.0, float("nan"), 5.0],  # floats bound for an integer column
            "suggestion": pd.array(["Mehr Zeit; ąčęėį", None, "100% useful"], dtype="string"),
        }
    )
    warehouse.replace("feedback", {"country": HIGH}, df)
    got = warehouse.query(
        "select member_id, feedback_month, submitted_at, attended_peer_session, satisfaction, "
        "relevance, suggestion from feedback order by member_id"
    )
    assert got == [
        ("m_a", JAN, datetime(2023, 2, 3, 10, 0), True, 4, 3, "Mehr Zeit; ąčęėį"),
        ("m_b", JAN, datetime(2023, 2, 4, 6, 30), None, None, None, None),
        ("m_c", FEB, datetime(2023, 3, 1, 7, 0), False, 2, 5, "100% useful"),
    ]
    for bad in (2.5, float("inf")):
        with pytest.raises(
            WarehouseError, match=rf"feedback.relevance is an integer column but got {bad}"
        ):
            warehouse.replace("feedback", {"country": HIGH}, df.assign(relevance=[1.0, bad, 2.0]))
    assert len(warehouse.query("select * from feedback")) == 3  # the refused writes left them


def test_a_staging_table_takes_its_types_from_typed_columns(warehouse):
    df = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "flag": pd.array([None, True], dtype="boolean"),
            "share": [0.5, float("nan")],
            "seen_at": pd.Series([None, datetime(2023, 1, 2, 3, 4)], dtype="datetime64[us]"),
            "label": pd.array([None, "x"], dtype="string"),
        }
    )
    assert warehouse.replace_staging("typed_probe", df) == 2
    assert warehouse.query(
        "select n + 1, flag and true, share * 2, seen_at + interval '1 day', label || '!' "
        "from typed_probe order by n nulls last"
    ) == [(2, None, 1.0, None, None), (None, True, None, datetime(2023, 1, 3, 3, 4), "x!")]


def test_query_with_percent_and_params(warehouse):
    rows = warehouse.query("select '50%' as p, :x as x, :x + 1 as y", {"x": 2})
    assert rows == [("50%", 2, 3)]
    assert warehouse.query("select '100%'") == [("100%",)]


def test_run_sql_file_runs_every_statement(warehouse, tmp_path):
    f = tmp_path / "two.sql"
    f.write_text(
        "-- two statements, one parameter\n"
        "insert into programme_topic (month, topic) values (:m, 'scaling');\n"
        "insert into programme_topic (month, topic) values (:m, 'visibility');\n"
    )
    warehouse.run_sql_file(f, {"m": FEB})
    assert warehouse.query("select topic from programme_topic order by topic") == [
        ("scaling",),
        ("visibility",),
    ]
    bad = tmp_path / "bad.sql"
    bad.write_text("select 1;\nselect * from no_such_table;\n")
    with pytest.raises(WarehouseError, match="bad.sql, statement 2"):
        warehouse.run_sql_file(bad)


def test_replace_staging_takes_types_from_the_target(warehouse):
    df = pd.DataFrame(
        [
            {
                "form_id": "f",
                "response_id": "r",
                "country": HIGH,
                "form_kind": "monthly",
                "report_month": JAN,
                "last_submitted_time": pd.Timestamp("2023-02-01T10:00Z"),
                "create_time": None,  # all-null column: type comes from raw_response
                "payload": "{}",
            }
        ]
    )
    for _ in range(2):  # replacing keeps one copy
        assert warehouse.replace_staging("raw_response_incoming", df) == 1
    warehouse.execute(
        "insert into raw_response (form_id, response_id, country, form_kind, report_month, "
        "last_submitted_time, create_time, payload) select form_id, response_id, country, "
        "form_kind, report_month, last_submitted_time, create_time, payload "
        "from raw_response_incoming"
    )
    assert warehouse.query("select last_submitted_time, create_time from raw_response") == [
        (datetime(2023, 2, 1, 10, 0), None)
    ]
    assert not warehouse.table_exists("raw_response_incoming")  # temporary, not in the schema


def test_invalid_identifiers_are_refused(warehouse):
    with pytest.raises(WarehouseError, match="invalid table name"):
        warehouse.replace("member_roster; drop table feedback", {}, roster())
    with pytest.raises(WarehouseError, match="invalid column"):
        warehouse.insert("member_roster", pd.DataFrame([{"Country X": HIGH}]))


def test_duckdb_connections_bound_their_buffer_pool(tmp_path, monkeypatch):
    with Warehouse.from_uri(f"duckdb:///{tmp_path / 'a.duckdb'}") as wh:
        (limit,) = wh.query("select current_setting('memory_limit')")[0]
    assert limit.endswith("MiB") and float(limit.split()[0]) < 1024
    monkeypatch.setenv("BSIN_DUCKDB_MEMORY_LIMIT", "1GB")
    with Warehouse.from_uri(f"duckdb:///{tmp_path / 'b.duckdb'}") as wh:
        assert wh.query("select current_setting('memory_limit')")[0][0] == "953.6 MiB"
    monkeypatch.setenv("BSIN_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(WarehouseError, match="BSIN_DUCKDB_MEMORY_LIMIT"):
        Warehouse.from_uri(f"duckdb:///{tmp_path / 'c.duckdb'}").query("select 1")


def _land_rows(wh, rows: int) -> None:
    wh.migrate()
    wh.execute(
        "insert into raw_response select 'f', 'r' || i, 'XA', 'monthly', date '2023-01-01', "
        "timestamp '2023-02-01 10:00', null, '{\"answers\": {}}', i from range(:n) t(i)",
        {"n": rows},
    )


def _rows_per_group(path, table: str) -> list[int]:
    """The rows of each row group of ``table``, read by a plain DuckDB connection."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return [
            n
            for _, n in con.execute(
                "select row_group_id, sum(count) from pragma_storage_info(?) "
                "where column_path = '[0]' group by all order by all",
                [table],
            ).fetchall()
        ]
    finally:
        con.close()


def test_duckdb_warehouse_files_are_written_in_small_row_groups(tmp_path):
    """A DuckDB checkpoint rewrites a table's partly filled last row group: the warehouse
    attaches its file with ROW_GROUP_SIZE rows per group, so no commit re-compresses more
    landed payloads than that (DuckDB's default group holds 122,880)."""
    from bsin.warehouse.duckdb_hook import ROW_GROUP_SIZE

    path = tmp_path / "rows.duckdb"
    rows = 2 * ROW_GROUP_SIZE + 100
    with Warehouse.from_uri(f"duckdb:///{path}") as wh:
        _land_rows(wh, rows)
        # Spills go beside the file, as they do for a file DuckDB opens itself.
        assert wh.query("select current_setting('temp_directory')") == [(f"{path}.tmp",)]
        # A second connection of the process (the provider hook's) reaches the same file.
        assert wh.hook.get_first("select count(*) from raw_response")[0] == rows
    # Closed, the file is free, and a plain DuckDB connection reads what was written.
    assert _rows_per_group(path, "raw_response") == [ROW_GROUP_SIZE, ROW_GROUP_SIZE, 100]


def test_dbt_leaves_the_warehouse_row_groups_as_they_are(tmp_path):
    """dbt opens the file by path, with DuckDB's large groups; its checkpoint merged every
    table's small groups (the whole warehouse rewritten each month) until its profile
    turned DuckDB's vacuum off."""
    from bsin.warehouse.dbt_project import run_dbt
    from bsin.warehouse.duckdb_hook import ROW_GROUP_SIZE

    path = tmp_path / "dbt.duckdb"
    with Warehouse.from_uri(f"duckdb:///{path}") as wh:
        # 3 full row groups and a partial one: DuckDB's vacuum merges runs of small groups, not a pair.
        _land_rows(wh, 3 * ROW_GROUP_SIZE + 100)
        run_dbt(wh, ["run", "--select", "stg_feedback"])
        assert wh.query("select count(*) from stg_feedback") == [(0,)]
    assert _rows_per_group(path, "raw_response") == [ROW_GROUP_SIZE] * 3 + [100]


def test_the_warehouse_opens_after_dbt_ran_in_the_same_process_without_letting_go(tmp_path):
    """Cosmos runs dbt inside the task's process (``dag.test`` runs every task in one), and
    dbt-duckdb keeps its DuckDB instance on the file for its next run: attaching the file
    again failed with "Unique file handle conflict" until the connection released it."""
    from dbt.cli.main import dbtRunner

    from bsin.warehouse import dbt_project

    path = tmp_path / "shared.duckdb"
    with Warehouse.from_uri(f"duckdb:///{path}") as wh:
        _land_rows(wh, 10)
        wh.close()  # as the marts task's own connection does before dbt runs
        with dbt_project._workdir() as work:  # noqa: SLF001 (dbt as Cosmos invokes it)
            (work / "profiles.yml").write_text(dbt_project.profiles_yml(wh), encoding="utf-8")
            result = dbtRunner().invoke(
                ["run", "--select", "stg_feedback", *dbt_project._cli_args(work)]  # noqa: SLF001
            )
        assert result.success
        # dbt's instance still holds the file here; the next query must open it anyway.
        assert wh.query("select count(*) from raw_response") == [(10,)]
        assert wh.query("select count(*) from stg_feedback") == [(0,)]


def test_a_duckdb_file_name_with_quotes_and_spaces_opens(tmp_path):
    # The path and the catalog name go into an ATTACH statement: both are quoted there.
    path = tmp_path / "partner's files" / 'o\'brien "x".duckdb'
    with Warehouse.from_uri(f"duckdb:///{path}") as wh:
        wh.execute("create table probe as select 1 as i")
        assert wh.query("select current_database(), count(*) from probe") == [('o\'brien "x"', 1)]
        assert wh.hook.get_first("select count(*) from probe")[0] == 1
    assert path.exists()


def test_a_duckdb_file_named_like_a_catalog_is_refused_with_the_fix(tmp_path):
    # DuckDB reserves these catalog names; the file is attached under its stem.
    for name in ("memory", "temp"):
        with pytest.raises(WarehouseError, match=r"named like a DuckDB catalog.*rename it"):
            Warehouse.from_uri(f"duckdb:///{tmp_path / name}.duckdb").query("select 1")
    assert not (tmp_path / "memory.duckdb").exists()


def test_duckdb_raw_payloads_are_zstd_compressed_and_an_upgrade_keeps_every_row(tmp_path):
    """Migration 017 rebuilds the raw tables with zstd payloads (checkpoints re-analysed
    DuckDB's default string compression of every payload of the last row group)."""
    before = schema_before(tmp_path, "duckdb", "017")
    with Warehouse.from_uri(f"duckdb:///{tmp_path / 'old.duckdb'}") as wh:
        wh.migrate(before)
        raw = pd.DataFrame(
            [
                {
                    "form_id": "f",
                    "response_id": f"r{i}",
                    "country": HIGH,
                    "form_kind": "monthly",
                    "report_month": JAN,
                    "last_submitted_time": datetime(2023, 2, 1, 10, i),
                    "create_time": None,
                    "payload": json.dumps({"answers": {"q": i}, "text": "å" * i}),
                    "response_key": i,
                }
                for i in range(5)
            ]
        )
        wh.insert("raw_response", raw)
        wh.insert(
            "raw_response_history",
            raw[["form_id", "response_id", "last_submitted_time", "payload"]],
        )
        tables = ("raw_response", "raw_response_history")
        rows = {t: wh.query(f"select * from {t} order by all") for t in tables}  # noqa: S608
        columns = {t: wh.column_types(t) for t in tables}
        applied = wh.migrate()
        assert applied[0] == "017_payload_compression.duckdb.sql"
        assert applied == schema_from("duckdb", "017")
        for t in tables:
            assert wh.query(f"select * from {t} order by all") == rows[t]  # noqa: S608
            assert wh.column_types(t) == columns[t]
            (ddl,) = wh.query("select sql from duckdb_tables() where table_name = :t", {"t": t})[0]
            assert "payload VARCHAR USING COMPRESSION ZSTD NOT NULL" in ddl
        # The keys still hold (checked by the code since 018): a landed id cannot land twice.
        with pytest.raises(WarehouseError):
            wh.insert("raw_response", raw.head(1))


def test_dbt_gets_the_same_duckdb_buffer_pool_bound(tmp_path, monkeypatch):
    """dbt opens its own DuckDB instance: its profile carries the bound of every warehouse
    connection (unbounded, the benchmark's month-10 build peaked near 1 GB)."""
    from bsin.warehouse.connection import duckdb_memory_limit
    from bsin.warehouse.dbt_project import profile_output, profiles_yml

    with Warehouse.from_uri(f"duckdb:///{tmp_path / 'a.duckdb'}") as wh:
        assert profile_output(wh)["settings"]["memory_limit"] == duckdb_memory_limit()
        # One model at a time: models built side by side would share the one bounded pool.
        assert profile_output(wh)["threads"] == 1
        monkeypatch.setenv("BSIN_DUCKDB_MEMORY_LIMIT", "1GB")
        assert "memory_limit: 1GB" in profiles_yml(wh)
        monkeypatch.setenv("BSIN_DUCKDB_MEMORY_LIMIT", "lots")
        with pytest.raises(WarehouseError, match="BSIN_DUCKDB_MEMORY_LIMIT"):
            profile_output(wh)
