"""Celery settings of the project's CeleryExecutor workers: Airflow's defaults, plus the task
modules of :mod:`bsin.orchestration.preload` imported and frozen by the worker before it
forks its pool.

Used with ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=bsin.orchestration.celery_config.CELERY_CONFIG``
(docker-compose.yaml, and the Celery instance of the end-to-end tests). Airflow's non-team
Celery app takes this dict as its whole configuration, so it extends the defaults rather
than listing changes.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

from bsin.orchestration.preload import TASK_PRELOAD, freeze

# Celery's worker imports ``imports`` once in its main process, before the prefork pool
# starts: the pool processes, and the task processes they fork, inherit the modules.
CELERY_CONFIG: dict[str, Any] = {
    **DEFAULT_CELERY_CONFIG,
    "imports": [*DEFAULT_CELERY_CONFIG.get("imports", ()), *TASK_PRELOAD],
}


@worker_init.connect
def freeze_preloaded(**_: Any) -> None:
    """Freeze the worker's heap once ``imports`` are in, before the pool forks
    (Celery sends ``worker_init`` in the worker's main process after importing them)."""
    freeze()
