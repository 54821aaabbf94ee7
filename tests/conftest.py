"""Suite-wide setup. Airflow reads its configuration at import, so the isolated
AIRFLOW_HOME and the project's DAG folder are set here, before any test imports airflow."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="bsin-airflow-home-"))

os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
)
os.environ.setdefault("BSIN_PROJECT_ROOT", str(ROOT))
# Test key only; the code under test must never fall back to a built-in key. It passes the
# production key rules: the suite does not set BSIN_DEMO, only the demo tooling does.
os.environ.setdefault("BSIN_PSEUDONYM_KEY", "test-pseudonym-key-0123456789-abcdefgh")
# Task code must not write into the developer's data/ folder.
os.environ.setdefault("BSIN_DATA_DIR", str(_AIRFLOW_HOME / "data"))
os.environ.setdefault("MPLBACKEND", "Agg")


# --------------------------------------------------------------------------- warehouse
import uuid  # noqa: E402

import pytest  # noqa: E402


def _pg_warehouse():
    """A Warehouse on a fresh, uniquely named schema of the test PostgreSQL server."""
    from bsin.warehouse.db import Warehouse
    from tests.support.services import require_postgres

    dsn = require_postgres()
    return Warehouse.from_uri(dsn, schema=f"bsin_test_{uuid.uuid4().hex[:12]}")


def _drop_pg_schema(wh) -> None:
    schema = wh.schema
    wh.close()
    wh.schema = None  # reconnect without creating the schema again
    try:
        wh.execute(f"drop schema if exists {schema} cascade")
    finally:
        wh.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path):
    """A migrated, empty warehouse: a DuckDB file, then a fresh PostgreSQL schema.

    Every test using it runs once per backend; PostgreSQL comes from ``BSIN_TEST_PG_DSN``
    (skipped when unreachable, failed under ``BSIN_REQUIRE_SERVICES=1``).
    """
    from bsin.warehouse.db import Warehouse

    if request.param == "duckdb":
        wh = Warehouse.from_uri(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    else:
        wh = _pg_warehouse()
    wh.migrate()
    yield wh
    if request.param == "postgres":
        _drop_pg_schema(wh)
    else:
        wh.close()


# --------------------------------------------------------------------------- Forms API retries
@pytest.fixture
def fast_retries(monkeypatch):
    """Make Forms API retry back-off instant (googleapiclient's and bsin.ingest.forms_client's).

    Returns the list of back-off delays that would have been slept, so a test can assert
    that retries happened.
    """
    import types

    import googleapiclient.http

    import bsin.ingest.forms_client

    slept: list[float] = []
    monkeypatch.setattr(googleapiclient.http, "time", types.SimpleNamespace(sleep=slept.append))
    monkeypatch.setattr(bsin.ingest.forms_client, "_sleep", slept.append)
    return slept
