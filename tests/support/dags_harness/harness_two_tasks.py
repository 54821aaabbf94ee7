"""Tiny DAG used only to develop and smoke-test tests/support/airflow_harness.py."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="bsin_harness_two_tasks",
    schedule="@monthly",
    start_date=pendulum.datetime(2022, 8, 1, tz="UTC"),
    catchup=False,
    tags=["bsin-test"],
)
def bsin_harness_two_tasks():
    @task
    def produce(data_interval_start=None):
        return {"month": data_interval_start.strftime("%Y-%m")}

    @task
    def consume(payload: dict):
        import socket

        print(f"consumed {payload} on {socket.gethostname()}")
        return payload["month"]

    consume(produce())


bsin_harness_two_tasks()
