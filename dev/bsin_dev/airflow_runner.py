"""Run the monthly DAG through Airflow in this process (``dag.test``), for the demo,
the backfill target and the end-to-end tests.

Import only after the environment of :mod:`bsin_dev.localenv` is in ``os.environ``.

``dag.test`` is Airflow's supported way to run a DAG in one process, but it names the run
``manual__<wall clock>``, starts it at its logical date (in 2023: the UI showed runs of
1,400 days) and prints task logs instead of writing the files the UI reads. It offers no
parameter for either, so :func:`run_month` wraps two of its helpers for the call: the one
that creates the run (run id ``month__YYYY-MM``, start now) and the one that runs a task
(its log also goes to the task's log file). Should Airflow rename them, the patch fails
loudly; ``tests/e2e/test_e2e_monthly.py`` checks run id, duration and log files.
"""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pendulum

from bsin.core.months import month_run_id

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


# Modules the run's tasks import, besides those of bsin.orchestration.preload: validate's GX.
_RUNNER_PRELOAD = ("great_expectations",)


@functools.cache
def _warm_up() -> None:
    """Import what the tasks will import, then freeze the heap so far (once per process).

    Every task runs in this process, and each dbt task ends with a full ``gc.collect()``
    (Cosmos releases dbt's adapters so): over a heap holding Airflow, dbt, GX and pandas that
    is half a second each time, for objects that live as long as the process anyway.
    ``gc.freeze()`` moves them out of the collector's sight; what the tasks create later is
    collected as before.
    """
    from bsin.orchestration.preload import preload

    _dag()
    preload(*_RUNNER_PRELOAD)


def _month_start(month: date) -> pendulum.DateTime:
    return pendulum.datetime(month.year, month.month, 1, tz="UTC")


class _TaskLogFile(logging.Handler):
    """Writes one task's log records where Airflow's UI reads them, as JSON lines.

    ``dag.test`` runs tasks in this process and prints their logs instead of writing the
    per-attempt files a worker writes, so the demo's runs had empty logs in the UI.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = path.open("w", encoding="utf-8")  # a re-run replaces the run

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = record.getMessage()
            if record.exc_info:
                event += "\n" + "".join(traceback.format_exception(*record.exc_info))
            line = {
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(),
                "logger": record.name,
                "event": event,
            }
            self._stream.write(json.dumps(line, default=str) + "\n")
            self._stream.flush()
        except Exception:  # a log line must never fail the task
            self.handleError(record)

    def close(self) -> None:
        self._stream.close()
        super().close()


def task_log_path(ti: Any) -> Path:
    """Where Airflow's file task handler looks for the log of ``ti``'s current attempt."""
    from airflow.configuration import conf
    from airflow.utils.log.file_task_handler import FileTaskHandler

    folder = conf.get("logging", "base_log_folder")
    return Path(folder) / FileTaskHandler(folder)._render_filename(ti, ti.try_number)


def _logged(run_task: Callable[..., Any]) -> Callable[..., Any]:
    def run_task_with_log_file(*, ti: Any, task: Any, run_triggerer: bool = False) -> Any:
        handler = _TaskLogFile(task_log_path(ti))
        root = logging.getLogger()
        level = root.level
        # A quiet terminal (the demo's AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR) sets the
        # root logger to ERROR; its console handler keeps that level, the file gets INFO.
        root.setLevel(min(level, logging.INFO) if level else logging.INFO)
        root.addHandler(handler)
        try:
            return run_task(ti=ti, task=task, run_triggerer=run_triggerer)
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
            handler.close()

    return run_task_with_log_file


def _month_dagrun(create: Callable[..., Any], month: date) -> Callable[..., Any]:
    def get_or_create_month_run(**kwargs: Any) -> Any:
        # dag.test names the run manual__<wall clock> and starts it at its logical date,
        # which the UI showed as a run of 1,400 days; name it by month, start it now.
        kwargs["run_id"] = month_run_id(month)
        kwargs["start_date"] = pendulum.now("UTC")
        return create(**kwargs)

    return get_or_create_month_run


def _explicit_run_dag(dag):
    """``dag`` without its end date, for a month requested explicitly.

    The DAG's ``end_date`` (the programme's last month) keeps the scheduler from creating
    runs after the programme; a month requested explicitly (a re-run, a demo of the last
    month) must run whatever the DAG's end date says.
    """
    dag.end_date = None
    for task in dag.tasks:
        task.end_date = None
    return dag


def run_month(month: date, *, deliver: bool = True, resend: bool = False) -> str:
    """Run the DAG for report ``month``; return the run's final state (``success``/``failed``).

    The run is ``month__YYYY-MM`` with logical date and data interval start on the month's
    first day, as a scheduled run of the month has (bsin.orchestration.timetables). Its tasks' logs are
    written where the UI reads them.
    """
    import airflow.models.dagrun as dagrun_module
    import airflow.sdk.definitions.dag as dag_module

    _warm_up()
    dag = _explicit_run_dag(_dag())
    with (
        mock.patch.object(
            dagrun_module,
            "get_or_create_dagrun",
            _month_dagrun(dagrun_module.get_or_create_dagrun, month),
        ),
        mock.patch.object(dag_module, "_run_task", _logged(dag_module._run_task)),
    ):
        dag_run = dag.test(
            logical_date=_month_start(month),
            run_conf={"deliver": deliver, "resend": resend},
        )
    return str(dag_run.state)


def _task_instances(month: date) -> dict[str, tuple[str, int]]:
    """``{task_id[map_label]: (state, try_number)}`` of the run for ``month``."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = (
            session.query(DagRun)
            .filter(DagRun.dag_id == DAG_ID)
            .filter(DagRun.run_id == month_run_id(month))
            .one()
        )
        out = {}
        for ti in run.get_task_instances(session=session):
            label = f"[{ti.rendered_map_index or ti.map_index}]" if ti.map_index >= 0 else ""
            out[f"{ti.task_id}{label}"] = (str(ti.state), ti.try_number)
        return out


def task_states(month: date) -> dict[str, str]:
    """``{task_id[map_label]: state}`` of the run for ``month``, from the metadata DB."""
    return {task: state for task, (state, _) in _task_instances(month).items()}


def retried_tasks(month: date) -> dict[str, int]:
    """``{task_id[map_label]: try_number}`` of the run's tasks that needed more than one try.

    A retry hides a failure from the run's state; the end-to-end tests expect none.
    """
    return {task: tries for task, (_, tries) in _task_instances(month).items() if tries > 1}


def run_info(month: date) -> dict[str, Any]:
    """Run id, logical date, data interval and duration of ``month``'s run, as the UI shows."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=DAG_ID, run_id=month_run_id(month)).one()
        return {
            "run_id": run.run_id,
            "logical_date": run.logical_date.isoformat(),
            "data_interval_start": run.data_interval_start.isoformat(),
            "data_interval_end": run.data_interval_end.isoformat(),
            "duration_seconds": round((run.end_date - run.start_date).total_seconds(), 1),
        }


def warehouse_digest() -> str:
    """SHA-256 over every warehouse table's sorted rows: equal digests, identical contents."""
    import hashlib

    from bsin.warehouse.db import Warehouse

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
    """``python -m bsin_dev.airflow_runner --month YYYY-MM [--month ...] [--no-deliver]``.

    Runs the months in the order given, in one process, and prints one result line per run
    (state, task states, the tasks that needed a retry, warehouse digest). Exit 0 when every run succeeded.
    """
    import argparse

    from bsin.core.months import parse_month

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
            "retried": retried_tasks(month),
            "run": run_info(month),
            "digest": warehouse_digest(),
        }
        print("BSIN_RUN_RESULT " + json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
