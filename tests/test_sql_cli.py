"""`make sql`: the query runner works against a real warehouse file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from bsin.localenv import duckdb_uri
from bsin.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]


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
