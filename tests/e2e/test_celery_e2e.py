"""Scale-out for real: the project's DAG under the CeleryExecutor on this machine.

Scheduler, DAG processor, triggerer, API server (tasks call its execution API) and a
Celery worker run as separate processes; Redis is the broker (a dedicated database number
and a queue unique to the test, so parallel runs never take each other's tasks),
PostgreSQL holds the metadata DB, the Celery result backend and the warehouse.

Proof that the tasks ran on the worker and nowhere else: the worker process alone gets a
``[core] hostname_callable`` that returns a marker name, and every task instance records
that hostname and the test's queue; the worker's log shows each workload it executed.

The configuration requires approval before sending (programme.yaml ``approval: required``):
the run waits for it, data staff approve through the REST API, and every report is sent
once. Airflow logs at DEBUG, the level at which the supervisor once printed the SMTP
password: no secret may show up in any log, the worker's included. The rejecting side is
test_airflow_api_e2e.py.
"""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from bsin.delivery.approval import REASON_PARAM
from tests.support.airflow_harness import (
    PROJECT_DAGS,
    REAL_DAG_ID,
    AirflowHarness,
    AirflowHarnessError,
    approval_required_config,
    approval_row,
    check_month_run,
    check_no_secret_in_logs_or_mails,
    check_run_names_month,
    create_metadata_database,
    drop_database,
    hitl_path,
    month_interval,
    project_services,
    sqlalchemy_url,
    wait_for_approval_request,
)
from tests.support.services import require_postgres, require_redis

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

MONTH = "2023-04"
# Celery's keys (queue list, bindings) go to their own Redis database, away from db 0.
BROKER_DB = 11


def broker_url(redis_url: str) -> str:
    """``redis_url`` switched to the dedicated broker database."""
    parts = urlsplit(redis_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BROKER_DB}", "", ""))


def clear_queue(url: str, queue: str) -> None:
    """Remove the keys kombu created for ``queue`` (the queue list and its binding)."""
    import redis

    client = redis.Redis.from_url(url)
    client.delete(queue, f"_kombu.binding.{queue}")


def wait_worker_ready(harness: AirflowHarness, timeout: float = 60) -> None:
    """Wait for Celery's "ready." line in the worker log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        harness.check_alive()
        if re.search(r"celery@\S+ ready\.", harness.component_log("celery-worker", tail=20000)):
            return
        time.sleep(0.5)
    raise AirflowHarnessError("Celery worker not ready\n" + harness.diagnostics())


@pytest.fixture
def celery_airflow(tmp_path):
    """Airflow with the CeleryExecutor: core components plus one Celery worker process."""
    admin_dsn = require_postgres()
    broker = broker_url(require_redis())
    queue = f"bsin_e2e_{secrets.token_hex(4)}"
    worker_name = f"bsin-celery-worker-{queue}"
    metadata_dsn = create_metadata_database(admin_dsn)
    harness = None
    try:
        with project_services(tmp_path, admin_dsn) as services:
            harness = AirflowHarness(
                home=tmp_path / "airflow_home",
                metadata_dsn=metadata_dsn,
                migrated=True,
                dags_folder=PROJECT_DAGS,
                executor="CeleryExecutor",
                extra_env={
                    **services.env,
                    "AIRFLOW__CELERY__BROKER_URL": broker,
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sqlalchemy_url(metadata_dsn),
                    # Parsed into every task, so the scheduler sends them to this queue only.
                    "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
                    "BSIN_CONFIG_DIR": str(approval_required_config(tmp_path)),
                    "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
                },
            )
            harness.start()
            harness.spawn(
                "celery-worker",
                ["celery", "worker", "--queues", queue, "--concurrency", "2"]
                + ["--without-mingle", "--without-gossip"],
                env={
                    # An importable module in every process (tests/ is not on sys.path there).
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "bsin_dev.localenv.harness_hostname",
                    "BSIN_HARNESS_HOSTNAME": worker_name,
                },
            )
            with harness.timed("worker ready"):
                wait_worker_ready(harness)
            yield harness, services, queue, worker_name
    finally:
        if harness is not None:
            harness.stop()
        clear_queue(broker, queue)
        drop_database(admin_dsn, metadata_dsn)


# Typically 3-4 minutes; the margin is for a machine busy with other test runs.
@pytest.mark.timeout(1500)
def test_dag_runs_on_celery_worker(celery_airflow):
    harness, services, queue, worker_name = celery_airflow

    with harness.timed("DAG parsed"):
        harness.wait_for_dag(REAL_DAG_ID)
    harness.unpause(REAL_DAG_ID)
    run = harness.trigger_run(REAL_DAG_ID, **month_interval(MONTH))
    check_run_names_month(run, MONTH)
    with harness.timed("until approval request"):
        wait_for_approval_request(harness, run["dag_run_id"])
    assert list(services.outbox.glob("*.eml")) == []
    answer = harness.api_json(
        "PATCH",
        hitl_path(run["dag_run_id"]),
        json={"chosen_options": ["Approve"], "params_input": {REASON_PARAM: "checked"}},
    )
    assert answer["chosen_options"] == ["Approve"]
    with harness.timed("run"):
        final = harness.wait_for_run(REAL_DAG_ID, run["dag_run_id"], timeout=900)
    assert final["state"] == "success", harness.diagnostics()

    tis = check_month_run(harness, services, run["dag_run_id"], MONTH)  # every report, once
    assert approval_row(services, MONTH)[:2] == ("approved", "checked")
    elsewhere = {
        (t["task_id"], t["map_index"]): (t["hostname"], t["queue"])
        for t in tis
        if (t["hostname"], t["queue"]) != (worker_name, queue)
    }
    assert not elsewhere, f"task instances not run by the Celery worker: {elsewhere}"

    # Each task instance was one Celery `execute_workload` task that this worker executed.
    worker_log = harness.component_log("celery-worker", tail=10**7)
    executed = [
        line
        for line in worker_log.splitlines()
        if "Executing workload in Celery" in line and f"run_id={run['dag_run_id']}" in line
    ]
    assert len(executed) >= len(tis), f"worker executed {len(executed)} of {len(tis)} tasks"
    check_no_secret_in_logs_or_mails(harness, services)
    print(f"\nCelery e2e timings (s): {harness.timings}")
