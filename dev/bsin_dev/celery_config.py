"""Celery settings of a local CeleryExecutor instance: Airflow's defaults, plus the task
modules of :mod:`bsin_dev.preload` imported by the worker before it forks its pool.

Use with ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=bsin_dev.celery_config.CELERY_CONFIG``.
Airflow's non-team Celery app takes this dict as its whole configuration, so it extends the
defaults rather than listing changes.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

from bsin_dev.preload import TASK_PRELOAD

# Celery's worker imports ``imports`` once in its main process, before the prefork pool
# starts: the pool processes, and the task processes they fork, inherit the modules.
CELERY_CONFIG: dict[str, Any] = {
    **DEFAULT_CELERY_CONFIG,
    "imports": [*DEFAULT_CELERY_CONFIG.get("imports", ()), *TASK_PRELOAD],
}
