"""`make demo` / `make backfill` arguments: bad ones are one line, before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--month", "2023-13"], {}, "error: MONTH '2023-13' is not a month"),
        (["--month", "2031-01"], {}, "error: MONTH 2031-01 is outside the programme"),
        (
            ["--warehouse", "mysql://u:secret@db/x"],
            {},
            "error: WAREHOUSE / AIRFLOW_CONN_WAREHOUSE_DEFAULT: connection 'warehouse_default' "
            "has conn type 'mysql': use 'duckdb'",
        ),
        # An exported connection is used (and checked), not silently replaced by DuckDB.
        (
            [],
            {"AIRFLOW_CONN_WAREHOUSE_DEFAULT": "oracle://u:secret@db/x"},
            "error: WAREHOUSE / AIRFLOW_CONN_WAREHOUSE_DEFAULT: connection 'warehouse_default' "
            "has conn type 'oracle': use 'duckdb'",
        ),
    ],
)
def test_demo_rejects_bad_arguments_with_one_line(tmp_path, args, env, message):
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), *args],
        env={**base, **env, "BSIN_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith(message), proc.stderr
    assert "secret" not in proc.stderr  # the password is masked in the message
    assert not (tmp_path / "data").exists(), "nothing started before the check"
