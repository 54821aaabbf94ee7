"""Task bodies of the monthly DAG, one module per stage: one function per task, keyed by
(country, month).

Each function builds what it needs from Airflow connections and config, does one step, and
returns a small JSON-able summary for XCom (never rows, never personal data). Every write
replaces exactly the slice the task owns, so any task can be re-run or cleared safely.

The DAG file, the demo, the benchmark and the tests call them as ``pipeline.<task>``; the
names below are the whole public surface.
"""

from bsin.pipeline.context import (
    FORMS_CONN_ID,
    SMTP_CONN_ID,
    WAREHOUSE_CONN_ID,
    Context,
    CountryHeldBack,
    PipelineError,
    report_month,
)
from bsin.pipeline.deliver import send_report, summarise_run
from bsin.pipeline.extract import extract_country
from bsin.pipeline.harmonise import alert_drift, harmonise_country
from bsin.pipeline.marts import build_marts_for_month, rebuild_marts, signals_for_month
from bsin.pipeline.prepare import prepare_warehouse
from bsin.pipeline.validate import validate_month

__all__ = [
    "FORMS_CONN_ID",
    "SMTP_CONN_ID",
    "WAREHOUSE_CONN_ID",
    "Context",
    "CountryHeldBack",
    "PipelineError",
    "alert_drift",
    "build_marts_for_month",
    "extract_country",
    "harmonise_country",
    "prepare_warehouse",
    "rebuild_marts",
    "report_month",
    "send_report",
    "signals_for_month",
    "summarise_run",
    "validate_month",
]
