"""End to end through the Airflow UI's own machinery: real scheduler, DAG processor,
triggerer and API server processes (not ``dag.test()``), runs triggered, approved or
rejected and watched through the REST API v2 with a SimpleAuthManager token, as data staff
do it from the UI; then the warehouse, the outbox and every log are checked.

One Airflow instance (LocalExecutor) serves the module: starting one and running the dbt
task group cost minutes, so the tests share it, each with its own report month. Its
configuration requires approval before sending (programme.yaml ``approval: required``) and
it logs at DEBUG, the level at which the supervisor once printed the SMTP password:

* March waits for approval with nothing sent, shows every partner's headline figures,
  signals and preview path, and sends every report once approved;
* April is rejected with a reason: nothing is sent and the reason is recorded in
  ``report_approval``.

A run without the approval step through the scheduler is covered by the Celery test
(test_celery_e2e.py) and by the ``dag.test`` runs (test_e2e_monthly.py).

PostgreSQL holds the metadata DB (a copy of a migrated template; SQLite locks as soon as
the components write concurrently) and the warehouse (another fresh database).
"""

from __future__ import annotations

import shutil
import time
from types import SimpleNamespace

import httpx
import psycopg
import pytest

from bsin.core.config import load_partners
from bsin.delivery.approval import REASON_PARAM, TASK_ID
from tests.support.airflow_harness import (
    PROJECT_DAGS,
    REAL_DAG_ID,
    AirflowHarness,
    check_month_run,
    check_run_names_month,
    create_metadata_database,
    drop_database,
    leaked_secrets,
    month_interval,
    project_services,
)
from tests.support.services import require_postgres

ROOT = PROJECT_DAGS.parent

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.postgres]

HITL = "/dags/{dag}/dagRuns/{run}/taskInstances/" + TASK_ID + "/-1/hitlDetails"


@pytest.fixture(scope="module")
def airflow_instance(tmp_path_factory):
    """Running Airflow with the project's DAGs and local services, approval required,
    logging at DEBUG; the DAG parsed (its state then kept) and unpaused through the API."""
    tmp = tmp_path_factory.mktemp("airflow_api")
    config = tmp / "config"
    shutil.copytree(ROOT / "include" / "config", config)
    programme = config / "programme.yaml"
    programme.write_text(
        programme.read_text(encoding="utf-8").replace('approval: "off"', "approval: required"),
        encoding="utf-8",
    )
    admin_dsn = require_postgres()
    metadata_dsn = create_metadata_database(admin_dsn)
    harness = None
    try:
        with project_services(tmp, admin_dsn) as services:
            harness = AirflowHarness(
                home=tmp / "airflow_home",
                metadata_dsn=metadata_dsn,
                migrated=True,
                dags_folder=PROJECT_DAGS,
                extra_env={
                    **services.env,
                    "BSIN_CONFIG_DIR": str(config),
                    "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
                },
            )
            harness.start()
            with harness.timed("DAG parsed"):
                parsed = harness.wait_for_dag(REAL_DAG_ID)
            yield SimpleNamespace(
                harness=harness,
                services=services,
                parsed=parsed,
                unpaused=harness.unpause(REAL_DAG_ID),
            )
    finally:
        if harness is not None:
            harness.stop()
        drop_database(admin_dsn, metadata_dsn)


# Generous: the suite's other worker shares the two cores with this run's dbt tasks.
def _wait_for_approval_request(harness: AirflowHarness, run_id: str, timeout: float = 900):
    deadline = time.monotonic() + timeout
    states: dict = {}
    while time.monotonic() < deadline:
        harness.check_alive()
        states = harness.task_states(REAL_DAG_ID, run_id)
        if states.get(TASK_ID) == "awaiting_input":
            return states
        assert "failed" not in states.values(), f"{states}\n{harness.diagnostics()}"
        time.sleep(1)
    raise AssertionError(f"no approval request after {timeout}s: {states}")


def _approval(services, month: str):
    with psycopg.connect(services.warehouse_dsn) as conn:
        return conn.execute(
            "select decision, reason, decided_by from report_approval where report_month = %s",
            (f"{month}-01",),
        ).fetchone()


def _check_no_secret_in_logs_or_mails(harness: AirflowHarness, services) -> None:
    """No secret reached a log, at DEBUG: warehouse passwords (user part and ?password=),
    SMTP password, pseudonym key, JWT secret, login (issue 10, findings 5 and 6)."""
    canaries = {**services.secrets, "JWT secret": harness.jwt_secret, "login": harness.password}
    assert leaked_secrets(harness, canaries) == {}
    assert any(
        " DEBUG " in p.read_text(errors="replace") or '"debug"' in p.read_text(errors="replace")
        for p in harness.log_dir.rglob("*")
        if p.is_file()
    ), "logs were at DEBUG"
    mails = [p.read_text(errors="replace") for p in services.outbox.glob("*.eml")]
    assert not [n for n, v in canaries.items() for m in mails if v in m]


# Instance start plus one month with a person in between: 2-4 minutes on a quiet machine,
# up to 10 on one busy with other test runs.
@pytest.mark.timeout(1800)
def test_run_triggered_through_rest_api_waits_for_approval_then_sends(airflow_instance):
    harness, services = airflow_instance.harness, airflow_instance.services
    partners = load_partners()
    month = "2023-03"

    assert airflow_instance.parsed["is_paused"] is True  # as DAGS_ARE_PAUSED_AT_CREATION
    assert airflow_instance.unpaused["is_paused"] is False
    # The API is really behind the auth manager: no token or a wrong password gets nothing.
    assert harness.anonymous("GET", f"/dags/{REAL_DAG_ID}").status_code == 401
    bad = httpx.post(
        f"{harness.api_url}/auth/token", json={"username": "admin", "password": "wrong"}
    )
    assert bad.status_code == 401

    run = harness.trigger_run(REAL_DAG_ID, **month_interval(month))
    assert run["state"] == "queued"
    check_run_names_month(run, month)
    run_id = run["dag_run_id"]

    # Rendered, waiting, nothing sent.
    states = _wait_for_approval_request(harness, run_id)
    assert not [k for k, v in states.items() if k.startswith("send_report") and v], states
    assert list(services.outbox.glob("*.eml")) == []
    detail = harness.api_json("GET", HITL.format(dag=REAL_DAG_ID, run=run_id))
    assert detail["options"] == ["Approve", "Reject"]
    assert month in detail["subject"]
    for p in partners.partners:
        assert f"{p.name} ({p.country})" in detail["body"]
        assert f"preview/approval/{month}/{p.country}/report.html" in detail["body"]
    assert "Response rate" in detail["body"] and "signals:" in detail["body"]

    answer = harness.api_json(
        "PATCH",
        HITL.format(dag=REAL_DAG_ID, run=run_id),
        json={"chosen_options": ["Approve"], "params_input": {REASON_PARAM: "checked"}},
    )
    assert answer["chosen_options"] == ["Approve"]
    with harness.timed("run"):
        final = harness.wait_for_run(REAL_DAG_ID, run_id, timeout=600)
    assert final["state"] == "success", harness.diagnostics()
    check_month_run(harness, services, run_id, month)  # every report sent, once
    assert _approval(services, month)[:2] == ("approved", "checked")
    assert list(services.outbox.glob("*.eml")), "no report sent"
    _check_no_secret_in_logs_or_mails(harness, services)
    print(f"\nAirflow API e2e timings (s): {harness.timings}")


@pytest.mark.timeout(1200)
def test_rejected_month_sends_nothing_and_records_the_reason(airflow_instance):
    harness, services = airflow_instance.harness, airflow_instance.services
    month = "2023-04"
    reason = "LV figures look wrong, re-check the form"

    run_id = harness.trigger_run(REAL_DAG_ID, **month_interval(month))["dag_run_id"]
    _wait_for_approval_request(harness, run_id)
    harness.api_json(
        "PATCH",
        HITL.format(dag=REAL_DAG_ID, run=run_id),
        json={"chosen_options": ["Reject"], "params_input": {REASON_PARAM: reason}},
    )
    harness.wait_for_run(REAL_DAG_ID, run_id, timeout=600)
    states = harness.task_states(REAL_DAG_ID, run_id)
    sends = {k: v for k, v in states.items() if k.startswith("send_report")}
    assert sends and set(sends.values()) == {"skipped"}, states
    assert list(services.outbox.glob(f"*_{month}.eml")) == []
    decision, stored_reason, _ = _approval(services, month)
    assert (decision, stored_reason) == ("rejected", reason)
    with psycopg.connect(services.warehouse_dsn) as conn:
        sent = conn.execute(
            "select count(*) from delivery_log where report_month = %s", (f"{month}-01",)
        ).fetchone()[0]
    assert sent == 0
    _check_no_secret_in_logs_or_mails(harness, services)
