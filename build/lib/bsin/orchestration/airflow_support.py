"""Pieces the DAG files share: config loading at parse time, default args, assets, alerts.

Imported at DAG parse time, so it must stay light: no pandas, GX, duckdb or Google client.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset, get_current_context

from bsin.core.config import PartnersConfig, ProgrammeConfig, load_partners, load_programme
from bsin.core.paths import TEMPLATES_DIR

# Assets mark the warehouse tables that downstream DAGs (the programme report) wait for.
FEEDBACK_ASSET = Asset("bsin://warehouse/feedback")
INDICATORS_ASSET = Asset("bsin://warehouse/indicators_monthly")

# Mapped task instances show the country code instead of 0, 1, 2 in the UI.
COUNTRY_LABEL = "{{ bsin_country }}"


def label_map_index(country: str) -> None:
    """Expose ``country`` to the map index template of the running mapped task."""
    get_current_context()["bsin_country"] = country  # type: ignore[literal-required]


def load_dag_config() -> tuple[PartnersConfig, ProgrammeConfig]:
    """Load partners.yaml, programme.yaml and check the mappings against them.

    A ConfigError becomes the DAG's import error (file checks only, no network).
    """
    from bsin.core.config_checks import check_config_files

    partners = load_partners()
    check_config_files(partners)
    return partners, load_programme()


def programme_end_date(programme: ProgrammeConfig) -> Any:
    """The DAG's ``end_date``: the start of the programme's last report month, or None.

    A run's logical date is its month's start, so the last month's run is the last one the
    scheduler creates; unpausing after the programme creates none. An open-ended programme
    (no ``last_month``) has no end and runs every month.
    """
    import pendulum

    last = programme.last_month
    return None if last is None else pendulum.datetime(last.year, last.month, 1, tz="UTC")


def failure_notifier(programme: ProgrammeConfig) -> Any:
    """Email data staff when a task has failed for good (after its retries)."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return SmtpNotifier(
        to=programme.alert_recipients,
        from_email=programme.sender,
        smtp_conn_id="smtp_default",
        subject=(
            "[BSIN] {{ dag.dag_id }} failed: {{ ti.task_id }}"
            "{% if ti.rendered_map_index %} [{{ ti.rendered_map_index }}]{% endif %}"
            " for {{ data_interval_start.strftime('%Y-%m') }}"
        ),
        template=str(TEMPLATES_DIR / "alert_failure.html"),
    )


def default_args(programme: ProgrammeConfig) -> dict[str, Any]:
    """Owner, retries with exponential backoff and failure alerts for every task."""
    # Environment knobs so a test or a one-off debugging run can fail fast.
    args: dict[str, Any] = {
        "owner": "bsin-data-staff",
        "retries": int(os.environ.get("BSIN_TASK_RETRIES", "3")),
        "retry_delay": timedelta(seconds=float(os.environ.get("BSIN_RETRY_DELAY_SECONDS", "30"))),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=20),
        "execution_timeout": timedelta(hours=1),
    }
    if programme.alert_recipients:
        args["on_failure_callback"] = failure_notifier(programme)
    return args
