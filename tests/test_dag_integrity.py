"""DAG files: import cleanly and fast, follow the house rules, touch no connection at parse."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook

    calls = []
    original = BaseHook.get_connection

    def spy(conn_id, *a, **kw):  # noqa: ANN001
        calls.append(conn_id)
        return original(conn_id, *a, **kw)

    BaseHook.get_connection = staticmethod(spy)  # type: ignore[method-assign]
    try:
        bag = DagBag(dag_folder=str(ROOT / "dags"))
    finally:
        BaseHook.get_connection = original  # type: ignore[method-assign]
    bag.connection_calls = calls
    return bag


def test_dag_files_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "bsin_monthly_feedback" in dagbag.dags


def test_no_connection_lookup_at_parse_time(dagbag):
    assert dagbag.connection_calls == []


def test_house_rules(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id} needs a doc_md"
        assert "bsin" in dag.tags, f"{dag_id} needs the bsin tag"
        assert dag.max_active_runs == 1, f"{dag_id}: one run at a time keeps the warehouse safe"
        for task in dag.tasks:
            assert task.owner == "bsin-data-staff", f"{dag_id}.{task.task_id} owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} needs retries"
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id} needs backoff"


def test_monthly_dag_shape(dagbag):
    dag = dagbag.dags["bsin_monthly_feedback"]
    ids = set(dag.task_ids)
    assert {
        "wait_for_grace_period",
        "prepare_warehouse",
        "country.extract",
        "country.harmonise",
        "validate",
        "signals",
        "send_report",
        "finish",
    } <= ids
    # One task per dbt model (astronomer-cosmos), each `dbt build` of the model and its tests.
    models = sorted(p.stem for p in (ROOT / "include" / "dbt" / "models").rglob("*.sql"))
    # ...plus the test over two models, in its own task after both.
    dbt_tasks = sorted(t.split(".", 1)[1] for t in ids if t.startswith("build_marts."))
    assert dbt_tasks == sorted([*models, "indicators_monthly_scopes_have_counts_test"])
    assert dag.get_task("build_marts.stg_feedback").upstream_task_ids == {"validate"}
    assert (
        "build_marts.int_monthly_counts"
        in dag.get_task("build_marts.stg_feedback").downstream_task_ids
    )
    assert dag.get_task("signals").outlets, (
        "signals updates the asset the programme report waits on"
    )
    assert "send_report" in dag.get_task("signals").downstream_task_ids
    assert dag.get_task("country.extract").map_index_template
    # Monthly data intervals, not cron trigger points.
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_imports_no_heavy_libraries(path):
    heavy = ["pandas", "great_expectations", "duckdb", "googleapiclient", "matplotlib", "psycopg"]
    code = textwrap.dedent(
        f"""
        import runpy, sys
        runpy.run_path({str(path)!r})
        print("HEAVY:" + ",".join(m for m in {heavy!r} if m in sys.modules))
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    # Cosmos logs its parsing to stdout too: read the marked line only.
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("HEAVY:")]
    assert line == "HEAVY:", f"heavy imports: {line}"


def _bad_config_dir(tmp_path: Path, mutate) -> Path:
    src = ROOT / "include" / "config"
    dst = tmp_path / "config"
    dst.mkdir()
    for f in src.glob("*.yaml"):
        (dst / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    data = yaml.safe_load((dst / "partners.yaml").read_text(encoding="utf-8"))
    mutate(data["partners"])
    (dst / "partners.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return dst


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda ps: ps.append(dict(ps[0])), "duplicate country 'SE'"),
        (lambda ps: ps[0].update(recipients=[]), "partners[0 SE].recipients"),
        (lambda ps: ps[1].update(recipients=["nobody-at-example.org"]), "invalid email"),
        (lambda ps: ps[2].update(timezone="Europe/Riga2"), "unknown time zone"),
    ],
    ids=["duplicate-country", "missing-recipient", "invalid-email", "unknown-timezone"],
)
def test_bad_partner_config_is_an_import_error_naming_file_and_key(
    tmp_path, monkeypatch, mutate, expected
):
    """Data staff see a readable import error in the UI, not a task failure a month later."""
    from airflow.dag_processing.dagbag import DagBag

    cfg = _bad_config_dir(tmp_path, mutate)
    monkeypatch.setenv("BSIN_CONFIG_DIR", str(cfg))
    bag = DagBag(dag_folder=str(ROOT / "dags" / "monthly_feedback.py"))
    assert "bsin_monthly_feedback" not in bag.dags
    (message,) = bag.import_errors.values()
    assert str(cfg / "partners.yaml") in message
    assert expected in message
