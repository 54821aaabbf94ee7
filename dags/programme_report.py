"""Programme report of the Baltic Sea Impact Network (wiring only, logic in bsin)."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from bsin.orchestration.airflow_support import INDICATORS_ASSET, default_args, load_dag_config

PARTNERS, PROGRAMME = load_dag_config()

DOC_MD = f"""
### Baltic Sea Impact Network: programme report

The summary of the whole programme ({PROGRAMME.first_month:%B %Y} to
{PROGRAMME.effective_last_month:%B %Y}) for the final event: network-wide capability growth
(baseline vs end-line self-assessment), cumulative cross-border connections, access to
stakeholders and satisfaction, NPS and response rate over time, and per-country totals.
Aggregates only: no figure over fewer than 3 members, no free text, no member ids.

* **Runs** whenever `bsin_monthly_feedback`'s `signals` task (after the dbt models) has updated the asset
  `bsin://warehouse/indicators_monthly`.
* **Produces** the report only once the warehouse holds the programme's last month
  (`last_month` in `programme.yaml`); before that the task ends as *skipped* and its log
  says which month is missing. Trigger with param `force=true` for an interim report.
* **Writes** `programme_report.html` (self-contained, charts inline) and
  `programme_report.pdf` (multi-page A4, drawn with matplotlib) into
  `<BSIN_DATA_DIR>/programme_report/`, replacing the previous ones.

Same from the command line: `python scripts/programme_report.py --out data/programme_report`.
See docs/reports.md, "Programme report".
"""


@dag(
    dag_id="bsin_programme_report",
    schedule=INDICATORS_ASSET,
    start_date=pendulum.datetime(
        PROGRAMME.first_month.year, PROGRAMME.first_month.month, 1, tz="UTC"
    ),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(PROGRAMME),
    tags=["bsin", "programme"],
    doc_md=DOC_MD,
    params={
        "force": Param(
            False,
            type="boolean",
            description="Produce an interim report although the last programme month is missing",
        ),
    },
)
def bsin_programme_report():
    @task
    def build_programme_report(params=None):
        from airflow.sdk.exceptions import AirflowSkipException

        from bsin.reporting.programme_report import produce_from_connection

        result = produce_from_connection(force=bool(params["force"]))
        if result.status == "skipped":
            # Skipped, not failed: waiting for the last month is the normal state all year.
            raise AirflowSkipException(result.message)
        return result.as_dict()

    build_programme_report()


bsin_programme_report()
