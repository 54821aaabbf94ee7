"""Suite-wide setup. Airflow reads its configuration at import, so the isolated
AIRFLOW_HOME and the project's DAG folder are set here, before any test imports airflow."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="bsin-airflow-home-"))

os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
)
os.environ.setdefault("BSIN_PROJECT_ROOT", str(ROOT))
# Test key only; the code under test must never fall back to a built-in key.
os.environ.setdefault("BSIN_PSEUDONYM_KEY", "test-pseudonym-key-0123456789")
# Task code must not write into the developer's data/ folder.
os.environ.setdefault("BSIN_DATA_DIR", str(_AIRFLOW_HOME / "data"))
os.environ.setdefault("MPLBACKEND", "Agg")
