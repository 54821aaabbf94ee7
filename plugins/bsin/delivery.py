"""Exactly-once delivery of a partner's monthly report over SMTP.

``deliver`` sends one prepared ``EmailMessage`` through the Airflow SMTP provider's
``SmtpHook`` (which reads the connection: host, port, login, ``disable_ssl``,
``disable_tls``, ``timeout``, ``retry_limit``) and guards it with ``delivery_log``, one row
per ``(country, report_month)``:

* ``sent``: done; a re-run sends nothing (``DeliveryStatus.ALREADY_SENT``) unless
  ``resend=True``, which sends again under a new Message-ID (``...resend1@``), so that
  mail systems that drop duplicate Message-IDs still deliver it.
* ``sending``: written just before the SMTP transaction. If it is still there on the next
  run, the previous process died mid-send and nobody knows whether the partner got the
  mail: ``deliver`` refuses to guess and asks for an explicit ``resend=True``.
* ``failed``: the last attempt failed; the next run tries again.
* ``resend_failed``: an explicit resend failed after an earlier success; the partner has
  the first copy, so a plain re-run does not send.

Transient failures (connection refused or reset, timeouts, server disconnects, 4xx replies
such as 421 and 451) are retried with exponential backoff; permanent ones (5xx such as
554, authentication, TLS set-up) fail at once with ``DeliveryError``.
"""

from __future__ import annotations

import copy
import logging
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pandas as pd

from bsin.report import message_id_for
from bsin.warehouse import month_param

if TYPE_CHECKING:
    from bsin.config import Partner
    from bsin.warehouse import Warehouse

log = logging.getLogger(__name__)

_RESEND = re.compile(r"\.resend(\d+)@")


class DeliveryStatus(StrEnum):
    """Outcome of one ``deliver`` call (and the ``delivery_log.status`` values)."""

    SENT = "sent"
    ALREADY_SENT = "already_sent"
    SENDING = "sending"
    FAILED = "failed"
    RESEND_FAILED = "resend_failed"


class DeliveryError(RuntimeError):
    """The report could not be delivered; the message says why and what to do."""


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


def is_transient(exc: BaseException) -> bool:
    """Whether an SMTP failure may go away on retry (network trouble, 4xx replies)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, ssl.SSLError):
        return False  # a TLS mismatch does not heal by waiting
    if isinstance(exc, OSError):  # refused, reset, unreachable, timeout
        return True
    # The hook wraps repeated disconnects during connect in AirflowException.
    return "Unable to connect to smtp server" in str(exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        return f"SMTP {exc.smtp_code} {reply}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"all recipients refused: {exc.recipients}"
    return f"{type(exc).__name__}: {exc}"


def _log_row(wh: Warehouse, country: str, month: date) -> dict[str, Any] | None:
    df = wh.query_df(
        "select message_id, recipients, sent_at, status from delivery_log "
        "where country = :c and report_month = :m",
        {"c": country, "m": month},
    )
    return None if df.empty else df.iloc[0].to_dict()


def _record(
    wh: Warehouse,
    country: str,
    month: date,
    status: DeliveryStatus,
    message_id: str | None,
    recipients: tuple[str, ...],
    sent_at: datetime | None,
) -> None:
    row = {
        "country": country,
        "report_month": month,
        "message_id": message_id,
        "recipients": ", ".join(recipients),
        "sent_at": sent_at.astimezone(UTC).replace(tzinfo=None) if sent_at else None,
        "status": str(status),
    }
    wh.replace("delivery_log", {"country": country, "report_month": month}, pd.DataFrame([row]))


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
            f"lists {list(recipients)}: rebuild the message with bsin.report.build_message"
        )
    return recipients


def _send_once(smtp_conn_id: str, message: EmailMessage, recipients: tuple[str, ...]) -> dict:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    # The hook's send_email_smtp builds its own single-HTML MIME message, which cannot
    # carry multipart/related images; so the hook is used for what it is for (reading the
    # connection, SSL/STARTTLS and login) and its client sends the prepared message.
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        sender = parseaddr(str(message["From"]))[1] or hook.from_email
        if not sender:
            raise DeliveryError(
                "the message has no From address and the SMTP connection no from_email extra"
            )
        client = hook._smtp_client
        if client is None:  # get_conn always sets it; guard against provider changes
            raise DeliveryError(f"SMTP hook for {smtp_conn_id!r} did not open a connection")
        return client.send_message(message, from_addr=sender, to_addrs=list(recipients))


def deliver(
    wh: Warehouse,
    smtp_conn_id: str,
    partner: Partner,
    month: date | str,
    message: EmailMessage,
    resend: bool = False,
    *,
    max_attempts: int = 5,
    base_delay: float = 2.0,
    max_delay: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send ``message`` to ``partner`` once for ``month``; see the module docstring.

    Returns ``DeliveryResult`` (status ``sent`` or ``already_sent``); raises
    ``DeliveryError`` after a permanent failure or when retries are exhausted, having
    recorded ``failed`` in ``delivery_log``.
    """
    m = month_param(month)
    country = partner.country
    recipients = _check_addressing(partner, message)
    previous = _log_row(wh, country, m)
    prev_status = previous["status"] if previous else None

    if prev_status in (DeliveryStatus.SENT, DeliveryStatus.RESEND_FAILED) and not resend:
        log.info(
            "%s %s: already sent as %s; nothing to do",
            country,
            f"{m:%Y-%m}",
            previous["message_id"],
        )
        sent_at = previous["sent_at"]
        return DeliveryResult(
            country,
            m,
            DeliveryStatus.ALREADY_SENT,
            previous["message_id"],
            tuple(r.strip() for r in str(previous["recipients"] or "").split(",") if r.strip()),
            sent_at=None if pd.isna(sent_at) else sent_at,
        )
    if prev_status == DeliveryStatus.SENDING and not resend:
        raise DeliveryError(
            f"{country} {m:%Y-%m}: a previous delivery stopped in the middle of sending "
            f"({previous['message_id']}); whether the partner received it is unknown. Check "
            "the mail server's log, then re-run with resend=True to send it (again)"
        )

    msg = copy.deepcopy(message)
    attempt_no = 0
    if prev_status in (DeliveryStatus.SENT, DeliveryStatus.RESEND_FAILED, DeliveryStatus.SENDING):
        match = _RESEND.search(str(previous["message_id"] or ""))
        attempt_no = (int(match.group(1)) if match else 0) + 1
    message_id = message_id_for(country, m, str(msg["From"]), attempt_no)
    del msg["Message-ID"]
    msg["Message-ID"] = message_id
    failed_status = DeliveryStatus.RESEND_FAILED if attempt_no else DeliveryStatus.FAILED

    _record(wh, country, m, DeliveryStatus.SENDING, message_id, recipients, None)
    last_error = ""
    for attempt in range(1, max_attempts + 1):
        try:
            refused = _send_once(smtp_conn_id, msg, recipients)
        except DeliveryError:
            _record(wh, country, m, failed_status, message_id, recipients, None)
            raise
        except Exception as exc:  # classified below; anything unknown is permanent
            last_error = _describe(exc)
            if not is_transient(exc):
                _record(wh, country, m, failed_status, message_id, recipients, None)
                raise DeliveryError(
                    f"{country} {m:%Y-%m}: could not send the report ({last_error}); this is "
                    "permanent, retrying will not help: fix the cause (SMTP connection "
                    f"{smtp_conn_id!r}, its credentials or TLS extras, recipient address, "
                    "sender, content policy) and re-run"
                ) from exc
            if attempt == max_attempts:
                break
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            log.warning(
                "%s %s: attempt %d/%d failed (%s); retrying in %.1fs",
                country,
                f"{m:%Y-%m}",
                attempt,
                max_attempts,
                last_error,
                delay,
            )
            sleep(delay)
            continue
        sent_at = datetime.now(UTC)
        _record(wh, country, m, DeliveryStatus.SENT, message_id, recipients, sent_at)
        refused_text = {
            rcpt: _describe(smtplib.SMTPResponseException(*r)) for rcpt, r in refused.items()
        }
        if refused_text:
            log.warning("%s %s: some recipients refused: %s", country, f"{m:%Y-%m}", refused_text)
        return DeliveryResult(
            country, m, DeliveryStatus.SENT, message_id, recipients, attempt, sent_at, refused_text
        )

    _record(wh, country, m, failed_status, message_id, recipients, None)
    raise DeliveryError(
        f"{country} {m:%Y-%m}: could not deliver after {max_attempts} attempts, last error: "
        f"{last_error}. The SMTP server is unreachable or busy; the task's retry (or a re-run) "
        "will try again and sends nothing to partners already served"
    )
