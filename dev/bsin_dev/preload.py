"""Modules the monthly DAG's task processes import, for the Airflow processes that fork
them to import once beforehand (the local instances of the end-to-end tests).

Airflow 3 runs every task in a process forked from an executor worker; that process parses
the DAG file and imports what its task needs: for each dbt model task dbt, its adapters,
Cosmos and pandas, seconds of CPU each time. A worker that imported them before it forks
hands them on copy-on-write. Importing them runs and connects to nothing.

* LocalExecutor: ``[scheduler] mp_start_method = forkserver`` with
  ``[scheduler] mp_forkserver_preload`` set to these modules (the workers, and the task
  processes they fork, start from a process that imported them).
* CeleryExecutor: ``[celery] celery_config_options = bsin_dev.celery_config.CELERY_CONFIG``
  (the worker imports them before it forks its pool).
* ``bsin_dev.airflow_runner`` (``dag.test``: every task in its one process) imports them
  before the first run and freezes them out of the garbage collector's sight.
"""

from __future__ import annotations

TASK_PRELOAD: tuple[str, ...] = (
    "airflow.sdk.execution_time.task_runner",
    "cosmos.operators.local",
    "dbt.cli.main",
    "dbt.adapters.postgres",
    "dbt.adapters.duckdb",
    "pandas",
)


def local_executor_preload_environment() -> dict[str, str]:
    """Environment making the scheduler's LocalExecutor workers start with ``TASK_PRELOAD``."""
    return {
        "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
        "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": ",".join(TASK_PRELOAD),
    }
