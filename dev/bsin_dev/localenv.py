"""Environment for local runs (demo, tests, `make airflow`): Airflow home in the project,
SQLite metadata, connections pointing at the local emulator, SMTP sink and DuckDB file.

Production sets the same variables (``AIRFLOW_CONN_*``) from its secrets instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from bsin.core.paths import PROJECT_ROOT, data_dir

# The demo must never need a key typed in; the key is refused outside the demo (BSIN_DEMO).
from bsin.ingest.pseudonymise import DEMO_ENV, DEMO_PSEUDONYM_KEY, KEY_ENV  # noqa: F401 (re-export)


def harness_hostname() -> str:
    """``[core] hostname_callable`` naming a process recognisably in task instance rows:
    ``BSIN_HARNESS_HOSTNAME`` when set (the Celery end-to-end test marks its worker with
    it), else the machine's FQDN as Airflow's default."""
    import socket

    return os.environ.get("BSIN_HARNESS_HOSTNAME") or socket.getfqdn()


def forms_conn_uri(endpoint: str) -> str:
    """``AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT`` value for a Forms API at ``endpoint``."""
    return json.dumps(
        {"conn_type": "google_forms", "extra": {"endpoint": endpoint, "num_retries": 3}}
    )


def smtp_conn_uri(
    port: int, host: str = "127.0.0.1", login: str | None = None, password: str | None = None
) -> str:
    """``AIRFLOW_CONN_SMTP_DEFAULT`` for a plain local SMTP server (no SSL, no STARTTLS)."""
    credentials = {"login": login, "password": password} if login else {}
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": host,
            "port": port,
            **credentials,
            "extra": {
                "disable_ssl": True,
                "disable_tls": True,
                "from_email": "reports@bsin.example.org",
                "timeout": 10,
                "retry_limit": 1,
            },
        }
    )


def duckdb_uri(path: Path) -> str:
    """Warehouse URI of a DuckDB file."""
    return "duckdb:///" + quote(str(path.resolve()).lstrip("/"))


def lineage_environment() -> dict[str, str]:
    """OpenLineage for a local Airflow: events appended to data/lineage/openlineage.jsonl.

    A transport set by the caller (``AIRFLOW__OPENLINEAGE__TRANSPORT``, or
    ``OPENLINEAGE_URL`` for Marquez, see docs/operations.md) is kept as it is.
    """
    env = {
        "AIRFLOW__OPENLINEAGE__NAMESPACE": os.environ.get("AIRFLOW__OPENLINEAGE__NAMESPACE", "bsin")
    }
    if os.environ.get("OPENLINEAGE_URL") or os.environ.get("AIRFLOW__OPENLINEAGE__TRANSPORT"):
        return env
    events = data_dir() / "lineage" / "openlineage.jsonl"
    events.parent.mkdir(parents=True, exist_ok=True)
    env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
        {"type": "file", "log_file_path": str(events), "append": True}
    )
    return env


def local_environment(
    airflow_home: Path | None = None,
    *,
    forms_endpoint: str | None = None,
    smtp_port: int | None = None,
    warehouse_uri: str | None = None,
    demo: bool = True,
) -> dict[str, str]:
    """Variables for a local Airflow: merge into ``os.environ`` before importing airflow.

    ``demo`` (sample data, local stand-ins) sets ``BSIN_DEMO=1`` and falls back to the demo
    key; with ``demo=False`` (real connections) the key must come from ``BSIN_PSEUDONYM_KEY``
    and is left out when that is unset, so the run refuses to start instead of using it.
    """
    home = airflow_home or PROJECT_ROOT / "airflow_home"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "BSIN_PROJECT_ROOT": str(PROJECT_ROOT),
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": warehouse_uri
        or duckdb_uri(data_dir() / "warehouse.duckdb"),
    }
    if demo:
        env[DEMO_ENV] = "1"
        env[KEY_ENV] = os.environ.get(KEY_ENV, DEMO_PSEUDONYM_KEY)
    elif os.environ.get(KEY_ENV):
        env[KEY_ENV] = os.environ[KEY_ENV]
    env.update(lineage_environment())
    if forms_endpoint:
        env["AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT"] = forms_conn_uri(forms_endpoint)
    if smtp_port:
        env["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp_conn_uri(smtp_port)
    return env


def open_local_warehouse(uri: str | None = None):
    """The warehouse a command-line tool should read: ``uri`` if given, else the
    ``warehouse_default`` connection when it is set, else the demo's DuckDB file."""
    from bsin.warehouse.db import Warehouse

    if uri:
        return Warehouse.from_uri(uri)
    if os.environ.get("AIRFLOW_CONN_WAREHOUSE_DEFAULT"):
        return Warehouse.from_conn_id("warehouse_default")
    path = data_dir() / "warehouse.duckdb"
    if not path.exists():
        raise SystemExit(
            f"error: no warehouse at {path}: run `make demo` first, or pass --warehouse URI"
        )
    return Warehouse.from_uri(duckdb_uri(path))
