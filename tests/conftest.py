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
# xdist workers inherit the controller's environment, and with it its data folder: each
# worker gets a folder of its own under it, or two validations at once clear and rebuild
# the same GX Data Docs site under each other ("Directory not empty").
os.environ.setdefault("BSIN_SUITE_DATA_DIR", os.environ["BSIN_DATA_DIR"])
if os.environ.get("PYTEST_XDIST_WORKER") and (
    os.environ["BSIN_DATA_DIR"] == os.environ["BSIN_SUITE_DATA_DIR"]
):
    os.environ["BSIN_DATA_DIR"] = str(
        Path(os.environ["BSIN_SUITE_DATA_DIR"]) / os.environ["PYTEST_XDIST_WORKER"]
    )
os.environ.setdefault("MPLBACKEND", "Agg")


# --------------------------------------------------------------------------- warehouse
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

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


BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def open_warehouse(backend: str, folder: Path) -> Iterator:
    """A migrated, empty warehouse: a DuckDB file in ``folder``, or a fresh PostgreSQL
    schema (dropped afterwards)."""
    from bsin.warehouse.db import Warehouse

    if backend == "duckdb":
        wh = Warehouse.from_uri(f"duckdb:///{folder / 'warehouse.duckdb'}")
    else:
        wh = _pg_warehouse()
    wh.migrate()
    try:
        yield wh
    finally:
        if backend == "postgres":
            _drop_pg_schema(wh)
        else:
            wh.close()


def schema_before(folder: Path, backend: str, first_new: str) -> Path:
    """``folder/schema_before``: the schema files of ``backend`` whose names sort before
    ``first_new`` (e.g. ``"018"``), the schema of an older warehouse in an upgrade test."""
    import shutil

    from bsin.warehouse.migrations import schema_files

    before = folder / "schema_before"
    before.mkdir()
    for f in schema_files(backend):
        if f.name < first_new:
            shutil.copy(f, before / f.name)
    return before


def schema_from(backend: str, first_new: str) -> list[str]:
    """The names of ``backend``'s schema files from ``first_new`` on: what an upgrade of a
    warehouse made with :func:`schema_before` applies (later files included)."""
    from bsin.warehouse.migrations import schema_files

    return [f.name for f in schema_files(backend) if f.name >= first_new]


@pytest.fixture(params=BACKENDS)
def warehouse(request, tmp_path):
    """A migrated, empty warehouse: a DuckDB file, then a fresh PostgreSQL schema.

    Every test using it runs once per backend; PostgreSQL comes from ``BSIN_TEST_PG_DSN``
    (skipped when unreachable, failed under ``BSIN_REQUIRE_SERVICES=1``).
    """
    with open_warehouse(request.param, tmp_path) as wh:
        yield wh


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


# --------------------------------------------------------------------------- order
def _rank(item: pytest.Item) -> int:
    if item.get_closest_marker("airflow"):
        return 0
    # A module that calls dbt (imports build_marts) is long whatever its markers say: two
    # of them take 2 minutes of CPU each, and left to the end one ran alone for minutes.
    long = item.get_closest_marker("slow") or hasattr(item.module, "build_marts")
    return 1 if long else 2


def pytest_collection_modifyitems(config, items):
    """Modules that run Airflow first, then those with slow tests or dbt builds, then the rest.

    ``make test`` hands whole modules to two pytest-xdist workers in this order
    (``--dist loadscope --no-loadscope-reorder``): started first, the few long modules run
    next to each other and the many short ones fill the gaps, instead of one worker running
    a long module alone at the end. Tests keep their order within a module.
    """
    module_rank: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        module_rank[module] = min(module_rank.get(module, 2), _rank(item))
    items.sort(key=lambda item: module_rank[item.nodeid.split("::")[0]])
