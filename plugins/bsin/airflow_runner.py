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


def run_month(month: date, *, deliver: bool = True, resend: bool = False) -> str:
    """Run the DAG for report ``month``; return the run's final state (``success``/``failed``).

    A manual run's data interval is the last whole month before its logical date, so the
    run for March is triggered at 1 April.
    """
    from airflow.utils.cli import get_bagged_dag

    dag = get_bagged_dag(None, DAG_ID)
    end = add_months(month, 1)
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
            .one()
        )
        out = {}
        for ti in run.get_task_instances(session=session):
            label = f"[{ti.rendered_map_index or ti.map_index}]" if ti.map_index >= 0 else ""
            out[f"{ti.task_id}{label}"] = str(ti.state)
        return out
