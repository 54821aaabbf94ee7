"""End to end through the Airflow UI's own machinery: real scheduler, DAG processor,
triggerer and API server processes (not ``dag.test()``), a run triggered and watched
through the REST API v2 with a SimpleAuthManager token, then the warehouse checked.

PostgreSQL holds the metadata DB (a fresh database per test; SQLite locks as soon as the
components write concurrently) and the warehouse (another fresh database).
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.airflow_harness import (
    PROJECT_DAGS,
    REAL_DAG_ID,
    AirflowHarness,
    check_month_run,
    check_run_names_month,
    create_database,
    drop_database,
    leaked_secrets,
    month_interval,
    project_services,
)
from tests.support.services import require_postgres

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.postgres]

MONTH = "2023-03"


@pytest.fixture
def airflow_instance(tmp_path):
    """Running Airflow (LocalExecutor) with the project's DAGs and local services."""
    admin_dsn = require_postgres()
    metadata_dsn = create_database(admin_dsn, "bsin_af")
    harness = None
    try:
        with project_services(tmp_path, admin_dsn) as services:
            harness = AirflowHarness(
                home=tmp_path / "airflow_home",
                metadata_dsn=metadata_dsn,
                dags_folder=PROJECT_DAGS,
                # DEBUG: the level at which the supervisor printed the SMTP password.
                extra_env={**services.env, "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG"},
            )
            harness.start()
            yield harness, services
    finally:
        if harness is not None:
            harness.stop()
        drop_database(admin_dsn, metadata_dsn)


# Typically 2-2.5 minutes; the margin is for a machine busy with other test runs.
@pytest.mark.timeout(420)
def test_run_triggered_through_rest_api_succeeds(airflow_instance):
    harness, services = airflow_instance

    with harness.timed("DAG parsed"):
        dag = harness.wait_for_dag(REAL_DAG_ID)
    assert dag["is_paused"] is True  # DAGS_ARE_PAUSED_AT_CREATION, as in docker-compose
    # The API is really behind the auth manager: no token or a wrong password gets nothing.
    assert harness.anonymous("GET", f"/dags/{REAL_DAG_ID}").status_code == 401
    bad = httpx.post(
        f"{harness.api_url}/auth/token", json={"username": "admin", "password": "wrong"}
    )
    assert bad.status_code == 401
    assert harness.unpause(REAL_DAG_ID)["is_paused"] is False

    run = harness.trigger_run(REAL_DAG_ID, **month_interval(MONTH))
    assert run["state"] == "queued"
    check_run_names_month(run, MONTH)

    with harness.timed("run"):
        final = harness.wait_for_run(REAL_DAG_ID, run["dag_run_id"], timeout=240)
    assert final["state"] == "success", harness.diagnostics()
    check_month_run(harness, services, run["dag_run_id"], MONTH)

    # No secret reached a log, at DEBUG: warehouse passwords (user part and ?password=),
    # SMTP password, pseudonym key, JWT secret, login (issue 10, findings 5 and 6).
    canaries = {**services.secrets, "JWT secret": harness.jwt_secret, "login": harness.password}
    assert leaked_secrets(harness, canaries) == {}
    assert any(
        " DEBUG " in p.read_text(errors="replace") or '"debug"' in p.read_text(errors="replace")
        for p in harness.log_dir.rglob("*")
        if p.is_file()
    ), "logs were at DEBUG"
    mails = [p.read_text(errors="replace") for p in services.outbox.glob("*.eml")]
    assert mails and not [n for n, v in canaries.items() for m in mails if v in m]
    print(f"\nAirflow API e2e timings (s): {harness.timings}")
