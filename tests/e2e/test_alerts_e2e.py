"""Through Airflow: one country's broken form fails that country only, the others still get
their reports, the run ends failed, and data staff get an alert email naming the DAG, the
task, the country, the month and the log link, over a real SMTP server."""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
from email import policy

import pytest
import yaml
from bsin_dev.emulator import start_emulator
from bsin_dev.localenv import duckdb_uri, local_environment
from bsin_dev.smtp_sink import start_sink

from bsin.core.config import load_partners, load_programme
from bsin.core.paths import SAMPLE_DIR, config_dir

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

BROKEN_FORM = "1BrokenFormIdThatDoesNotExistAnywhere000000"


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory, migrated_airflow_home):
    tmp = tmp_path_factory.mktemp("alerts")
    cfg = tmp / "config"
    shutil.copytree(config_dir(), cfg)
    partners = yaml.safe_load((cfg / "partners.yaml").read_text(encoding="utf-8"))
    for p in partners["partners"]:
        if p["country"] == "LV":
            p["forms"]["monthly"] = BROKEN_FORM
    (cfg / "partners.yaml").write_text(
        yaml.safe_dump(partners, allow_unicode=True), encoding="utf-8"
    )
    emulator = start_emulator(SAMPLE_DIR)
    sink = start_sink(tmp / "outbox")
    env = {
        **os.environ,
        **local_environment(
            migrated_airflow_home(tmp / "airflow_home"),
            forms_endpoint=emulator.url,
            smtp_port=sink.port,
            warehouse_uri=duckdb_uri(tmp / "warehouse.duckdb"),
        ),
        "BSIN_CONFIG_DIR": str(cfg),
        "BSIN_DATA_DIR": str(tmp / "data"),
        "AIRFLOW__COSMOS__CACHE_DIR": str(tmp / "cosmos"),
        "BSIN_TASK_RETRIES": "0",
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bsin_dev.airflow_runner", "--month", "2022-08"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BSIN_RUN_RESULT ")]
        assert lines, (
            f"no result; exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
        messages = [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted((tmp / "outbox").glob("*.eml"))
        ]
        yield json.loads(lines[-1].removeprefix("BSIN_RUN_RESULT ")), messages
    finally:
        sink.stop()
        emulator.stop()


def test_only_the_broken_country_fails_and_the_run_is_red(failed_run):
    result, _ = failed_run
    tasks = result["tasks"]
    assert result["state"] == "failed"
    assert tasks["country.extract[LV]"] == "failed"
    # A mapped task that never ran has no rendered label: LV is map index 2.
    assert tasks["country.harmonise[2]"] == "upstream_failed"
    assert tasks["send_report[LV]"] == "skipped"
    for country in ("SE", "EE", "LT"):
        assert tasks[f"country.harmonise[{country}]"] == "success"
        assert tasks[f"send_report[{country}]"] == "success"
    assert tasks["validate"] == "success"
    assert tasks["finish"] == "upstream_failed"


def test_partners_get_reports_and_data_staff_get_an_alert(failed_run):
    _, messages = failed_run
    staff = load_programme().alert_recipients
    alerts = [m for m in messages if m["To"] in staff]
    reports = [m for m in messages if m["To"] not in staff and not m["X-BSIN-Status"]]
    notices = [m for m in messages if m["X-BSIN-Status"]]
    assert len(reports) == 3
    # The broken country's partner is told what happened, in its report language.
    (notice,) = notices
    assert notice["X-BSIN-Country"] == "LV" and notice["X-BSIN-Status"] == "extract_failed"
    assert notice["To"] == ", ".join(load_partners().partner("LV").recipients)
    assert len(alerts) == 1, [m["Subject"] for m in alerts]
    alert = alerts[0]
    subject = alert["Subject"]
    assert "bsin_monthly_feedback" in subject and "country.extract" in subject
    assert "[LV]" in subject and "2022-08" in subject
    body = alert.get_body(preferencelist=("html", "plain")).get_content()
    assert "dag_id=bsin_monthly_feedback" in body or "/dags/bsin_monthly_feedback/" in body
    assert "LV" in body and BROKEN_FORM in body
