"""End to end through Airflow: one month of the network against the Forms API emulator,
a DuckDB warehouse and a real SMTP server, checked against an independent computation
from the generated sample files (not from the pipeline's own tables).

Between the month's runs and the next month's, a member edits their answer after the
month's window closed: the next month's run, task process by task process, moves the
answer there and counts the member's earlier answer in the month again (issue 14).
"""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from bsin_dev.emulator import start_emulator
from bsin_dev.localenv import duckdb_uri, local_environment
from bsin_dev.smtp_sink import start_sink

from bsin.core.config import load_partners, load_programme
from bsin.core.months import format_rfc3339, month_run_id, month_window, parse_rfc3339
from bsin.core.paths import SAMPLE_DIR, config_dir
from bsin.reporting.report_i18n import Translator
from bsin.transform.mapping import load_mapping
from bsin.warehouse.dbt_project import DBT_PROJECT_DIR

ROOT = Path(__file__).resolve().parents[2]
MONTH = date(2022, 8, 1)
NEXT = date(2022, 9, 1)
GRACE_DAYS = 7

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def _expected_indicators(country: str) -> dict[str, float]:
    """Response rate, satisfaction mean, relevance mean and NPS straight from the sample
    files: the month rule (local time minus grace days) and the mapping's question ids."""
    partners = load_partners()
    partner = partners.partner(country)
    mapping = yaml.safe_load(
        (config_dir() / "mappings" / f"{country.lower()}_monthly.yaml").read_text(encoding="utf-8")
    )
    qid = {q["field"]: q["question_id"] for q in mapping["questions"]}
    responses = json.loads(
        (SAMPLE_DIR / "responses" / f"{partner.forms.monthly}.json").read_text(encoding="utf-8")
    )
    latest: dict[str, dict] = {}
    for r in responses:
        ts = datetime.fromisoformat(r["lastSubmittedTime"].replace("Z", "+00:00"))
        local = ts.astimezone(ZoneInfo(partner.timezone)) - timedelta(days=GRACE_DAYS)
        if (local.year, local.month) != (MONTH.year, MONTH.month):
            continue
        who = r["respondentEmail"].lower()
        if who not in latest or r["lastSubmittedTime"] > latest[who]["lastSubmittedTime"]:
            latest[who] = r

    def answer(r: dict, field: str) -> int:
        return int(r["answers"][qid[field]]["textAnswers"]["answers"][0]["value"])

    rows = list(latest.values())
    recommend = [answer(r, "recommend") for r in rows]
    return {
        "respondents": len(rows),
        "response_rate": len(rows) / partner.active_members,
        "satisfaction_mean": sum(answer(r, "satisfaction") for r in rows) / len(rows),
        "relevance_mean": sum(answer(r, "relevance") for r in rows) / len(rows),
        "nps": 100.0
        * (sum(v >= 9 for v in recommend) - sum(v <= 6 for v in recommend))
        / len(rows),
    }


def _text_part(msg: email.message.EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def run_months(cmd: list[str], env: dict[str, str], sink, timeout: float) -> dict:
    """Run ``bsin_dev.airflow_runner`` for some months in one process.

    Returns each run's result line and how many messages the SMTP sink had received when
    that line was printed (after the run's last task), plus the output for failure messages.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        results, sent, out = [], [], []
        try:
            for line in proc.stdout:
                out.append(line)
                if line.startswith("BSIN_RUN_RESULT "):
                    results.append(json.loads(line.removeprefix("BSIN_RUN_RESULT ")))
                    sent.append(len(sink.messages))
            proc.wait()
        finally:
            timer.cancel()
        err.seek(0)
        tail = f"exit {proc.returncode}\n{''.join(out)[-3000:]}\n{err.read()[-3000:]}"
    return {"results": results, "sent": sent, "output": tail}


def _edited_country() -> str:
    """The first partner whose monthly form leaves the feedback month to the submission
    time: there an edit in the next month's window moves the answer to that month (where
    the form asks the month, the answer keeps it: tests/integration/test_edit_across_months.py)."""
    for country in load_partners().countries:
        if "feedback_month" not in load_mapping(country, "monthly").by_field:
            return country
    raise AssertionError("every sample form asks the feedback month: no answer can move")


def _responses_file(data: Path, country: str) -> Path:
    return data / "responses" / f"{load_partners().partner(country).forms.monthly}.json"


def _window(month: date, country: str) -> tuple[datetime, datetime]:
    tz = load_partners().partner(country).timezone
    return month_window(month, tz, load_programme().grace_days)


def _answer_twice(data: Path, country: str) -> dict:
    """A member of ``country`` gets a second, earlier answer in MONTH: a copy of their answer
    with its own id, at the window's first second. The pipeline counts the later answer and
    quarantines the earlier one as its duplicate; the member's indicators stay the ones the
    sample files give (the later answer is theirs)."""
    path = _responses_file(data, country)
    responses = json.loads(path.read_text(encoding="utf-8"))
    start, end = _window(MONTH, country)
    in_month = [r for r in responses if start <= parse_rfc3339(r["lastSubmittedTime"]) < end]
    later = max(in_month, key=lambda r: parse_rfc3339(r["lastSubmittedTime"]))
    early = {**later, "responseId": later["responseId"] + "early"}
    early["createTime"] = early["lastSubmittedTime"] = format_rfc3339(start + timedelta(seconds=1))
    path.write_text(json.dumps([*responses, early]), encoding="utf-8")
    return {"country": country, "early": early["responseId"], "later": later["responseId"]}


def _edit_into_next_month(data: Path, edit: dict) -> None:
    """The member edits their later answer a day before NEXT's window closes: another
    satisfaction, and Google's ``lastSubmittedTime`` moves to the edit."""
    country = edit["country"]
    path = _responses_file(data, country)
    qid = load_mapping(country, "monthly").by_field["satisfaction"].question_id
    _, end = _window(NEXT, country)
    responses = json.loads(path.read_text(encoding="utf-8"))
    (later,) = [r for r in responses if r["responseId"] == edit["later"]]
    old = int(later["answers"][qid]["textAnswers"]["answers"][0]["value"])
    edit["satisfaction"] = 1 if old != 1 else 2
    later["answers"][qid] = {
        "questionId": qid,
        "textAnswers": {"answers": [{"value": str(edit["satisfaction"])}]},
    }
    later["lastSubmittedTime"] = format_rfc3339(end - timedelta(days=1))
    path.write_text(json.dumps(responses), encoding="utf-8")


def _member_state(warehouse: Path, edit: dict) -> dict:
    """Where the edited member's two answers stand in the warehouse (read-only)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:

        def rows(sql: str, *params) -> list[tuple]:
            return con.execute(sql, list(params)).fetchall()

        state = {
            "requests": rows("select count(*) from month_revalidation")[0][0],
            "month_count": rows(
                "select count(*) from feedback where country = ? and feedback_month = ?",
                edit["country"],
                MONTH,
            )[0][0],
        }
        for which in ("early", "later"):
            rid = edit[which]
            state[which] = {
                "feedback": rows(
                    "select feedback_month, satisfaction from feedback where response_id = ?",
                    rid,
                ),
                "quarantine": rows(
                    "select rule, stage from quarantine where response_id = ? order by 1", rid
                ),
            }
        return state
    finally:
        con.close()


@pytest.fixture(scope="module")
def month_run(tmp_path_factory, migrated_airflow_home, runner_command):
    tmp = tmp_path_factory.mktemp("e2e")
    outbox = tmp / "outbox"
    # The emulator serves a copy: the member's second answer and later edit go there.
    served = tmp / "emulator"
    shutil.copytree(SAMPLE_DIR, served)
    edit = _answer_twice(served, _edited_country())
    emulator = start_emulator(served)
    sink = start_sink(outbox)
    env = {
        **os.environ,
        **local_environment(
            migrated_airflow_home(tmp / "airflow_home"),
            forms_endpoint=emulator.url,
            smtp_port=sink.port,
            warehouse_uri=duckdb_uri(tmp / "warehouse.duckdb"),
        ),
        "BSIN_DATA_DIR": str(tmp / "data"),
        "AIRFLOW__COSMOS__CACHE_DIR": str(tmp / "cosmos"),
        # OpenLineage with the file transport, as `make demo` has it by default.
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(tmp / "openlineage.jsonl"), "append": True}
        ),
    }
    # The month and the same month again (a re-run) in one process, as `make backfill`
    # runs them; then the member's edit; then the next month, in a process of its own.
    month, nxt = f"{MONTH:%Y-%m}", f"{NEXT:%Y-%m}"
    try:
        runs = run_months(
            [*runner_command, "--month", month, "--month", month], env, sink, timeout=1200
        )
        later = {"results": [], "sent": [], "output": ""}
        if len(runs["results"]) == 2:  # else _results() fails every test with the output
            edit["before"] = _member_state(tmp / "warehouse.duckdb", edit)
            _edit_into_next_month(served, edit)
            later = run_months([*runner_command, "--month", nxt], env, sink, timeout=900)
            edit["after"] = _member_state(tmp / "warehouse.duckdb", edit)
        yield {
            "results": runs["results"] + later["results"],
            "sent": runs["sent"] + later["sent"],
            "output": runs["output"] + "\n" + later["output"],
            "edit": edit,
            "messages": list(sink.messages),
            "outbox": outbox,
            "warehouse": tmp / "warehouse.duckdb",
            "airflow_home": tmp / "airflow_home",
            "data": tmp / "data",
            "lineage": tmp / "openlineage.jsonl",
        }
    finally:
        sink.stop()
        emulator.stop()


def _results(month_run: dict) -> list[dict]:
    """The three runs' results (first run, re-run, next month), or a failure with the log."""
    results = month_run["results"]
    assert len(results) == 3, f"{len(results)} of 3 run results\n{month_run['output']}"
    return results


def _first(month_run: dict) -> dict:
    return _results(month_run)[0]


def test_run_succeeds_with_every_task_green_and_countries_named(month_run):
    result = _first(month_run)
    assert result["state"] == "success", result
    tasks = result["tasks"]
    for country in load_partners().countries:
        assert tasks[f"country.extract[{country}]"] == "success"
        assert tasks[f"country.harmonise[{country}]"] == "success"
        assert tasks[f"send_report[{country}]"] == "success"
    assert tasks["validate"] == tasks["signals"] == tasks["finish"] == "success"
    # The dbt models ran as one Airflow task each (Cosmos task group build_marts).
    models = sorted(p.stem for p in (DBT_PROJECT_DIR / "models").rglob("*.sql"))
    dbt_tasks = {k.split(".", 1)[1]: v for k, v in tasks.items() if k.startswith("build_marts.")}
    assert sorted(dbt_tasks) == sorted([*models, "indicators_monthly_scopes_have_counts_test"])
    assert set(dbt_tasks.values()) == {"success"}, dbt_tasks


def test_no_task_of_any_run_needed_a_retry(month_run):
    # Every task of the three runs (the first two in one process), the collector off: a
    # task that failed on what an earlier one left behind (a warehouse instance holding the
    # file) and passed on its retry would show here, not in the run's state.
    assert [r["retried"] for r in _results(month_run)] == [{}, {}, {}]


def test_run_is_named_by_month_with_real_duration_task_logs_and_data_docs(month_run):
    run = _first(month_run)["run"]
    assert run["run_id"] == month_run_id(MONTH) == "month__2022-08"
    # One convention for manual and scheduled runs: logical date = report month = interval.
    assert run["logical_date"].startswith("2022-08-01T00:00:00")
    assert run["data_interval_start"].startswith("2022-08-01T00:00:00")
    assert run["data_interval_end"].startswith("2022-09-01T00:00:00")
    # Measured from when the run started, not from its logical date in 2022.
    assert 0 < run["duration_seconds"] < 900, run
    logs = month_run["airflow_home"] / "logs" / "dag_id=bsin_monthly_feedback"
    run_logs = logs / f"run_id={run['run_id']}"
    tasks = _first(month_run)["tasks"]
    files = sorted(run_logs.glob("task_id=*/**/attempt=1.log"))
    assert len(files) == len(tasks), [str(f.relative_to(run_logs)) for f in files]
    validate = [
        json.loads(line)
        for line in (run_logs / "task_id=validate" / "attempt=1.log")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert any(e["event"].startswith("validated 2022-08") for e in validate), validate
    # Great Expectations stays at WARNING: its INFO chatter is not in the task log.
    assert not [e for e in validate if e["logger"].startswith("great_expectations")], validate
    extract = (run_logs / "task_id=country.extract" / "map_index=0" / "attempt=1.log").read_text(
        encoding="utf-8"
    )
    assert "responses submitted" in extract
    index = (month_run["data"] / "gx" / "data_docs" / "index.html").read_text(encoding="utf-8")
    assert "bsin_feedback" in index and "bsin_self_assessment" in index
    # The site shows the latest month validated (the fixture's last run is NEXT).
    assert f"Data quality {NEXT:%Y-%m}" in index


def test_one_email_per_partner_to_its_recipients_only(month_run):
    partners = load_partners()
    messages = [
        email.message_from_bytes(Path(p).read_bytes(), policy=policy.default)
        for p in sorted(month_run["outbox"].glob(f"*_{MONTH:%Y-%m}.eml"))
    ]
    assert len(messages) == len(partners.partners)
    by_recipients = {tuple(sorted(a.strip() for a in m["To"].split(","))): m for m in messages}
    for p in partners.partners:
        assert tuple(sorted(p.recipients)) in by_recipients, f"no email to {p.recipients}"


def test_emails_show_independently_computed_indicators(month_run):
    partners = load_partners()
    messages = {}
    for path in month_run["outbox"].glob(f"*_{MONTH:%Y-%m}.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        messages[msg["To"]] = msg
    for p in partners.partners:
        msg = messages[", ".join(p.recipients)]
        text = _text_part(msg)
        t = Translator(p.report_language)
        expected = _expected_indicators(p.country)
        for key, shown in [
            ("response_rate", t.percent(expected["response_rate"])),
            ("satisfaction_mean", t.number(expected["satisfaction_mean"], decimals=1)),
            ("relevance_mean", t.number(expected["relevance_mean"], decimals=1)),
            ("nps", t.number(expected["nps"], signed=True)),
        ]:
            line = f"{t('ind.' + key)}: {shown}"
            assert line in text, f"{p.country}: expected '{line}' in the report text"


def test_rerun_and_backfill_send_each_report_once_and_rerun_is_byte_identical(month_run):
    first, rerun, backfill = _results(month_run)
    assert [r["state"] for r in (rerun, backfill)] == ["success"] * 2
    n = len(load_partners().partners)
    # The first run sent one report per partner; re-running the month sent nothing more;
    # the next month's reports went out once.
    assert month_run["sent"] == [n, n, 2 * n]
    sent = [Path(p).name for p in sorted(month_run["outbox"].glob("*.eml"))]
    assert len(month_run["messages"]) == len(sent) == 2 * n
    assert sum(NEXT.strftime("%Y-%m") in name for name in sent) == n
    # Re-running the month left every table exactly as its first run did (three re-runs on
    # both backends: tests/integration/test_rerun_and_drift.py).
    assert rerun["digest"] == first["digest"]
    assert backfill["digest"] != first["digest"]


def test_no_respondent_email_reaches_the_warehouse(month_run):
    import duckdb

    con = duckdb.connect(str(month_run["warehouse"]), read_only=True)
    try:
        tables = [
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        ]
        found = defaultdict(int)
        for table in tables:
            cols = con.execute(
                "select column_name from information_schema.columns where table_name = ?"
                " and data_type = 'VARCHAR'",
                [table],
            ).fetchall()
            for (col,) in cols:
                sql = f'select count(*) from "{table}" where "{col}" like \'%@example.org%\''  # noqa: S608
                n = con.execute(sql).fetchone()[0]
                if n:
                    found[f"{table}.{col}"] += n
        assert not found, f"respondent emails stored in {dict(found)}"
    finally:
        con.close()


def test_openlineage_events_name_what_each_task_reads_and_writes(month_run):
    """Forms -> raw tables -> feedback -> dbt marts -> signals, as OpenLineage datasets."""
    from bsin.warehouse.lineage import FORMS_NAMESPACE

    events = [
        json.loads(line)
        for line in month_run["lineage"].read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    io: dict[str, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for e in events:
        if e.get("eventType") != "COMPLETE" or "job" not in e:
            continue
        job = e["job"]["name"].removeprefix("bsin_monthly_feedback.")
        ins, outs = io[job]
        ins.update(f"{d['namespace']}|{d['name']}" for d in e.get("inputs", []))
        outs.update(f"{d['namespace']}|{d['name']}" for d in e.get("outputs", []))
    db = f"duckdb://{month_run['warehouse']}|warehouse.main"

    def names(job: str, which: int) -> set[str]:
        return {n.removeprefix(db + ".") for n in io[job][which]}

    assert any(n.startswith(FORMS_NAMESPACE + "|forms/") for n in io["country.extract"][0])
    assert {"raw_form", "raw_response"} <= names("country.extract", 1)
    assert {"raw_response"} <= names("country.harmonise", 0)
    assert {"feedback_candidate"} <= names("country.harmonise", 1)
    assert {"feedback_candidate"} <= names("validate", 0)
    assert {"feedback", "feedback_selection"} <= names("validate", 1)
    # Cosmos reports each dbt model's own inputs and outputs, in the same namespace.
    assert "feedback" in names("build_marts.stg_feedback", 0)
    assert "stg_feedback" in names("build_marts.stg_feedback", 1)
    assert "int_monthly_counts" in names("build_marts.indicators_monthly", 0)
    assert "indicators_monthly" in names("build_marts.indicators_monthly", 1)
    assert {"indicator_value"} <= names("signals", 0)
    assert {"adaptation_signal"} <= names("signals", 1)
    assert {"indicators_monthly"} <= names("send_report", 0)


def test_an_answer_edited_into_the_next_month_moves_there_and_the_earlier_one_counts_again(
    month_run,
):
    """Through Airflow's task processes, with nobody re-running the month: the next month's
    extract lands the edit, that month's harmonise task harmonises the month the answer
    left again, and its validate task validates that month again, so the member's earlier
    answer counts there (the pipeline's functions on both backends, with more cases:
    tests/integration/test_edit_across_months.py)."""
    edit = month_run["edit"]
    assert _results(month_run)[2]["state"] == "success"
    before, after = edit["before"], edit["after"]
    # Before the edit: the later answer counted, the earlier one was its duplicate.
    assert [month for month, _ in before["later"]["feedback"]] == [MONTH]
    assert before["early"] == {
        "feedback": [],
        "quarantine": [("duplicate_submission", "harmonise")],
    }
    # After: the edit counts in the next month, with its new answer ...
    assert after["later"] == {"feedback": [(NEXT, edit["satisfaction"])], "quarantine": []}
    # ... and the earlier answer counts in the month again, no longer called a duplicate.
    assert [month for month, _ in after["early"]["feedback"]] == [MONTH]
    assert after["early"]["quarantine"] == []
    assert after["month_count"] == before["month_count"] > 0
    assert before["requests"] == after["requests"] == 0  # requested, then done
    # The tasks that did it say so in their Airflow logs.
    logs = month_run["airflow_home"] / "logs" / "dag_id=bsin_monthly_feedback"
    run_logs = logs / f"run_id={month_run_id(NEXT)}"
    harmonised = [
        p.read_text(encoding="utf-8")
        for p in sorted((run_logs / "task_id=country.harmonise").glob("*/attempt=1.log"))
    ]
    said = f"{edit['country']}: an edit moved a response out of {MONTH.isoformat()}"
    assert sum(said in text for text in harmonised) == 1, said
    validated = [
        json.loads(line)["event"]
        for line in (run_logs / "task_id=validate" / "attempt=1.log")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert [e.split(":")[0] for e in validated if e.startswith("validated ")] == [
        f"validated {NEXT:%Y-%m}",
        f"validated {MONTH:%Y-%m}",
    ]
    # The month's Data Docs of that validation sit beside the next month's site.
    again = month_run["data"] / "gx" / "data_docs" / "revalidated" / f"{MONTH:%Y-%m}"
    assert f"{MONTH:%Y-%m}" in (again / "index.html").read_text(encoding="utf-8")
