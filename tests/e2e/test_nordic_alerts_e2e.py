"""End to end through Airflow: the network grown by two partners, by configuration only,
with one original partner's monthly form broken, in one DAG run.

Norway and Denmark join with forms of their own (tests/support/nordic_network.py): different
question ids, Norwegian and Danish titles and labels, Denmark without a self-assessment
form. One original partner's monthly form id points at no form. One month runs through the
real DAG (``bsin_dev.airflow_runner``, Forms API emulator, DuckDB warehouse, SMTP sink):

* the new partners' indicators are checked against an independent computation from the
  emulator files and their mapping files;
* the broken country fails alone: every other country's tasks, the marts and the other
  reports succeed, the run ends failed, the broken country's partner gets a notice and
  data staff an alert naming the DAG, the task, the country, the month and the log link.

One run checks both (a DAG run costs minutes of CPU): a country failing must not hold
back a partner that joined by configuration either.
"""

from __future__ import annotations

import email
import json
import os
import re
import subprocess
from datetime import date, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
import yaml
from bsin_dev.emulator import start_emulator
from bsin_dev.localenv import duckdb_uri, local_environment
from bsin_dev.smtp_sink import start_sink

from bsin.core.config import load_partners, load_programme
from bsin.core.months import month_run_id
from bsin.core.paths import config_dir
from bsin.reporting.report_i18n import Translator
from bsin.reporting.report_view import format_value
from tests.support.nordic_network import NEW_PARTNERS, REPORT_LANGUAGE, build_nordic_network

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

MONTH = date(2022, 8, 1)
NEW = [p["country"] for p in NEW_PARTNERS]
BROKEN_FORM = "1BrokenFormIdThatDoesNotExistAnywhere000000"


def _broken_country() -> str:
    """An original partner (not a new one) from the middle of partners.yaml, so that
    countries mapped both before and after it must get through."""
    original = load_partners(config_dir() / "partners.yaml").countries
    return original[len(original) // 2]


BROKEN = _broken_country()


@pytest.fixture(scope="module")
def network_run(tmp_path_factory, migrated_airflow_home, runner_command):
    tmp = tmp_path_factory.mktemp("nordic")
    mp = pytest.MonkeyPatch()
    cfg, data = build_nordic_network(tmp, mp)
    mp.undo()  # the generator is done; the pipeline must not need the texts
    # Only the config points at a form that does not exist: the emulator data stays whole.
    partners = yaml.safe_load((cfg / "partners.yaml").read_text(encoding="utf-8"))
    for p in partners["partners"]:
        if p["country"] == BROKEN:
            p["forms"]["monthly"] = BROKEN_FORM
    (cfg / "partners.yaml").write_text(
        yaml.safe_dump(partners, allow_unicode=True), encoding="utf-8"
    )
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
            [*runner_command, "--month", f"{MONTH:%Y-%m}"],
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


def _mail(run):
    """The run's messages split into (partner reports, partner notices, data staff alerts)."""
    staff = load_programme(run["cfg"] / "programme.yaml").alert_recipients
    alerts = [m for m in run["messages"] if m["To"] in staff]
    partner_mail = [m for m in run["messages"] if m["To"] not in staff]
    reports = [m for m in partner_mail if not m["X-BSIN-Status"]]
    notices = [m for m in partner_mail if m["X-BSIN-Status"]]
    return reports, notices, alerts


def _report(run, country: str):
    recipients = ", ".join(run["partners"].partner(country).recipients)
    reports, _, _ = _mail(run)
    (msg,) = [m for m in reports if m["To"] == recipients]
    return msg


def test_network_and_broken_country_are_as_configured(network_run):
    countries = network_run["partners"].countries
    assert set(NEW) <= set(countries) and len(countries) > len(NEW)
    assert BROKEN in countries and BROKEN not in NEW
    assert network_run["partners"].partner(BROKEN).forms.monthly == BROKEN_FORM


def test_only_the_broken_country_fails_and_the_run_is_red(network_run):
    result = network_run["result"]
    tasks = result["tasks"]
    countries = network_run["partners"].countries
    assert result["state"] == "failed", result
    assert tasks[f"country.extract[{BROKEN}]"] == "failed"
    # A mapped task that never ran has no rendered label: it shows its map index.
    broken_harmonise = f"country.harmonise[{countries.index(BROKEN)}]"
    assert tasks[broken_harmonise] == "upstream_failed"
    assert tasks[f"send_report[{BROKEN}]"] == "skipped"
    assert tasks["finish"] == "upstream_failed"
    # Everything else, every other country (old and new) and the marts included, is green.
    broken_tasks = {
        f"country.extract[{BROKEN}]",
        broken_harmonise,
        f"send_report[{BROKEN}]",
        "finish",
    }
    others = {k: v for k, v in tasks.items() if k not in broken_tasks}
    assert {k: v for k, v in others.items() if v != "success"} == {}
    for country in countries:
        if country != BROKEN:
            for task in ("country.extract", "country.harmonise", "send_report"):
                assert tasks[f"{task}[{country}]"] == "success", (task, country)
    assert tasks["validate"] == tasks["signals"] == "success"
    assert any(k.startswith("build_marts.") for k in others)


def test_partners_get_reports_and_the_broken_country_a_notice(network_run):
    partners = network_run["partners"]
    reports, notices, _ = _mail(network_run)
    # One report per partner but the broken one, which is told what happened instead.
    assert sorted(m["X-BSIN-Country"] for m in reports) == sorted(
        c for c in partners.countries if c != BROKEN
    )
    (notice,) = notices
    assert notice["X-BSIN-Country"] == BROKEN and notice["X-BSIN-Status"] == "extract_failed"
    assert notice["To"] == ", ".join(partners.partner(BROKEN).recipients)


def test_each_new_partner_gets_its_report_with_independently_computed_figures(network_run):
    for country in NEW:
        msg = _report(network_run, country)
        assert msg["X-BSIN-Country"] == country and not msg["X-BSIN-Status"]
        assert msg["Content-Language"] == REPORT_LANGUAGE[country]
        t = Translator(REPORT_LANGUAGE[country])
        text = msg.get_body(preferencelist=("plain",)).get_content()
        expected = _expected(network_run, country)
        assert expected["respondents"] > 0
        for key in ("response_rate", "satisfaction_mean"):
            line = f"{t('ind.' + key)}: {format_value(key, expected[key], t)}"
            assert line in text, f"{country}: expected {line!r} in the report"


def test_a_partner_without_self_assessment_reads_not_collected(network_run):
    (no_sa,) = [p["country"] for p in NEW_PARTNERS if "self_assessment" not in p["forms"]]
    t = Translator(REPORT_LANGUAGE[no_sa])
    text = _report(network_run, no_sa).get_body(preferencelist=("plain",)).get_content()
    assert f"{t('ind.needs_coverage')}: {t('not_collected')}" in text


def test_data_staff_get_one_alert_naming_dag_task_country_month_and_log(network_run):
    _, _, alerts = _mail(network_run)
    # The failure alert only: the forms of every other country match their mappings, so
    # there is no drift mail either.
    assert len(alerts) == 1, [m["Subject"] for m in alerts]
    alert = alerts[0]
    subject = alert["Subject"]
    assert "bsin_monthly_feedback" in subject and "country.extract" in subject
    assert f"[{BROKEN}]" in subject and f"{MONTH:%Y-%m}" in subject
    body = alert.get_body(preferencelist=("html", "plain")).get_content()
    text = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    assert f"for country {BROKEN} " in text and f"report month {MONTH:%Y-%m}" in text
    # The log link opens the failed task instance: DAG, run, task and the country's index.
    index = network_run["partners"].countries.index(BROKEN)
    task_path = f"/dags/bsin_monthly_feedback/runs/{month_run_id(MONTH)}/tasks/country.extract"
    links = re.findall(r'href="([^"]+)"', body)
    assert [u for u in links if f"{task_path}/mapped/{index}" in u], links
    assert BROKEN_FORM in body
