"""Exactly-once delivery against the real local SMTP sink, including its fault modes."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bsin.config import load_partners
from bsin.delivery import DeliveryError, DeliveryStatus, deliver, is_transient
from bsin.report import RenderedReport, build_message
from bsin.smtp_sink import start_sink
from bsin.warehouse import Warehouse

MONTH = date(2023, 3, 1)
SENDER = "Baltic Sea Impact Network <reports@bsin.example.org>"
CONN_ID = "smtp_bsin_test"


@pytest.fixture
def sink(tmp_path):
    handle = start_sink(tmp_path / "outbox")
    yield handle
    handle.stop()


@pytest.fixture
def smtp_conn(sink, monkeypatch):
    """An Airflow SMTP connection (from the environment) pointing at the sink."""
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": sink.port,
        # Plain SMTP to the local sink; retry_limit 0 leaves all retrying to deliver().
        "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 5},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    return CONN_ID


@pytest.fixture
def wh(tmp_path):
    warehouse = Warehouse.from_uri(f"duckdb:///{tmp_path / 'delivery.duckdb'}")
    warehouse.migrate()
    yield warehouse
    warehouse.close()


@pytest.fixture
def sleeps():
    return []


def _message(country: str):
    partner = load_partners().partner(country)
    rendered = RenderedReport(
        country=country,
        month=MONTH,
        language="en",
        subject=f"report {country}",
        html=f"<p>report {country}</p>",
        text=f"report {country}",
        images={},
        csv_bytes=b"member_id\r\n",
        csv_filename="members.csv",
    )
    return partner, build_message(rendered, partner, SENDER)


def _deliver(wh, conn, country, sleeps, resend=False, **kw):
    partner, msg = _message(country)
    return deliver(wh, conn, partner, MONTH, msg, resend=resend, sleep=sleeps.append, **kw)


def _log(wh, country):
    df = wh.query_df(
        "select * from delivery_log where country = :c and report_month = :m",
        {"c": country, "m": MONTH},
    )
    return df.iloc[0].to_dict() if len(df) else None


def test_sends_once_then_nothing(wh, sink, smtp_conn, sleeps):
    first = _deliver(wh, smtp_conn, "LV", sleeps)
    assert first.status == DeliveryStatus.SENT and first.attempts == 1
    assert first.message_id == "<bsin-report.LV.2023-03@bsin.example.org>"
    again = _deliver(wh, smtp_conn, "LV", sleeps)
    assert again.status == DeliveryStatus.ALREADY_SENT
    assert again.message_id == first.message_id
    assert len(sink.messages) == 1
    got = sink.messages[0]
    assert sorted(got.rcpt_tos) == sorted(load_partners().partner("LV").recipients)
    assert got.message["Message-ID"] == first.message_id
    row = _log(wh, "LV")
    assert row["status"] == "sent" and row["message_id"] == first.message_id
    assert row["recipients"] == "zinojums@sua.example.org, valde@sua.example.org"


def test_resend_sends_again_with_new_message_id(wh, sink, smtp_conn, sleeps):
    _deliver(wh, smtp_conn, "LV", sleeps)
    second = _deliver(wh, smtp_conn, "LV", sleeps, resend=True)
    third = _deliver(wh, smtp_conn, "LV", sleeps, resend=True)
    assert second.status == third.status == DeliveryStatus.SENT
    assert [m.message["Message-ID"] for m in sink.messages] == [
        "<bsin-report.LV.2023-03@bsin.example.org>",
        "<bsin-report.LV.2023-03.resend1@bsin.example.org>",
        "<bsin-report.LV.2023-03.resend2@bsin.example.org>",
    ]


@pytest.mark.parametrize("code", [421, 451])
def test_transient_reply_is_retried_with_backoff(wh, sink, smtp_conn, sleeps, code):
    sink.faults.reply(code, 2)
    result = _deliver(wh, smtp_conn, "SE", sleeps, base_delay=0.5)
    assert result.status == DeliveryStatus.SENT and result.attempts == 3
    assert sleeps == [0.5, 1.0]
    assert len(sink.messages) == 1


def test_refused_connections_and_disconnect_are_retried(wh, sink, smtp_conn, sleeps):
    sink.faults.refuse_connections(2)
    assert _deliver(wh, smtp_conn, "SE", sleeps).attempts == 3
    sink.faults.disconnect_after_data(1)
    assert _deliver(wh, smtp_conn, "EE", sleeps).attempts == 2
    assert [m.message["X-BSIN-Country"] for m in sink.messages] == ["SE", "EE"]


def test_permanent_554_fails_at_once_and_others_still_go(wh, sink, smtp_conn, sleeps):
    sink.faults.reply(554, 1)
    with pytest.raises(DeliveryError, match=r"LV 2023-03.*SMTP 554.*permanent"):
        _deliver(wh, smtp_conn, "LV", sleeps)
    assert sleeps == []
    assert _log(wh, "LV")["status"] == "failed"
    assert _deliver(wh, smtp_conn, "SE", sleeps).status == DeliveryStatus.SENT
    # The re-run sends Latvia's report and nothing new to Sweden.
    assert _deliver(wh, smtp_conn, "LV", sleeps).status == DeliveryStatus.SENT
    assert _deliver(wh, smtp_conn, "SE", sleeps).status == DeliveryStatus.ALREADY_SENT
    assert [m.message["X-BSIN-Country"] for m in sink.messages] == ["SE", "LV"]


def test_unreachable_server_fails_after_retries(wh, sink, smtp_conn, sleeps):
    sink.stop()
    with pytest.raises(DeliveryError, match="after 3 attempts"):
        _deliver(wh, smtp_conn, "LT", sleeps, max_attempts=3, base_delay=1, max_delay=1.5)
    assert sleeps == [1, 1.5]
    assert _log(wh, "LT")["status"] == "failed"


def test_interrupted_send_needs_explicit_resend(wh, sink, smtp_conn, sleeps):
    import pandas as pd

    row = {
        "country": "EE",
        "report_month": MONTH,
        "message_id": "<x@y>",
        "recipients": "",
        "sent_at": None,
        "status": "sending",
    }
    wh.replace("delivery_log", {"country": "EE", "report_month": MONTH}, pd.DataFrame([row]))
    with pytest.raises(DeliveryError, match="resend=True"):
        _deliver(wh, smtp_conn, "EE", sleeps)
    assert sink.messages == []
    assert _deliver(wh, smtp_conn, "EE", sleeps, resend=True).status == DeliveryStatus.SENT


def test_message_for_another_partner_is_refused(wh, sink, smtp_conn, sleeps):
    _, lv_message = _message("LV")
    with pytest.raises(DeliveryError, match="report of LV but is being delivered to partner SE"):
        deliver(
            wh, smtp_conn, load_partners().partner("SE"), MONTH, lv_message, sleep=sleeps.append
        )
    assert sink.messages == []


def test_missing_connection_is_permanent(wh, sleeps):
    with pytest.raises(
        DeliveryError, match="smtp_does_not_exist.*permanent|permanent.*smtp_does_not_exist"
    ):
        _deliver(wh, "smtp_does_not_exist", "LV", sleeps)
    assert sleeps == []


def test_classification():
    import smtplib

    assert is_transient(ConnectionRefusedError())
    assert is_transient(smtplib.SMTPServerDisconnected("gone"))
    assert is_transient(smtplib.SMTPDataError(451, b"later"))
    assert not is_transient(smtplib.SMTPDataError(554, b"no"))
    assert not is_transient(smtplib.SMTPAuthenticationError(535, b"bad"))
