"""Modules the monthly DAG's task processes import, for the Airflow processes that fork
them to import once beforehand.

Airflow 3 runs every task in a process forked from an executor worker; that process parses
the DAG file and imports what its task needs: for each dbt model task dbt, its adapters,
Cosmos and pandas, seconds of CPU each time; for each partner's report task matplotlib,
some 0.4 to 0.8 s (docs/performance.md). A worker that imported them before it forks hands
them on copy-on-write. Importing them runs and connects to nothing.

A worker that has imported them also freezes them (``gc.freeze``): each task process
would otherwise rescan that heap in every full collection of the cyclic garbage collector
(about a fifth of a second at a time, measured in a report task), and the scan's writes
would copy the shared pages into the task process.

* CeleryExecutor (docker-compose.yaml): ``[celery] celery_config_options =
  bsin.orchestration.celery_config.CELERY_CONFIG`` (the worker imports and freezes them
  before it forks its pool).
* LocalExecutor (``make airflow``, the end-to-end tests' instances):
  ``[scheduler] mp_start_method = forkserver`` with
  ``[scheduler] mp_forkserver_preload`` set to these modules
  (:func:`local_executor_preload_environment`; the workers, and the task processes they
  fork, start from a process that imported them; the forkserver offers no hook to freeze).
* ``bsin_dev.airflow_runner`` (``dag.test``: every task in its one process) imports and
  freezes them before the first run.

The project's own package ``bsin`` is left out on purpose: a worker holding it would run
the code it started with after ``plugins/bsin`` changed, until it is restarted.
"""

from __future__ import annotations

#: Imported by a worker before it forks task processes. The matplotlib modules are the ones
#: ``bsin.reporting.report_charts`` and ``programme_charts`` import lazily (DAG parsing must
#: stay light, so ``bsin`` itself does not import them).
TASK_PRELOAD: tuple[str, ...] = (
    "airflow.sdk.execution_time.task_runner",
    "cosmos.operators.local",
    "dbt.cli.main",
    "dbt.adapters.postgres",
    "dbt.adapters.duckdb",
    "pandas",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "airflow.providers.common.sql.hooks.sql",
    "airflow.providers.postgres.hooks.postgres",
    "airflow.providers.duckdb.hooks.duckdb",
)


def local_executor_preload_environment() -> dict[str, str]:
    """Environment making the scheduler's LocalExecutor workers start with ``TASK_PRELOAD``."""
    return {
        "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
        "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": ",".join(TASK_PRELOAD),
    }


def preload(*extra: str) -> None:
    """Import every module of ``TASK_PRELOAD`` (and ``extra``) into this process, then
    :func:`freeze` it, as a worker does before it forks task processes."""
    import importlib

    for name in (*TASK_PRELOAD, *extra):
        importlib.import_module(name)
    freeze()


def freeze() -> None:
    """Collect this process's garbage, then move every object left out of the cyclic
    collector's sight for good (``gc.freeze``): what a forked task process inherits is
    never rescanned; what it creates itself is collected as before."""
    import gc

    gc.collect()
    gc.freeze()
