"""End to end through Airflow: the network grown by two partners, by configuration only.

Norway and Denmark join with forms of their own (tests/support/nordic_network.py): different
question ids, Norwegian and Danish titles and labels, Denmark without a self-assessment
form. One month runs through the real DAG (``bsin_dev.airflow_runner``, Forms API emulator,
DuckDB warehouse, SMTP sink); the new partners' indicators are checked against an
independent computation from the emulator files and their mapping files.
"""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
import yaml
from bsin_dev.emulator import start_emulator
from bsin_dev.localenv import duckdb_uri, local_environment
from bsin_dev.smtp_sink import start_sink

from bsin.core.config import load_partners, load_programme
from bsin.reporting.report_i18n import Translator
from bsin.reporting.report_view import format_value
from tests.support.nordic_network import NEW_PARTNERS, REPORT_LANGUAGE, build_nordic_network

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

MONTH = date(2022, 8, 1)
NEW = [p["country"] for p in NEW_PARTNERS]


@pytest.fixture(scope="module")
def nordic_run(tmp_path_factory, migrated_airflow_home):
    tmp = tmp_path_factory.mktemp("nordic")
    mp = pytest.MonkeyPatch()
    cfg, data = build_nordic_network(tmp, mp)
    mp.undo()  # the generator is done; the pipeline must not need the texts
    emulator = start_emulator(data)
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
            [sys.executable, "-m", "bsin_dev.airflow_runner", "--month", f"{MONTH:%Y-%m}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BSIN_RUN_RESULT ")]
        assert lines, (
            f"no result; exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
        messages = [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted((tmp / "outbox").glob("*.eml"))
        ]
        yield {
            "result": json.loads(lines[-1].removeprefix("BSIN_RUN_RESULT ")),
            "messages": messages,
            "partners": load_partners(cfg / "partners.yaml"),
            "cfg": cfg,
            "data": data,
        }
    finally:
        sink.stop()
        emulator.stop()


def _expected(run, country: str) -> dict[str, float]:
    """Respondents, response rate and satisfaction mean straight from the emulator files:
    the month rule (local time minus grace days, latest submission per member) and the
    question ids of the mapping file."""
    partner = run["partners"].partner(country)
    grace = load_programme(run["cfg"] / "programme.yaml").grace_days
    mapping = yaml.safe_load(
        (run["cfg"] / "mappings" / f"{country.lower()}_monthly.yaml").read_text("utf-8")
    )
    qid = {q["field"]: q["question_id"] for q in mapping["questions"]}
    responses = json.loads(
        (run["data"] / "responses" / f"{partner.forms.monthly}.json").read_text("utf-8")
    )
    latest: dict[str, dict] = {}
    for r in responses:
        ts = datetime.fromisoformat(r["lastSubmittedTime"].replace("Z", "+00:00"))
        local = ts.astimezone(ZoneInfo(partner.timezone)) - timedelta(days=grace)
        if (local.year, local.month) != (MONTH.year, MONTH.month):
            continue
        who = r["respondentEmail"].lower()
        if who not in latest or r["lastSubmittedTime"] > latest[who]["lastSubmittedTime"]:
            latest[who] = r
    sat = [
        int(r["answers"][qid["satisfaction"]]["textAnswers"]["answers"][0]["value"])
        for r in latest.values()
    ]
    return {
        "respondents": len(latest),
        "response_rate": len(latest) / partner.active_members,
        "satisfaction_mean": sum(sat) / len(sat),
    }


def _report(run, country: str):
    recipients = ", ".join(run["partners"].partner(country).recipients)
    (msg,) = [m for m in run["messages"] if m["To"] == recipients]
    return msg


def test_every_country_is_green_and_named_in_the_ui(nordic_run):
    result = nordic_run["result"]
    assert result["state"] == "success", result
    countries = nordic_run["partners"].countries
    assert set(NEW) <= set(countries) and len(countries) > len(NEW)
    for country in countries:
        for task in ("country.extract", "country.harmonise", "send_report"):
            assert result["tasks"][f"{task}[{country}]"] == "success", (task, country)


def test_each_new_partner_gets_its_report_with_independently_computed_figures(nordic_run):
    partners = nordic_run["partners"]
    staff = load_programme().alert_recipients
    reports = [m for m in nordic_run["messages"] if m["To"] not in staff]
    assert len(reports) == len(partners.partners)  # nothing else: no alert, no drift mail
    for country in NEW:
        msg = _report(nordic_run, country)
        assert msg["X-BSIN-Country"] == country and not msg["X-BSIN-Status"]
        assert msg["Content-Language"] == REPORT_LANGUAGE[country]
        t = Translator(REPORT_LANGUAGE[country])
        text = msg.get_body(preferencelist=("plain",)).get_content()
        expected = _expected(nordic_run, country)
        assert expected["respondents"] > 0
        for key in ("response_rate", "satisfaction_mean"):
            line = f"{t('ind.' + key)}: {format_value(key, expected[key], t)}"
            assert line in text, f"{country}: expected {line!r} in the report"


def test_a_partner_without_self_assessment_reads_not_collected(nordic_run):
    (no_sa,) = [p["country"] for p in NEW_PARTNERS if "self_assessment" not in p["forms"]]
    t = Translator(REPORT_LANGUAGE[no_sa])
    text = _report(nordic_run, no_sa).get_body(preferencelist=("plain",)).get_content()
    assert f"{t('ind.needs_coverage')}: {t('not_collected')}" in text
