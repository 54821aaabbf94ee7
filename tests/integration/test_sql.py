"""`make sql`: the query runner works against a real warehouse file."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from bsin_dev.localenv import duckdb_uri

from bsin.warehouse.db import Warehouse
from tests.support.services import require_postgres

ROOT = Path(__file__).resolve().parents[2]


def test_sql_runs_a_query_file_against_the_configured_warehouse(tmp_path):
    path = tmp_path / "wh.duckdb"
    wh = Warehouse.from_uri(duckdb_uri(path))
    wh.migrate()
    wh.replace(
        "member_roster",
        {},
        pd.DataFrame(
            {
                "country": ["SE", "LV"],
                "month": [pd.Timestamp("2023-03-01").date()] * 2,
                "active_members": [8, 7],
            }
        ),
    )
    wh.close()
    query = tmp_path / "q.sql"
    query.write_text(
        "select country, active_members from member_roster order by country;\n"
        "select sum(active_members) as total from member_roster;\n",
        encoding="utf-8",
    )
    env = {**os.environ, "AIRFLOW_CONN_WAREHOUSE_DEFAULT": duckdb_uri(path)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sql.py"), "--file", str(query)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [ln.split() for ln in out.stdout.splitlines()]
    assert ["LV", "7"] in lines and ["SE", "8"] in lines
    assert ["15"] in lines


def _sql(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    path = tmp_path / "wh.duckdb"
    if not path.exists():
        Warehouse.from_uri(duckdb_uri(path)).close()
    env = {**os.environ, "AIRFLOW_CONN_WAREHOUSE_DEFAULT": duckdb_uri(path)}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sql.py"), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sql_prints_every_statement_of_one_line_at_the_prompt_and_in_files(tmp_path):
    line = "select 1 as first_result; select 'a;b' as second_result; -- the end\n"
    prompt = _sql(tmp_path, stdin=line)
    assert prompt.returncode == 0, prompt.stderr
    for out in (prompt.stdout, _sql(tmp_path, "--query", line).stdout):
        assert "first_result" in out and "second_result" in out, out
        assert "a;b" in out
    (tmp_path / "w.sql").write_text(
        "create table t (x integer); insert into t values (1), (2); select sum(x) as total from t;",
        encoding="utf-8",
    )
    done = _sql(tmp_path, "--file", str(tmp_path / "w.sql"))
    assert done.returncode == 0, done.stderr
    assert "ok, 2 rows" in done.stdout and ["3"] in [ln.split() for ln in done.stdout.splitlines()]


def test_sql_bad_input_is_one_line_error_without_traceback(tmp_path):
    missing = _sql(tmp_path, "--file", str(tmp_path / "nope.sql"))
    assert missing.returncode == 2
    assert f"error: cannot read QUERY file {tmp_path / 'nope.sql'}" in missing.stderr
    broken = _sql(tmp_path, "--query", "select 1 as ok_before; selec 2; select 3")
    assert broken.returncode == 1
    assert "ok_before" in broken.stdout  # what ran before the error is shown
    errors = [ln for ln in broken.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "statement 2 (selec 2;)" in errors[0], broken.stderr
    for proc in (missing, broken):
        assert "Traceback" not in proc.stderr
    empty = _sql(tmp_path, "--query", "-- only a comment")
    assert empty.returncode == 2 and "no SQL statement" in empty.stderr


@pytest.mark.postgres
def test_sql_runs_every_statement_on_postgresql(tmp_path):
    import psycopg

    dsn = require_postgres()
    schema = f"sqlcli_{secrets.token_hex(4)}"
    env = {**os.environ, "AIRFLOW_CONN_WAREHOUSE_DEFAULT": f"{dsn}?search_path={schema}"}
    text = (
        "create table t (x integer); insert into t values (1), (2);"
        " select $$a;b$$ as dollar_quoted; select sum(x) as total from t;"
    )
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "sql.py"), "--query", text],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "-- [4/4]" in done.stdout and "ok, 2 rows" in done.stdout
        assert "a;b" in done.stdout
        assert ["3"] in [ln.split() for ln in done.stdout.splitlines()]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"drop schema if exists {schema} cascade")
