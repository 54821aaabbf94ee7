"""Exactly-once delivery of a partner's monthly report over SMTP.

``deliver`` sends one prepared ``EmailMessage`` through the Airflow SMTP provider's
``SmtpHook`` (which reads the connection: host, port, login, ``disable_ssl``,
``disable_tls``, ``timeout``, ``retry_limit``). Two tables guard it (docs/security.md,
"Delivery"; ``bsin.delivery.ledger``): the claim in ``delivery_log`` lets one process of
any number deliver a partner-month (the others raise ``DeliveryInProgress``), and
``delivery_attempt`` keeps every SMTP transaction.

``delivery_log.status``:

* ``sent``: done; a re-run sends nothing (``DeliveryStatus.ALREADY_SENT``) unless
  ``resend=True``, which sends again under a new Message-ID (``...resend1@``).
* ``sending``: a process holds the claim. Within ``claim_timeout`` another run stops with
  ``DeliveryInProgress``; after it the holder is taken to have died and the next run
  resumes the delivery with the same Message-ID.
* ``partly_sent``: some recipients refused the report (e.g. 550); ``refused`` lists them,
  data staff got an alert, and the next run sends to the recipients that have not
  accepted it yet, only.
* ``failed``: the last attempt failed; the next run tries again (same Message-ID).
* ``resend_failed``: an explicit resend failed after an earlier success; the partner has
  the first copy, so a plain re-run does not send.

The Message-ID is stable per partner-month (``bsin.reporting.report.message_id_for``): when the
server stored a message but the reply was lost, the retry's copy carries the same id, so
mail clients and servers that deduplicate by Message-ID show it once, and the attempt
history shows the lost reply (outcome ``unknown``).

Transient failures (connection refused or reset, timeouts, server disconnects, 4xx replies
such as 421 and 451) are retried with exponential backoff; permanent ones (5xx such as
554, authentication, TLS set-up) fail at once with ``DeliveryError``.

``bsin.delivery.smtp_transport`` sends one SMTP transaction and classifies its failures;
this module decides what to send, to whom, under which Message-ID and how often.
"""

from __future__ import annotations

import copy
import logging
import re
import smtplib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

from bsin.delivery.ledger import (
    DELIVERED_STATUSES,
    AttemptOutcome,
    DeliveryStatus,
    accepted_before,
    claim,
    end_attempt,
    join_addresses,
    read_log_row,
    record_outcome,
    refused_before,
    split_addresses,
    start_attempt,
    utc_now,
)
from bsin.delivery.smtp_transport import (
    DeliveryError,
    SmtpTransaction,
    alert_refused_recipients,
    describe_failure,
    is_transient,
    send_once,
)
from bsin.reporting.report import message_id_for
from bsin.warehouse.db import month_param

if TYPE_CHECKING:
    from bsin.core.config import Partner
    from bsin.warehouse.db import Warehouse

log = logging.getLogger(__name__)

_RESEND = re.compile(r"\.resend(\d+)@")
# Longer than one deliver call can take (5 attempts of at most the SMTP timeout plus the
# back-off): a claim older than this belongs to a process that died.
CLAIM_TIMEOUT = timedelta(minutes=15)


class DeliveryInProgress(DeliveryError):
    """Another process holds the claim on this partner-month; this one sent nothing."""


class PartialDelivery(DeliveryError):
    """Some recipients refused the report; the others have it. Data staff were alerted."""

    def __init__(self, message: str, result: DeliveryResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class DeliveryResult:
    """What ``deliver`` did for one partner-month."""

    country: str
    month: date
    status: DeliveryStatus
    message_id: str | None
    recipients: tuple[str, ...]
    attempts: int = 0
    sent_at: datetime | None = None
    refused: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        text = f"{self.status} {self.message_id} to {', '.join(self.recipients)}"
        if self.attempts:
            text += f" after {self.attempts} attempt(s)"
        if self.refused:
            text += f"; refused by the server: {self.refused}"
        return text


def _check_addressing(partner: Partner, message: EmailMessage) -> tuple[str, ...]:
    """The envelope recipients; refuse a message whose headers name another partner."""
    header_country = message.get("X-BSIN-Country")
    if header_country and str(header_country) != partner.country:
        raise DeliveryError(
            f"message is the report of {header_country} but is being delivered to partner "
            f"{partner.country}: build the message for the partner you send to"
        )
    to = {addr.lower() for _, addr in getaddresses([str(v) for v in message.get_all("To", [])])}
    recipients = tuple(partner.recipients)
    if to != {r.lower() for r in recipients}:
        raise DeliveryError(
            f"{partner.country}: the message is addressed to {sorted(to)} but partners.yaml "
            f"lists {list(recipients)}: rebuild the message with bsin.reporting.report.build_message"
        )
    return recipients


def _already_sent_or_claimed(
    previous: dict[str, Any] | None,
    resend: bool,
    label: str,
    claim_timeout: timedelta,
) -> bool:
    """True when the report went out before; raise while another process holds the claim."""
    prev_status = previous["status"] if previous else None
    if prev_status in DELIVERED_STATUSES and not resend:
        return True
    if previous and prev_status == DeliveryStatus.SENDING and not resend:
        claimed_at = previous["claimed_at"]
        if claimed_at is None or utc_now() - claimed_at < claim_timeout:
            raise DeliveryInProgress(
                f"{label}: another process is delivering this report (claimed "
                f"{claimed_at or 'at an unknown time'} UTC as {previous['message_id']}); this "
                f"run sent nothing. If no process is running, re-run after the claim expires "
                f"({claim_timeout} after it was taken) or with resend=True"
            )
        log.warning(
            "%s: the delivery claimed at %s UTC never finished (the process died); resuming "
            "it with the same Message-ID %s",
            label,
            claimed_at,
            previous["message_id"],
        )
    return False


def _choose_message_id(
    previous: dict[str, Any] | None, resend: bool, country: str, month: date, sender: str
) -> tuple[str, int]:
    """The Message-ID to send under and its resend number (0 for the first delivery)."""
    prev_status = previous["status"] if previous else None
    if (
        previous
        and resend
        and prev_status
        in (
            DeliveryStatus.SENT,
            DeliveryStatus.RESEND_FAILED,
            DeliveryStatus.PARTLY_SENT,
            DeliveryStatus.SENDING,
        )
    ):
        match = _RESEND.search(str(previous["message_id"] or ""))
        resend_no = (int(match.group(1)) if match else 0) + 1
        return message_id_for(country, month, sender, resend_no), resend_no
    # Resuming a failed, partly refused or abandoned delivery: the same report, so the
    # same Message-ID; a copy the server did store is recognisably a duplicate.
    message_id = (previous or {}).get("message_id") or message_id_for(country, month, sender)
    match = _RESEND.search(message_id)
    return message_id, int(match.group(1)) if match else 0


@dataclass
class _Progress:
    """Where a delivery stands across its attempts."""

    pending: list[str]
    accepted: list[str]
    refused_for_good: dict[str, str] = field(default_factory=dict)
    last_error: str = ""
    attempts: int = 0


def _split_refusals(progress: _Progress, refused: dict[str, str]) -> None:
    """Refused with a 4xx: worth another try; with a 5xx: not in this run."""
    progress.pending = [r for r, why in refused.items() if why[:1] == "4"]
    progress.refused_for_good.update({r: why for r, why in refused.items() if why[:1] != "4"})


def _send_with_retries(
    wh: Warehouse,
    smtp_conn_id: str,
    msg: EmailMessage,
    label: str,
    claim_ids: tuple[str, date, str, str],
    failed_status: DeliveryStatus,
    recipients: Sequence[str],
    progress: _Progress,
    *,
    max_attempts: int,
    base_delay: float,
    max_delay: float,
    sleep: Callable[[float], None],
) -> None:
    """Send to ``progress.pending`` until all accepted or refused for good, or attempts run out.

    Every attempt is a ``delivery_attempt`` row. A permanent failure records
    ``failed_status`` and raises ``DeliveryError``.
    """
    country, m, message_id, token = claim_ids
    while progress.pending:
        progress.attempts += 1
        tx = SmtpTransaction()
        attempt_no = start_attempt(wh, country, m, message_id, token, progress.pending)
        try:
            send_once(smtp_conn_id, msg, progress.pending, tx)
        except Exception as exc:  # classified below; anything unknown is permanent
            progress.last_error = describe_failure(exc)
            lost_reply = tx.data_sent and not tx.reply
            outcome = (
                AttemptOutcome.UNKNOWN
                if lost_reply
                else AttemptOutcome.REFUSED
                if tx.refused
                else AttemptOutcome.FAILED
            )
            end_attempt(wh, country, m, attempt_no, outcome, [], tx.refused, progress.last_error)
            transient = not isinstance(exc, DeliveryError) and is_transient(exc)
            if isinstance(exc, smtplib.SMTPRecipientsRefused) and progress.accepted:
                # The partner has the report already; only these recipients are owed it.
                _split_refusals(progress, tx.refused)
                if not progress.pending:
                    break
            elif not transient:
                progress.refused_for_good.update(tx.refused)
                record_outcome(wh, country, m, token, failed_status, recipients, tx.refused, None)
                if isinstance(exc, DeliveryError):
                    raise
                raise DeliveryError(
                    f"{label}: could not send the report ({progress.last_error}); this is "
                    "permanent, retrying will not help: fix the cause (SMTP connection "
                    f"{smtp_conn_id!r}, its credentials or TLS extras, recipient address, "
                    "sender, content policy) and re-run"
                ) from exc
            if lost_reply:
                log.warning(
                    "%s: the connection was lost after the message was sent (%s): the "
                    "server may have stored it; the retry carries the same Message-ID %s",
                    label,
                    progress.last_error,
                    message_id,
                )
        else:
            accepted = [r for r in progress.pending if r not in tx.refused]
            progress.accepted += accepted
            outcome = AttemptOutcome.PARTLY_REFUSED if tx.refused else AttemptOutcome.ACCEPTED
            end_attempt(wh, country, m, attempt_no, outcome, accepted, tx.refused, tx.reply)
            _split_refusals(progress, tx.refused)
            progress.last_error = "; ".join(f"{r}: {why}" for r, why in tx.refused.items())
            if not progress.pending:
                break
        if progress.attempts >= max_attempts:
            break
        delay = min(max_delay, base_delay * 2 ** (progress.attempts - 1))
        log.warning(
            "%s: attempt %d/%d failed (%s); retrying in %.1fs",
            label,
            progress.attempts,
            max_attempts,
            progress.last_error,
            delay,
        )
        sleep(delay)


def deliver(
    wh: Warehouse,
    smtp_conn_id: str,
    partner: Partner,
    month: date | str,
    message: EmailMessage,
    resend: bool = False,
    *,
    alert_to: Sequence[str] = (),
    max_attempts: int = 5,
    base_delay: float = 2.0,
    max_delay: float = 60.0,
    claim_timeout: timedelta = CLAIM_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send ``message`` to ``partner`` once for ``month``; see the module docstring.

    Returns ``DeliveryResult`` (status ``sent`` or ``already_sent``). Raises
    ``DeliveryInProgress`` when another process holds the partner-month,
    ``PartialDelivery`` when some recipients refused the report (after alerting
    ``alert_to``), and ``DeliveryError`` after a permanent failure or when retries are
    exhausted, having recorded the outcome in ``delivery_log``.
    """
    m = month_param(month)
    country = partner.country
    label = f"{country} {m:%Y-%m}"
    recipients = _check_addressing(partner, message)
    previous = read_log_row(wh, country, m)
    if previous and _already_sent_or_claimed(previous, resend, label, claim_timeout):
        log.info("%s: already sent as %s; nothing to do", label, previous["message_id"])
        return DeliveryResult(
            country,
            m,
            DeliveryStatus.ALREADY_SENT,
            previous["message_id"],
            tuple(split_addresses(previous["recipients"])),
            sent_at=previous["sent_at"],
        )

    sender = str(message["From"])
    message_id, resend_no = _choose_message_id(previous, resend, country, m, sender)
    token = claim(wh, country, m, previous, message_id, recipients)
    if token is None:
        now = read_log_row(wh, country, m) or {}
        raise DeliveryInProgress(
            f"{label}: another process claimed this report a moment ago (status "
            f"{now.get('status')}, {now.get('message_id')}); this run sent nothing"
        )

    alerted_before = refused_before(wh, country, m)
    msg = copy.deepcopy(message)
    del msg["Message-ID"]
    msg["Message-ID"] = message_id
    failed_status = DeliveryStatus.RESEND_FAILED if resend_no else DeliveryStatus.FAILED

    done = accepted_before(wh, country, m, message_id) if not resend else set()
    progress = _Progress(
        pending=[r for r in recipients if r.lower() not in done],
        accepted=[r for r in recipients if r.lower() in done],
    )
    _send_with_retries(
        wh,
        smtp_conn_id,
        msg,
        label,
        (country, m, message_id, token),
        failed_status,
        recipients,
        progress,
        max_attempts=max_attempts,
        base_delay=base_delay,
        max_delay=max_delay,
        sleep=sleep,
    )

    if progress.pending and not progress.accepted:
        record_outcome(wh, country, m, token, failed_status, recipients, {}, None)
        raise DeliveryError(
            f"{label}: could not deliver after {max_attempts} attempts, last error: "
            f"{progress.last_error}. The SMTP server is unreachable or busy; the task's retry "
            "(or a re-run) will try again and sends nothing to partners already served"
        )
    sent_at = datetime.now(UTC)
    still_owed = dict(progress.refused_for_good)
    still_owed.update({r: progress.last_error for r in progress.pending})
    if not still_owed:
        record_outcome(wh, country, m, token, DeliveryStatus.SENT, recipients, {}, sent_at)
        return DeliveryResult(
            country, m, DeliveryStatus.SENT, message_id, recipients, progress.attempts, sent_at
        )
    record_outcome(
        wh, country, m, token, DeliveryStatus.PARTLY_SENT, recipients, still_owed, sent_at
    )
    # One alert per recipient and partner-month, not one per task retry.
    new_refusals = {r: why for r, why in still_owed.items() if r.lower() not in alerted_before}
    result = DeliveryResult(
        country,
        m,
        DeliveryStatus.PARTLY_SENT,
        message_id,
        recipients,
        progress.attempts,
        sent_at,
        still_owed,
    )
    if new_refusals:
        alert_refused_recipients(
            smtp_conn_id, sender, alert_to, country, m, message_id, new_refusals
        )
    raise PartialDelivery(
        f"{label}: delivered to {join_addresses(progress.accepted)} but refused for "
        f"{'; '.join(f'{r} ({why})' for r, why in still_owed.items())}. Data staff were "
        "alerted; fix the address in partners.yaml or the mailbox, then re-run: only the "
        "recipients without the report get it",
        result,
    )
