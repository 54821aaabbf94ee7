"""Monthly feedback pipeline of the Baltic Sea Impact Network (wiring only, logic in bsin)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import Param, dag, task, task_group

from bsin.orchestration.airflow_support import (
    COUNTRY_LABEL,
    FEEDBACK_ASSET,
    INDICATORS_ASSET,
    default_args,
    label_map_index,
    load_dag_config,
    programme_end_date,
)
from bsin.orchestration.dbt_airflow import marts_task_group
from bsin.orchestration.timetables import ReportMonthTimetable

PARTNERS, PROGRAMME = load_dag_config()

DOC_MD = """
### Baltic Sea Impact Network: monthly feedback

One run is one **report month** (its data interval), named `month__YYYY-MM`; its logical
date is the month's first day, for scheduled and manual runs alike (trigger March 2023
with logical date 2023-03-01). For every partner country it pulls
the month's Google Forms responses, harmonises them into the canonical schema, validates
them with Great Expectations, rebuilds the indicator marts and emails each partner its report.

* **wait_for_grace_period**: members may still answer in the first days after month end.
* **extract** (one per country): `forms.get` + `responses.list` for the month's window,
  raw JSON landed in `raw_form` / `raw_response`, form drift recorded in `form_drift`.
* **harmonise** (one per country): mapping to canonical `feedback_candidate`,
  `self_assessment`, `quarantine`.
* **validate**: GX suites over the merged month; valid rows to `feedback`, the rest to
  `quarantine` with a reason.
* **alert_drift**: one email to data staff listing the month's form drift findings, each
  with the mapping edit to make (nothing when the forms match their mappings).
* **build_marts** (task group): one task per dbt model of `include/dbt` (astronomer-cosmos,
  `dbt build` of the model and its tests): `stg_*`, `int_monthly_counts`,
  `indicators_monthly`, `indicator_value` and the other marts. A failing dbt test fails its
  model's task, naming the test and the offending row count; nothing downstream runs.
* **signals**: the month's `adaptation_signal` rows from the marts.
* **send_report** (one per country): exactly once per partner and month (`delivery_log`).

Re-running any task is safe: every write replaces the (country, month) it owns.
Param `deliver=false` rebuilds a month without sending; `resend=true` sends again.
See README.md and docs/operations.md.
"""


@dag(
    dag_id="bsin_monthly_feedback",
    schedule=ReportMonthTimetable("0 0 1 * *", timezone="UTC"),
    start_date=pendulum.datetime(
        PROGRAMME.first_month.year, PROGRAMME.first_month.month, 1, tz="UTC"
    ),
    # No run outside the programme, even when unpaused long after its last month.
    end_date=programme_end_date(PROGRAMME),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(PROGRAMME),
    tags=["bsin", "feedback", "monthly"],
    doc_md=DOC_MD,
    params={
        "deliver": Param(True, type="boolean", description="Email the partner reports"),
        "resend": Param(False, type="boolean", description="Send again even if already sent"),
    },
)
def bsin_monthly_feedback():
    wait = TimeDeltaSensor(
        task_id="wait_for_grace_period",
        # Partners' local month ends fall before UTC midnight + grace in every European zone.
        delta=timedelta(days=PROGRAMME.grace_days, hours=1),
        deferrable=True,
        doc_md="Waits until `grace_days` after the month's end: late answers still count.",
    )

    @task
    def prepare_warehouse(data_interval_start=None):
        from bsin import pipeline

        return pipeline.prepare_warehouse(data_interval_start)

    # A mapped task group keeps countries independent: extract[LV] failing upstream-fails
    # harmonise[LV] only.
    @task_group(group_id="country")
    def country_ingest(country: str, ready: dict):
        @task(map_index_template=COUNTRY_LABEL)
        def extract(country: str, ready: dict, data_interval_start=None):
            from bsin import pipeline

            label_map_index(country)
            return pipeline.extract_country(country, data_interval_start)

        @task(map_index_template=COUNTRY_LABEL)
        def harmonise(country: str, extracted: dict, data_interval_start=None):
            from bsin import pipeline

            label_map_index(country)
            return pipeline.harmonise_country(country, data_interval_start)

        return harmonise(country, extract(country, ready))

    # A country whose extract failed must not hold back the others' validation and reports.
    @task(trigger_rule="all_done", outlets=[FEEDBACK_ASSET])
    def validate(data_interval_start=None):
        from bsin import pipeline

        return pipeline.validate_month(data_interval_start)

    @task(outlets=[INDICATORS_ASSET])
    def signals(data_interval_start=None):
        from bsin import pipeline

        return pipeline.signals_for_month(data_interval_start)

    # After every country's extract, whatever its outcome: drift must reach people even
    # (especially) when a changed form failed a country's extract.
    @task(trigger_rule="all_done")
    def alert_drift(data_interval_start=None, run_id=None):
        from bsin import pipeline

        return pipeline.alert_drift(data_interval_start, run_id=run_id or "")

    @task(map_index_template=COUNTRY_LABEL)
    def send_report(country: str, data_interval_start=None, params=None):
        from bsin import pipeline

        label_map_index(country)
        return pipeline.send_report(
            country,
            data_interval_start,
            deliver=bool(params["deliver"]),
            resend=bool(params["resend"]),
        )

    # Fails the run when any country's ingest failed, although the other countries'
    # reports went out: data staff must see the run red.
    @task(trigger_rule="all_success")
    def finish(data_interval_start=None):
        from bsin import pipeline

        return pipeline.summarise_run(data_interval_start)

    countries = PARTNERS.countries
    prepared = prepare_warehouse()
    ingested = country_ingest.partial(ready=prepared).expand(country=countries)
    validated = validate()
    marts = marts_task_group("build_marts")
    fired = signals()
    reports = send_report.expand(country=countries)

    wait >> prepared
    ingested >> validated >> marts >> fired
    if PROGRAMME.approval == "required":
        # Data staff approve the month's reports in the UI before any is sent (bsin.delivery.approval).
        from bsin.delivery.approval import RENDER_TASK_ID, approval_operator

        @task(task_id=RENDER_TASK_ID)
        def render_for_approval(data_interval_start=None):
            from bsin import pipeline
            from bsin.delivery import approval

            month = pipeline.report_month(data_interval_start)
            return approval.render_for_approval(month, pipeline.Context.load())

        fired >> render_for_approval() >> approval_operator() >> reports
    else:
        fired >> reports
    drift = alert_drift()
    ingested >> drift
    [ingested, reports, drift] >> finish()


bsin_monthly_feedback()
