"""SMTP faults while sending a partner's report (issue 6, section 2).

The real ``bsin.pipeline.send_report`` renders the report from a validated month (the
golden warehouse of ``tests.support.pipeline_harness``) and delivers it to the local SMTP sink,
which misbehaves on purpose: refused connections, 421/451/554 replies, a connection dropped
after DATA. Transient faults are retried and the partner gets exactly one email; permanent
ones fail at once with ``DeliveryError``; a re-run after the fault clears sends once, and a
further re-run sends nothing.
"""

from __future__ import annotations

import functools

import pytest
from bsin_dev.localenv import smtp_conn_uri
from bsin_dev.smtp_sink import start_sink

import bsin.delivery.delivery
from bsin.delivery.smtp_transport import DeliveryError
from tests.support.pipeline_harness import PipelineHarness, copy_golden

pytestmark = pytest.mark.slow  # the first test of the process builds the golden month (GX)

COUNTRY = "LV"
# What delivery writes: the outcome per partner-month and the history of attempts.
DELIVERY_TABLES = ("delivery_log", "delivery_attempt")


@pytest.fixture
def run(tmp_path, monkeypatch):
    """(harness on a copy of the golden month, running sink, list of back-off delays)."""
    wh = copy_golden(tmp_path / "warehouse.duckdb")
    h = PipelineHarness(tmp_path, warehouse=wh, start=False)
    slept: list[float] = []
    # Back-off without waiting; send_report imports deliver at call time, so this is used.
    monkeypatch.setattr(
        bsin.delivery.delivery,
        "deliver",
        functools.partial(bsin.delivery.delivery.deliver, sleep=slept.append),
    )
    with start_sink(tmp_path / "outbox") as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_uri(sink.port))
        yield h, sink, slept
    h.close()
    wh.close()


def _log(h: PipelineHarness) -> list[tuple]:
    return h.wh.query(
        "select country, report_month, status, message_id from delivery_log order by country"
    )


def _mails_to(sink, country: str) -> list:
    return [m for m in sink.messages if m.message["X-BSIN-Country"] == country]


TRANSIENT = [
    pytest.param(lambda f: f.refuse_connections(2), 2, id="refused-connection"),
    pytest.param(lambda f: f.reply(421, 2), 2, id="421"),
    pytest.param(lambda f: f.reply(451, 3), 3, id="451"),
    pytest.param(lambda f: f.disconnect_after_data(1), 1, id="disconnect-after-data"),
]


@pytest.mark.parametrize(("arm", "failures"), TRANSIENT)
def test_transient_smtp_fault_is_retried_and_sends_exactly_once(run, arm, failures) -> None:
    h, sink, slept = run
    before = h.dump(exclude=DELIVERY_TABLES)
    arm(sink.faults)
    result = h.send(COUNTRY)
    assert result["status"] == "sent"
    # At most one back-off per injected failure (the SMTP hook may absorb a refusal itself).
    assert 1 <= len(slept) <= failures
    assert len(_mails_to(sink, COUNTRY)) == 1
    assert [row[2] for row in _log(h)] == ["sent"]
    # Delivery touches its own tables only.
    assert h.dump(exclude=DELIVERY_TABLES) == before
    # The task's retry or a re-run of the DAG sends nothing more.
    assert h.send(COUNTRY)["status"] == "already_sent"
    assert len(sink.messages) == 1


PERMANENT = [
    pytest.param(lambda f: f.refuse_connections(100), "could not deliver after 5 attempts", 4,
                 id="refused-every-time"),
    pytest.param(lambda f: f.reply(554), "permanent", 0, id="554"),
    pytest.param(lambda f: f.disconnect_after_data(100), "SMTPServerDisconnected", 4,
                 id="disconnect-every-time"),
]  # fmt: skip


@pytest.mark.parametrize(("arm", "message", "backoffs"), PERMANENT)
def test_failed_delivery_is_clear_recorded_and_sent_once_on_rerun(
    run, arm, message, backoffs
) -> None:
    h, sink, slept = run
    before = h.dump(exclude=DELIVERY_TABLES)
    arm(sink.faults)
    with pytest.raises(DeliveryError) as err:
        h.send(COUNTRY)
    text = str(err.value)
    assert text.startswith(f"{COUNTRY} 2023-03")
    assert message in text
    assert len(slept) == backoffs  # 554 is not retried at all
    assert sink.messages == []
    assert [row[2] for row in _log(h)] == ["failed"]
    assert h.dump(exclude=DELIVERY_TABLES) == before
    sink.faults.clear()
    assert h.send(COUNTRY)["status"] == "sent"
    assert h.send(COUNTRY)["status"] == "already_sent"
    assert len(sink.messages) == 1
    assert [row[2] for row in _log(h)] == ["sent"]


def test_one_partner_failing_does_not_stop_or_repeat_the_others(run) -> None:
    h, sink, _ = run
    assert h.send("SE")["status"] == "sent"
    sink.faults.reply(554)
    with pytest.raises(DeliveryError):
        h.send("EE")
    assert h.send("LT")["status"] == "sent"
    sink.faults.clear()
    for country in ("SE", "EE", "LT"):
        h.send(country)
    counts = {c: len(_mails_to(sink, c)) for c in ("SE", "EE", "LT")}
    assert counts == {"SE": 1, "EE": 1, "LT": 1}
    assert {row[0]: row[2] for row in _log(h)} == {"EE": "sent", "LT": "sent", "SE": "sent"}


def test_lost_reply_gives_a_recognisable_duplicate_and_both_attempts_are_recorded(run) -> None:
    """Issue 10, finding 3: the server stored the message but its reply was lost."""
    h, sink, slept = run
    sink.faults.lose_reply(1)
    assert h.send(COUNTRY)["status"] == "sent"
    mails = _mails_to(sink, COUNTRY)
    # At most one stored message per attempt, all with one Message-ID: clients show one.
    assert len(mails) == 2 and len(slept) == 1
    assert len({m.message["Message-ID"] for m in mails}) == 1
    attempts = h.wh.query(
        "select attempt_no, outcome, message_id from delivery_attempt "
        "where country = :c order by attempt_no",
        {"c": COUNTRY},
    )
    assert [(n, outcome) for n, outcome, _ in attempts] == [(1, "unknown"), (2, "accepted")]
    assert {mid for *_, mid in attempts} == {mails[0].message["Message-ID"]}
    assert h.send(COUNTRY)["status"] == "already_sent"
    assert len(sink.messages) == 2
