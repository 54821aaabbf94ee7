"""Closing lines of `make demo` / `make backfill` (bsin_dev.demo_summary)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from bsin_dev.demo_summary import print_backfill_summary, print_summary, split_messages
from bsin_dev.localenv import duckdb_uri

from bsin.core.months import add_months, month_run_id
from tests.support.pipeline_harness import MONTH, copy_golden


def _eml(path: Path, subject: str, country: str | None) -> Path:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = "reports@bsin.example.org"
    msg["To"] = "x@example.org"
    if country:
        msg["X-BSIN-Country"] = country
        msg["X-BSIN-Report-Month"] = "2023-03"
    msg.set_content("body")
    path.write_bytes(bytes(msg))
    return path


def test_backfill_summary_covers_every_month_and_lists_alerts_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_golden(tmp_path / "wh.duckdb").close()
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", duckdb_uri(tmp_path / "wh.duckdb"))
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    report = _eml(outbox / "0001_LV_2023-03.eml", "Monthly report", "LV")
    alert = _eml(outbox / "0002_message.eml", "[bsin] validate failed for 2023-04", None)
    assert split_messages([alert, report]) == ([report], [alert])

    later = add_months(MONTH, 1)
    print_backfill_summary([(MONTH, "success"), (later, "failed")], outbox, [report, alert])
    out = capsys.readouterr().out
    assert f"Backfill {MONTH:%Y-%m}..{later:%Y-%m}: 2 runs, 1 succeeded, 1 failed" in out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  20")}
    assert set(lines) == {f"{MONTH:%Y-%m}", f"{later:%Y-%m}"}
    assert month_run_id(MONTH) in lines[f"{MONTH:%Y-%m}"] and "success" in lines[f"{MONTH:%Y-%m}"]
    assert "failed" in lines[f"{later:%Y-%m}"]
    # The golden month has respondents: "n/m" shown, not a dash.
    assert "/" in lines[f"{MONTH:%Y-%m}"].split()[3]
    reports_part, alerts_part = out.split("report emails")[1].split("failure alerts")
    assert report.name in reports_part and alert.name not in reports_part
    assert alert.name in alerts_part and "validate failed" in alerts_part
    # A backfill summary, not one month's headline indicators.
    assert "headline indicators" not in out


def test_a_second_demo_says_why_no_report_was_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Delivery is once per partner-month: a re-run on the same warehouse writes no email,
    and the summary names the partners an earlier run sent the month's report to."""
    wh = copy_golden(tmp_path / "wh.duckdb")
    wh.execute(
        "insert into delivery_log (country, report_month, status) values"
        " ('QZ', :m, 'sent'), ('XK', :m, 'sent'), ('YY', :m, 'failed'),"
        # A failed resend does not undo the first delivery (DELIVERED_STATUSES).
        " ('ZA', :m, 'resend_failed'), ('ZB', :m, 'partly_sent')",
        {"m": MONTH},
    )
    wh.close()
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", duckdb_uri(tmp_path / "wh.duckdb"))
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    print_summary(MONTH, outbox, [])
    out = capsys.readouterr().out
    assert "report emails (0)" in out
    assert f"no report sent again: QZ, XK, ZA got the {MONTH:%Y-%m} report in an earlier run" in out
    # With this run's email, no such line.
    report = _eml(outbox / "0001_XK_2023-03.eml", "Monthly report", "XK")
    print_summary(MONTH, outbox, [report])
    assert "no report sent again" not in capsys.readouterr().out
