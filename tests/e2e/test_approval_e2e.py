"""Approval before sending (programme.yaml ``approval: required``), through the real
Airflow components and the REST API v2, as data staff would do it from the UI.

One Airflow instance, two months: March waits for approval with nothing sent, shows every
partner's headline figures, signals and preview path, and sends all reports once approved
through the API; April is rejected with a reason: nothing is sent and the reason is
recorded in ``report_approval``.
"""

from __future__ import annotations

import shutil
import time

import psycopg
import pytest

from bsin.core.config import load_partners
from bsin.delivery.approval import REASON_PARAM, TASK_ID
from tests.support.airflow_harness import (
    PROJECT_DAGS,
    REAL_DAG_ID,
    AirflowHarness,
    check_month_run,
    create_database,
    drop_database,
    month_interval,
    project_services,
)
from tests.support.services import require_postgres

ROOT = PROJECT_DAGS.parent

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.postgres]

HITL = "/dags/{dag}/dagRuns/{run}/taskInstances/" + TASK_ID + "/-1/hitlDetails"


@pytest.fixture
def airflow_with_approval(tmp_path):
    """Running Airflow whose configuration requires approval of each month's reports."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "include" / "config", config)
    programme = config / "programme.yaml"
    programme.write_text(
        programme.read_text(encoding="utf-8").replace('approval: "off"', "approval: required"),
        encoding="utf-8",
    )
    admin_dsn = require_postgres()
    metadata_dsn = create_database(admin_dsn, "bsin_af")
    harness = None
    try:
        with project_services(tmp_path, admin_dsn) as services:
            harness = AirflowHarness(
                home=tmp_path / "airflow_home",
                metadata_dsn=metadata_dsn,
                dags_folder=PROJECT_DAGS,
                extra_env={**services.env, "BSIN_CONFIG_DIR": str(config)},
            )
            harness.start()
            yield harness, services
    finally:
        if harness is not None:
            harness.stop()
        drop_database(admin_dsn, metadata_dsn)


def _wait_for_approval_request(harness: AirflowHarness, run_id: str, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        harness.check_alive()
        states = harness.task_states(REAL_DAG_ID, run_id)
        if states.get(TASK_ID) == "awaiting_input":
            return states
        assert "failed" not in states.values(), f"{states}\n{harness.diagnostics()}"
        time.sleep(2)
    raise AssertionError(f"no approval request after {timeout}s: {states}")


def _approval(harness, services, month: str):
    with psycopg.connect(services.warehouse_dsn) as conn:
        return conn.execute(
            "select decision, reason, decided_by from report_approval where report_month = %s",
            (f"{month}-01",),
        ).fetchone()


# Two months through Airflow with a person in between: about 5 minutes on a quiet machine.
@pytest.mark.timeout(900)
def test_reports_wait_for_approval_and_reject_sends_nothing(airflow_with_approval):
    harness, services = airflow_with_approval
    partners = load_partners()
    harness.wait_for_dag(REAL_DAG_ID)
    harness.unpause(REAL_DAG_ID)

    # March: rendered, waiting, nothing sent.
    run = harness.trigger_run(REAL_DAG_ID, **month_interval("2023-03"))["dag_run_id"]
    states = _wait_for_approval_request(harness, run)
    assert not [k for k, v in states.items() if k.startswith("send_report") and v], states
    assert list(services.outbox.glob("*.eml")) == []
    detail = harness.api_json("GET", HITL.format(dag=REAL_DAG_ID, run=run))
    assert detail["options"] == ["Approve", "Reject"]
    assert "2023-03" in detail["subject"]
    for p in partners.partners:
        assert f"{p.name} ({p.country})" in detail["body"]
        assert f"preview/approval/2023-03/{p.country}/report.html" in detail["body"]
    assert "Response rate" in detail["body"] and "signals:" in detail["body"]

    answer = harness.api_json(
        "PATCH",
        HITL.format(dag=REAL_DAG_ID, run=run),
        json={"chosen_options": ["Approve"], "params_input": {REASON_PARAM: "checked"}},
    )
    assert answer["chosen_options"] == ["Approve"]
    final = harness.wait_for_run(REAL_DAG_ID, run, timeout=240)
    assert final["state"] == "success", harness.diagnostics()
    check_month_run(harness, services, run, "2023-03")  # every report sent, once
    assert _approval(harness, services, "2023-03")[:2] == ("approved", "checked")

    # April: rejected with a reason; nothing is sent.
    run = harness.trigger_run(REAL_DAG_ID, **month_interval("2023-04"))["dag_run_id"]
    _wait_for_approval_request(harness, run)
    harness.api_json(
        "PATCH",
        HITL.format(dag=REAL_DAG_ID, run=run),
        json={
            "chosen_options": ["Reject"],
            "params_input": {REASON_PARAM: "LV figures look wrong, re-check the form"},
        },
    )
    harness.wait_for_run(REAL_DAG_ID, run, timeout=240)
    states = harness.task_states(REAL_DAG_ID, run)
    sends = {k: v for k, v in states.items() if k.startswith("send_report")}
    assert sends and set(sends.values()) == {"skipped"}, states
    assert list(services.outbox.glob("*_2023-04.eml")) == []
    decision, reason, _ = _approval(harness, services, "2023-04")
    assert (decision, reason) == ("rejected", "LV figures look wrong, re-check the form")
    with psycopg.connect(services.warehouse_dsn) as conn:
        sent = conn.execute(
            "select count(*) from delivery_log where report_month = '2023-04-01'"
        ).fetchone()[0]
    assert sent == 0
