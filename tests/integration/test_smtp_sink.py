"""The local SMTP sink: stores what it receives, and misbehaves on request."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from bsin_dev.smtp_sink import start_sink


def _msg(country: str = "LV") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "reports@bsin.example.org"
    msg["To"] = "partner@example.org"
    msg["Subject"] = "test"
    msg["X-BSIN-Country"] = country
    msg["X-BSIN-Report-Month"] = "2023-03"
    msg.set_content("hello")
    return msg


@pytest.fixture
def sink(tmp_path):
    handle = start_sink(tmp_path / "outbox")
    yield handle
    handle.stop()


def _send(port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(msg)


def test_stores_eml_named_by_country_and_month(sink):
    _send(sink.port, _msg("LV"))
    _send(sink.port, _msg("SE"))
    names = sorted(p.name for p in sink.outbox.glob("*.eml"))
    assert names == ["0001_LV_2023-03.eml", "0002_SE_2023-03.eml"]
    got = sink.messages[0]
    assert got.rcpt_tos == ["partner@example.org"]
    assert got.message["Subject"] == "test"
    assert got.path.read_bytes().startswith(b"From: reports@bsin.example.org")


def test_counter_continues_after_restart(tmp_path):
    with start_sink(tmp_path) as first:
        _send(first.port, _msg())
    with start_sink(tmp_path) as second:
        _send(second.port, _msg())
    assert sorted(p.name for p in tmp_path.glob("*.eml")) == [
        "0001_LV_2023-03.eml",
        "0002_LV_2023-03.eml",
    ]


@pytest.mark.parametrize("code", [421, 451, 554])
def test_reply_fault(sink, code):
    sink.faults.reply(code, 1)
    with pytest.raises(smtplib.SMTPDataError) as info:
        _send(sink.port, _msg())
    assert info.value.smtp_code == code
    _send(sink.port, _msg())  # the fault is used up
    assert len(sink.messages) == 1


def test_refuse_and_disconnect_faults(sink):
    sink.faults.refuse_connections(1)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        _send(sink.port, _msg())
    sink.faults.disconnect_after_data(1)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        _send(sink.port, _msg())
    assert sink.messages == []
    _send(sink.port, _msg())
    assert len(sink.messages) == 1


def test_reply_fault_needs_an_error_code(sink):
    with pytest.raises(ValueError, match="4xx or 5xx"):
        sink.faults.reply(250)


def test_port_in_use_is_a_clear_error(sink, tmp_path):
    with pytest.raises(OSError, match="choose another --port"):
        start_sink(tmp_path / "other", port=sink.port)
