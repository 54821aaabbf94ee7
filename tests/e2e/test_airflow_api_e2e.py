"""End to end through the Airflow UI's own machinery: real scheduler, DAG processor,
triggerer and API server processes (not ``dag.test()``), a run triggered, inspected and
rejected through the REST API v2 with a SimpleAuthManager token, as data staff do it from
the UI; then the warehouse, the outbox and every log are checked.

The configuration requires approval before sending (programme.yaml ``approval: required``):
March waits for approval with nothing sent, shows every partner's headline figures,
signals and preview path, and is rejected with a reason: nothing is sent and the reason is
recorded in ``report_approval``. Airflow logs at DEBUG, the level at which the supervisor
once printed the SMTP password; no secret may show up in any log.

The approving side (every report sent once, after approval) runs under the CeleryExecutor
in test_celery_e2e.py, which also checks the logs at DEBUG; runs without the approval step
are the ``dag.test`` ones (test_e2e_monthly.py, test_nordic_alerts_e2e.py).
Each of these DAG runs costs minutes of a 2-core machine, so each case runs once.

PostgreSQL holds the metadata DB (a copy of a migrated template; SQLite locks as soon as
the components write concurrently) and the warehouse (another fresh database).
"""

from __future__ import annotations

import httpx
import psycopg
import pytest

from bsin.core.config import load_partners
from bsin.delivery.approval import REASON_PARAM
from tests.support.airflow_harness import (
    PROJECT_DAGS,
    REAL_DAG_ID,
    AirflowHarness,
    approval_required_config,
    approval_row,
    check_no_secret_in_logs_or_mails,
    check_run_names_month,
    create_metadata_database,
    drop_database,
    hitl_path,
    month_interval,
    project_services,
    wait_for_approval_request,
)
from tests.support.services import require_postgres

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.postgres]

MONTH = "2023-03"


@pytest.fixture
def airflow_instance(tmp_path):
    """Running Airflow (LocalExecutor) with the project's DAGs and local services,
    approval required, logging at DEBUG."""
    admin_dsn = require_postgres()
    metadata_dsn = create_metadata_database(admin_dsn)
    harness = None
    try:
        with project_services(tmp_path, admin_dsn) as services:
            harness = AirflowHarness(
                home=tmp_path / "airflow_home",
                metadata_dsn=metadata_dsn,
                migrated=True,
                dags_folder=PROJECT_DAGS,
                extra_env={
                    **services.env,
                    "BSIN_CONFIG_DIR": str(approval_required_config(tmp_path)),
                    "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
                },
            )
            harness.start()
            yield harness, services
    finally:
        if harness is not None:
            harness.stop()
        drop_database(admin_dsn, metadata_dsn)


# Typically 3-4 minutes; the margin is for a machine busy with other test runs.
@pytest.mark.timeout(1500)
def test_run_triggered_through_rest_api_waits_for_approval_and_rejected_sends_nothing(
    airflow_instance,
):
    harness, services = airflow_instance
    partners = load_partners()
    reason = "LV figures look wrong, re-check the form"

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
    run_id = run["dag_run_id"]

    # Rendered, waiting, nothing sent; the request names every partner and its figures.
    with harness.timed("until approval request"):
        states = wait_for_approval_request(harness, run_id)
    assert not [k for k, v in states.items() if k.startswith("send_report") and v], states
    assert list(services.outbox.glob("*.eml")) == []
    detail = harness.api_json("GET", hitl_path(run_id))
    assert detail["options"] == ["Approve", "Reject"]
    assert MONTH in detail["subject"]
    for p in partners.partners:
        assert f"{p.name} ({p.country})" in detail["body"]
        assert f"preview/approval/{MONTH}/{p.country}/report.html" in detail["body"]
    assert "Response rate" in detail["body"] and "signals:" in detail["body"]

    # Rejected with a reason: nothing is sent, the decision and reason are recorded.
    answer = harness.api_json(
        "PATCH",
        hitl_path(run_id),
        json={"chosen_options": ["Reject"], "params_input": {REASON_PARAM: reason}},
    )
    assert answer["chosen_options"] == ["Reject"]
    harness.wait_for_run(REAL_DAG_ID, run_id, timeout=600)
    states = harness.task_states(REAL_DAG_ID, run_id)
    sends = {k: v for k, v in states.items() if k.startswith("send_report")}
    assert sends and set(sends.values()) == {"skipped"}, states
    assert list(services.outbox.glob("*.eml")) == []
    decision, stored_reason, _ = approval_row(services, MONTH)
    assert (decision, stored_reason) == ("rejected", reason)
    with psycopg.connect(services.warehouse_dsn) as conn:
        sent = conn.execute(
            "select count(*) from delivery_log where report_month = %s", (f"{MONTH}-01",)
        ).fetchone()[0]
    assert sent == 0

    check_no_secret_in_logs_or_mails(harness, services)
    print(f"\nAirflow API e2e timings (s): {harness.timings}")
