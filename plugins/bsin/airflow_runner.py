"""Run the monthly DAG through Airflow in this process (``dag.test``), for the demo,
the backfill target and the end-to-end tests.

Import only after the environment of :mod:`bsin.localenv` is in ``os.environ``.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pendulum

from bsin.months import add_months

DAG_ID = "bsin_monthly_feedback"


def migrate_metadata_db(airflow_home: Path, env: dict[str, str]) -> None:
    """``airflow db migrate`` in a subprocess (idempotent; fast when already current)."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


_DAG_CACHE: dict[str, object] = {}


def _dag():
    """The DAG, parsed and serialized once per process (parsing costs seconds per run)."""
    if DAG_ID not in _DAG_CACHE:
        from airflow.utils.cli import get_bagged_dag

        _DAG_CACHE[DAG_ID] = get_bagged_dag(None, DAG_ID)
    return _DAG_CACHE[DAG_ID]


def _explicit_run_dag(dag):
    """``dag`` without its end date, for a month requested explicitly.

    The DAG's ``end_date`` (the programme's last month) keeps the scheduler from creating
    runs after the programme. A run triggered here has the logical date of the month
    *after* its report month (its data interval is the month before), so for the last
    programme month Airflow would create no task instances at all: a requested month runs.
    """
    dag.end_date = None
    for task in dag.tasks:
        task.end_date = None
    return dag


def run_month(month: date, *, deliver: bool = True, resend: bool = False) -> str:
    """Run the DAG for report ``month``; return the run's final state (``success``/``failed``).

    A manual run's data interval is the last whole month before its logical date, so the
    run for March is triggered at 1 April.
    """
    end = add_months(month, 1)
    dag = _explicit_run_dag(_dag())
    dag_run = dag.test(
        logical_date=pendulum.datetime(end.year, end.month, 1, tz="UTC"),
        run_conf={"deliver": deliver, "resend": resend},
    )
    return str(dag_run.state)


def task_states(month: date) -> dict[str, str]:
    """``{task_id[map_label]: state}`` of the latest run for ``month``, from the metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    end = add_months(month, 1)
    with create_session() as session:
        run = (
            session.query(DagRun)
            .filter(DagRun.dag_id == DAG_ID)
            .filter(DagRun.logical_date == pendulum.datetime(end.year, end.month, 1, tz="UTC"))
            .order_by(DagRun.id.desc())
            .first()
        )
        out = {}
        for ti in run.get_task_instances(session=session):
            label = f"[{ti.rendered_map_index or ti.map_index}]" if ti.map_index >= 0 else ""
            out[f"{ti.task_id}{label}"] = str(ti.state)
        return out


def warehouse_digest() -> str:
    """SHA-256 over every warehouse table's sorted rows: equal digests, identical contents."""
    import hashlib

    from bsin.warehouse import Warehouse

    wh = Warehouse.from_conn_id("warehouse_default")
    try:
        tables = wh.query_df(
            "select table_name from information_schema.tables"
            " where table_schema in ('main', 'public') and table_type = 'BASE TABLE'"
            " order by table_name",
            {},
        )["table_name"]
        digest = hashlib.sha256()
        for table in tables:
            rows = sorted(repr(tuple(r)) for r in wh.query(f"select * from {table}"))  # noqa: S608
            digest.update(f"{table}:{len(rows)}\n".encode())
            for row in rows:
                digest.update(row.encode() + b"\n")
        return digest.hexdigest()
    finally:
        wh.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m bsin.airflow_runner --month YYYY-MM [--month ...] [--no-deliver]``.

    Runs the months in the order given, in one process, and prints one result line per run
    (state, task states, warehouse digest). Exit 0 when every run succeeded.
    """
    import argparse
    import json

    from bsin.months import parse_month

    parser = argparse.ArgumentParser(description="Run bsin_monthly_feedback for some months")
    parser.add_argument("--month", action="append", required=True, help="YYYY-MM, repeatable")
    parser.add_argument("--no-deliver", action="store_true")
    parser.add_argument("--resend", action="store_true")
    args = parser.parse_args(argv)
    ok = True
    for text in args.month:
        month = parse_month(text)
        state = run_month(month, deliver=not args.no_deliver, resend=args.resend)
        ok = ok and state == "success"
        result = {
            "month": text,
            "state": state,
            "tasks": task_states(month),
            "digest": warehouse_digest(),
        }
        print("BSIN_RUN_RESULT " + json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
