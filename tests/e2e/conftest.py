"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def migrated_airflow_home(tmp_path_factory) -> Callable[[Path], Path]:
    """Make an AIRFLOW_HOME whose SQLite metadata DB is already migrated, for the tests
    that run the DAG with ``dag.test`` (``bsin_dev.airflow_runner``).

    ``airflow db migrate`` costs 15-20 s of a busy machine; it runs once per test process
    (per xdist worker) into a template, and each home gets a copy of that file. Call it with
    the home folder; it returns the folder.
    """
    from bsin_dev.localenv import local_environment

    template = tmp_path_factory.mktemp("airflow_home_template")
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env={**os.environ, **local_environment(template)},
        check=True,
        capture_output=True,
    )

    def make(home: Path) -> Path:
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template / "airflow.db", home / "airflow.db")
        return home

    return make


@pytest.fixture(scope="session")
def runner_command() -> list[str]:
    """``bsin_dev.airflow_runner`` (every task in one process, as ``make demo`` runs them)
    with Python's cyclic garbage collector off; append ``--month`` arguments.

    An object an earlier task left for the collector then stays until a later task meets
    it, every time instead of by chance: a dbt task failed on such a leftover warehouse
    instance in one of three demos and passed on its retry (docs/warehouse.md). The tests
    read the runner's ``retried`` and expect no retry at all.
    """
    return [
        sys.executable,
        "-c",
        "import gc, runpy; gc.disable();"
        " runpy.run_module('bsin_dev.airflow_runner', run_name='__main__', alter_sys=True)",
    ]
