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
