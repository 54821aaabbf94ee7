"""The delivery ledger: the claim in ``delivery_log`` and the history in ``delivery_attempt``.

``delivery_log`` holds one row per ``(country, report_month)``: the outcome and the
*claim*. Before sending, a process inserts the row (primary key) or updates it on the
condition that nobody changed it since it was read; only one process can win either, on
DuckDB and PostgreSQL alike. ``delivery_attempt`` keeps every SMTP transaction (time,
envelope recipients, the recipients accepted and refused, the server's reply); nothing in it
is overwritten. ``bsin.delivery.delivery.deliver`` is the one caller.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bsin.warehouse.db import Warehouse

log = logging.getLogger(__name__)


class DeliveryStatus(StrEnum):
    """Outcome of one ``deliver`` call (and the ``delivery_log.status`` values)."""

    SENT = "sent"
    ALREADY_SENT = "already_sent"
    SENDING = "sending"
    PARTLY_SENT = "partly_sent"
    FAILED = "failed"
    RESEND_FAILED = "resend_failed"


#: ``delivery_log`` statuses of a partner-month whose report went out: a failed resend
#: does not undo the first delivery. Delivery is once per partner-month from then on.
DELIVERED_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.RESEND_FAILED)


class AttemptOutcome(StrEnum):
    """``delivery_attempt.outcome``: what one SMTP transaction achieved."""

    STARTED = "started"
    ACCEPTED = "accepted"
    PARTLY_REFUSED = "partly_refused"
    REFUSED = "refused"
    FAILED = "failed"
    UNKNOWN = "unknown"


def utc_now() -> datetime:
    """Now in UTC, without a time zone (how the ledger's timestamp columns store it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def join_addresses(addresses: Sequence[str]) -> str:
    """Addresses as the ledger stores them: one comma-separated text."""
    return ", ".join(addresses)


def split_addresses(text: Any) -> list[str]:
    """The addresses of a stored comma-separated text (none for NULL)."""
    if not isinstance(text, str):
        return []
    return [a.strip() for a in text.split(",") if a.strip()]


def _join_refusals(refused: dict[str, str]) -> str | None:
    return "; ".join(f"{a}: {why}" for a, why in refused.items()) or None


def _missing(value: Any) -> bool:
    try:
        return bool(value is None or value != value)  # NaN/NaT are not equal to themselves
    except (TypeError, ValueError):
        return False


def read_log_row(wh: Warehouse, country: str, month: date) -> dict[str, Any] | None:
    """The partner-month's ``delivery_log`` row (NULLs as None), or None when there is none."""
    df = wh.query_df(
        "select message_id, recipients, sent_at, status, claim_token, claimed_at, refused "
        "from delivery_log where country = :c and report_month = :m",
        {"c": country, "m": month},
    )
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    return {k: (None if _missing(v) else v) for k, v in row.items()}


def delivered_countries(wh: Warehouse, month: date) -> list[str]:
    """The countries whose ``month`` report went out (``DELIVERED_STATUSES``), sorted."""
    params: dict[str, Any] = {f"s{i}": s.value for i, s in enumerate(DELIVERED_STATUSES)}
    rows = wh.query(
        "select country from delivery_log where report_month = :m"  # noqa: S608 (placeholders)
        f" and status in ({', '.join(':' + k for k in params)}) order by country",
        {"m": month, **params},
    )
    return [r[0] for r in rows]


def claim(
    wh: Warehouse,
    country: str,
    month: date,
    previous: dict[str, Any] | None,
    message_id: str,
    recipients: Sequence[str],
) -> str | None:
    """Take the partner-month for this call; the token, or None when another process won.

    A new row is claimed by its primary key, an existing one by an update that only
    matches the row as it was read: of two processes, the second inserts or updates
    nothing (PostgreSQL re-checks the condition after waiting for the first's row lock).
    """
    token = uuid.uuid4().hex
    params = {
        "c": country,
        "m": month,
        "mid": message_id,
        "r": join_addresses(recipients),
        "t": token,
        "at": utc_now(),
        "s": str(DeliveryStatus.SENDING),
    }
    if previous is None:
        n = wh.execute(
            "insert into delivery_log "
            "(country, report_month, message_id, recipients, sent_at, status, claim_token, "
            " claimed_at) values (:c, :m, :mid, :r, null, :s, :t, :at) "
            "on conflict do nothing",
            params,
        )
    else:
        n = wh.execute(
            "update delivery_log set status = :s, claim_token = :t, claimed_at = :at, "
            "message_id = :mid "
            "where country = :c and report_month = :m and status = :old_status "
            "and coalesce(claim_token, '') = :old_token",
            {
                **params,
                "old_status": previous["status"],
                "old_token": previous["claim_token"] or "",
            },
            strict=False,
        )
    return token if n == 1 else None


def record_outcome(
    wh: Warehouse,
    country: str,
    month: date,
    token: str,
    status: DeliveryStatus,
    recipients: Sequence[str],
    refused: dict[str, str],
    sent_at: datetime | None,
) -> None:
    """Record the outcome in ``delivery_log``, only while this call still holds the claim."""
    n = wh.execute(
        "update delivery_log set status = :s, recipients = :r, refused = :rf, "
        "sent_at = coalesce(:at, sent_at) "
        "where country = :c and report_month = :m and claim_token = :t",
        {
            "s": str(status),
            "r": join_addresses(recipients),
            "rf": _join_refusals(refused),
            "at": sent_at.astimezone(UTC).replace(tzinfo=None) if sent_at else None,
            "c": country,
            "m": month,
            "t": token,
        },
    )
    if n != 1:
        log.error(
            "%s %s: the claim was taken over while this delivery ran (outcome %s not "
            "recorded in delivery_log; see delivery_attempt)",
            country,
            f"{month:%Y-%m}",
            status,
        )


def accepted_before(wh: Warehouse, country: str, month: date, message_id: str) -> set[str]:
    """Recipients that accepted ``message_id`` in an earlier attempt (lower-cased)."""
    rows = wh.query(
        "select accepted from delivery_attempt where country = :c and report_month = :m "
        "and message_id = :mid",
        {"c": country, "m": month, "mid": message_id},
    )
    return {a.lower() for (text,) in rows for a in split_addresses(text)}


def refused_before(wh: Warehouse, country: str, month: date) -> set[str]:
    """Recipients already reported as refused for this partner-month (lower-cased)."""
    rows = wh.query(
        "select refused from delivery_attempt where country = :c and report_month = :m "
        "and refused is not null",
        {"c": country, "m": month},
    )
    return {part.split(":", 1)[0].strip().lower() for (text,) in rows for part in text.split("; ")}


def start_attempt(
    wh: Warehouse,
    country: str,
    month: date,
    message_id: str,
    token: str,
    recipients: Sequence[str],
) -> int:
    """Insert the next ``delivery_attempt`` row (outcome ``started``); its attempt number."""
    # The claim is held, so no other process numbers attempts of this partner-month now.
    (n,) = wh.query(
        "select coalesce(max(attempt_no), 0) + 1 from delivery_attempt "
        "where country = :c and report_month = :m",
        {"c": country, "m": month},
    )[0]
    wh.execute(
        "insert into delivery_attempt (country, report_month, attempt_no, message_id, "
        "claim_token, started_at, outcome, recipients) "
        "values (:c, :m, :n, :mid, :t, :at, :o, :r)",
        {
            "c": country,
            "m": month,
            "n": int(n),
            "mid": message_id,
            "t": token,
            "at": utc_now(),
            "o": str(AttemptOutcome.STARTED),
            "r": join_addresses(recipients),
        },
    )
    return int(n)


def end_attempt(
    wh: Warehouse,
    country: str,
    month: date,
    attempt_no: int,
    outcome: AttemptOutcome,
    accepted: Sequence[str],
    refused: dict[str, str],
    reply: str,
) -> None:
    """Complete an attempt's row: when it ended, what it achieved and the server's reply."""
    wh.execute(
        "update delivery_attempt set finished_at = :at, outcome = :o, accepted = :a, "
        "refused = :rf, smtp_reply = :reply "
        "where country = :c and report_month = :m and attempt_no = :n",
        {
            "at": utc_now(),
            "o": str(outcome),
            "a": join_addresses(accepted) or None,
            "rf": _join_refusals(refused),
            "reply": reply[:1000] or None,
            "c": country,
            "m": month,
            "n": attempt_no,
        },
    )
