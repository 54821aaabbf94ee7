"""Exactly-once delivery of a partner's monthly report over SMTP.

``deliver`` sends one prepared ``EmailMessage`` through the Airflow SMTP provider's
``SmtpHook`` (which reads the connection: host, port, login, ``disable_ssl``,
``disable_tls``, ``timeout``, ``retry_limit``). Two tables guard it (docs/security.md,
"Delivery"):

* ``delivery_log``, one row per ``(country, report_month)``, holds the outcome and the
  *claim*: before sending, a process inserts the row (primary key) or updates it on the
  condition that nobody changed it since it was read. Only one process can win either, on
  DuckDB and PostgreSQL alike, so two tasks delivering the same partner-month at once send
  once; the loser raises ``DeliveryInProgress``.
* ``delivery_attempt`` keeps every SMTP transaction: time, envelope recipients, the
  recipients accepted and refused, the server's reply. Nothing is overwritten.

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
"""

from __future__ import annotations

import copy
import logging
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from enum import StrEnum
from typing import TYPE_CHECKING, Any

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


class DeliveryStatus(StrEnum):
    """Outcome of one ``deliver`` call (and the ``delivery_log.status`` values)."""

    SENT = "sent"
    ALREADY_SENT = "already_sent"
    SENDING = "sending"
    PARTLY_SENT = "partly_sent"
    FAILED = "failed"
    RESEND_FAILED = "resend_failed"


class AttemptOutcome(StrEnum):
    """``delivery_attempt.outcome``: what one SMTP transaction achieved."""

    STARTED = "started"
    ACCEPTED = "accepted"
    PARTLY_REFUSED = "partly_refused"
    REFUSED = "refused"
    FAILED = "failed"
    UNKNOWN = "unknown"


class DeliveryError(RuntimeError):
    """The report could not be delivered; the message says why and what to do."""


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


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _join(addresses: Sequence[str]) -> str:
    return ", ".join(addresses)


def _split(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    return [a.strip() for a in text.split(",") if a.strip()]


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}"


@dataclass
class _Transaction:
    """What one SMTP transaction did, filled in while it runs (also when it fails)."""

    data_sent: bool = False
    reply: str = ""
    refused: dict[str, str] = field(default_factory=dict)


def _send_once(
    smtp_conn_id: str, message: EmailMessage, recipients: Sequence[str], tx: _Transaction
) -> None:
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
        original_data = client.data

        def data(msg: Any) -> tuple[int, bytes]:
            # smtplib.sendmail drops the DATA reply (the server's queue id, the evidence
            # to find the message in its log) and cannot say whether DATA was reached.
            tx.data_sent = True
            code, reply = original_data(msg)
            tx.reply = _reply_text(code, reply)
            return code, reply

        client.data = data
        try:
            refused = client.send_message(message, from_addr=sender, to_addrs=list(recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            tx.refused = {r: _reply_text(c, m) for r, (c, m) in exc.recipients.items()}
            raise
        tx.refused = {r: _reply_text(c, m) for r, (c, m) in refused.items()}


def _log_row(wh: Warehouse, country: str, month: date) -> dict[str, Any] | None:
    df = wh.query_df(
        "select message_id, recipients, sent_at, status, claim_token, claimed_at, refused "
        "from delivery_log where country = :c and report_month = :m",
        {"c": country, "m": month},
    )
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    return {k: (None if _missing(v) else v) for k, v in row.items()}


def _missing(value: Any) -> bool:
    try:
        return bool(value is None or value != value)  # NaN/NaT are not equal to themselves
    except (TypeError, ValueError):
        return False


def _claim(
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
        "r": _join(recipients),
        "t": token,
        "at": _now(),
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


def _finish(
    wh: Warehouse,
    country: str,
    month: date,
    token: str,
    status: DeliveryStatus,
    recipients: Sequence[str],
    refused: dict[str, str],
    sent_at: datetime | None,
) -> None:
    """Record the outcome, only while this call still holds the claim."""
    n = wh.execute(
        "update delivery_log set status = :s, recipients = :r, refused = :rf, "
        "sent_at = coalesce(:at, sent_at) "
        "where country = :c and report_month = :m and claim_token = :t",
        {
            "s": str(status),
            "r": _join(recipients),
            "rf": "; ".join(f"{a}: {why}" for a, why in refused.items()) or None,
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


def _accepted_before(wh: Warehouse, country: str, month: date, message_id: str) -> set[str]:
    """Recipients that accepted ``message_id`` in an earlier attempt (lower-cased)."""
    rows = wh.query(
        "select accepted from delivery_attempt where country = :c and report_month = :m "
        "and message_id = :mid",
        {"c": country, "m": month, "mid": message_id},
    )
    return {a.lower() for (text,) in rows for a in _split(text)}


def _refused_before(wh: Warehouse, country: str, month: date) -> set[str]:
    """Recipients already reported as refused for this partner-month (lower-cased)."""
    rows = wh.query(
        "select refused from delivery_attempt where country = :c and report_month = :m "
        "and refused is not null",
        {"c": country, "m": month},
    )
    return {part.split(":", 1)[0].strip().lower() for (text,) in rows for part in text.split("; ")}


def _start_attempt(
    wh: Warehouse,
    country: str,
    month: date,
    message_id: str,
    token: str,
    recipients: Sequence[str],
) -> int:
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
            "at": _now(),
            "o": str(AttemptOutcome.STARTED),
            "r": _join(recipients),
        },
    )
    return int(n)


def _end_attempt(
    wh: Warehouse,
    country: str,
    month: date,
    attempt_no: int,
    outcome: AttemptOutcome,
    accepted: Sequence[str],
    refused: dict[str, str],
    reply: str,
) -> None:
    wh.execute(
        "update delivery_attempt set finished_at = :at, outcome = :o, accepted = :a, "
        "refused = :rf, smtp_reply = :reply "
        "where country = :c and report_month = :m and attempt_no = :n",
        {
            "at": _now(),
            "o": str(outcome),
            "a": _join(accepted) or None,
            "rf": "; ".join(f"{a}: {why}" for a, why in refused.items()) or None,
            "reply": reply[:1000] or None,
            "c": country,
            "m": month,
            "n": attempt_no,
        },
    )


def _alert_refused(
    smtp_conn_id: str,
    sender: str,
    alert_to: Sequence[str],
    country: str,
    month: date,
    message_id: str,
    refused: dict[str, str],
) -> None:
    """Tell data staff which recipients refused the report, through the same SMTP server."""
    if not alert_to:
        log.warning("%s %s: no alert_recipients in programme.yaml to alert", country, month)
        return
    alert = EmailMessage()
    alert["Subject"] = (
        f"[BSIN] {country} {month:%Y-%m}: report refused for {len(refused)} recipient(s)"
    )
    alert["From"] = sender
    alert["To"] = ", ".join(alert_to)
    lines = [f"  {address}: {reply}" for address, reply in refused.items()]
    alert.set_content(
        f"The monthly report of {country} for {month:%Y-%m} ({message_id}) was refused by "
        "the mail server for:\n\n" + "\n".join(lines) + "\n\nThe other recipients have "
        "it. Check the address in include/config/partners.yaml with the partner (or ask "
        "them to free the mailbox), then re-run the send_report task: it sends to the "
        "recipients who do not have the report yet, only. delivery_attempt holds every "
        "attempt.\n"
    )
    try:
        tx = _Transaction()
        _send_once(smtp_conn_id, alert, list(alert_to), tx)
    except Exception as exc:  # the refusal itself is recorded and raised by the caller
        log.error("%s %s: could not alert data staff: %s", country, month, _describe(exc))
    else:
        log.info("%s %s: data staff alerted about refused recipients", country, month)


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
    previous = _log_row(wh, country, m)
    prev_status = previous["status"] if previous else None

    if prev_status in (DeliveryStatus.SENT, DeliveryStatus.RESEND_FAILED) and not resend:
        log.info("%s: already sent as %s; nothing to do", label, previous["message_id"])
        return DeliveryResult(
            country,
            m,
            DeliveryStatus.ALREADY_SENT,
            previous["message_id"],
            tuple(_split(previous["recipients"])),
            sent_at=previous["sent_at"],
        )
    if prev_status == DeliveryStatus.SENDING and not resend:
        claimed_at = previous["claimed_at"]
        if claimed_at is None or _now() - claimed_at < claim_timeout:
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

    base_id = message_id_for(country, m, str(message["From"]))
    if resend and prev_status in (
        DeliveryStatus.SENT,
        DeliveryStatus.RESEND_FAILED,
        DeliveryStatus.PARTLY_SENT,
        DeliveryStatus.SENDING,
    ):
        match = _RESEND.search(str(previous["message_id"] or ""))
        resend_no = (int(match.group(1)) if match else 0) + 1
        message_id = message_id_for(country, m, str(message["From"]), resend_no)
    else:
        # Resuming a failed, partly refused or abandoned delivery: the same report, so the
        # same Message-ID; a copy the server did store is recognisably a duplicate.
        message_id = (previous or {}).get("message_id") or base_id
        match = _RESEND.search(message_id)
        resend_no = int(match.group(1)) if match else 0

    token = _claim(wh, country, m, previous, message_id, recipients)
    if token is None:
        now = _log_row(wh, country, m) or {}
        raise DeliveryInProgress(
            f"{label}: another process claimed this report a moment ago (status "
            f"{now.get('status')}, {now.get('message_id')}); this run sent nothing"
        )

    alerted_before = _refused_before(wh, country, m)
    msg = copy.deepcopy(message)
    del msg["Message-ID"]
    msg["Message-ID"] = message_id
    failed_status = DeliveryStatus.RESEND_FAILED if resend_no else DeliveryStatus.FAILED

    done = _accepted_before(wh, country, m, message_id) if not resend else set()
    pending = [r for r in recipients if r.lower() not in done]
    accepted_all = [r for r in recipients if r.lower() in done]
    refused_for_good: dict[str, str] = {}
    last_error = ""
    attempt = 0
    while pending:
        attempt += 1
        tx = _Transaction()
        attempt_no = _start_attempt(wh, country, m, message_id, token, pending)
        try:
            _send_once(smtp_conn_id, msg, pending, tx)
        except Exception as exc:  # classified below; anything unknown is permanent
            last_error = _describe(exc)
            lost_reply = tx.data_sent and not tx.reply
            outcome = (
                AttemptOutcome.UNKNOWN
                if lost_reply
                else AttemptOutcome.REFUSED
                if tx.refused
                else AttemptOutcome.FAILED
            )
            _end_attempt(wh, country, m, attempt_no, outcome, [], tx.refused, last_error)
            transient = not isinstance(exc, DeliveryError) and is_transient(exc)
            if isinstance(exc, smtplib.SMTPRecipientsRefused) and accepted_all:
                # The partner has the report already; only these recipients are owed it.
                pending = [r for r, why in tx.refused.items() if why[:1] == "4"]
                refused_for_good.update({r: why for r, why in tx.refused.items() if why[:1] != "4"})
                if not pending:
                    break
            elif not transient:
                refused_for_good.update(tx.refused)
                _finish(wh, country, m, token, failed_status, recipients, tx.refused, None)
                if isinstance(exc, DeliveryError):
                    raise
                raise DeliveryError(
                    f"{label}: could not send the report ({last_error}); this is "
                    "permanent, retrying will not help: fix the cause (SMTP connection "
                    f"{smtp_conn_id!r}, its credentials or TLS extras, recipient address, "
                    "sender, content policy) and re-run"
                ) from exc
            if lost_reply:
                log.warning(
                    "%s: the connection was lost after the message was sent (%s): the "
                    "server may have stored it; the retry carries the same Message-ID %s",
                    label,
                    last_error,
                    message_id,
                )
        else:
            accepted = [r for r in pending if r not in tx.refused]
            accepted_all += accepted
            outcome = AttemptOutcome.PARTLY_REFUSED if tx.refused else AttemptOutcome.ACCEPTED
            _end_attempt(wh, country, m, attempt_no, outcome, accepted, tx.refused, tx.reply)
            # Refused with a 4xx: worth another try; with a 5xx: not in this run.
            pending = [r for r in tx.refused if tx.refused[r][:1] == "4"]
            refused_for_good.update({r: why for r, why in tx.refused.items() if why[:1] != "4"})
            last_error = "; ".join(f"{r}: {why}" for r, why in tx.refused.items())
            if not pending:
                break
        if attempt >= max_attempts:
            break
        delay = min(max_delay, base_delay * 2 ** (attempt - 1))
        log.warning(
            "%s: attempt %d/%d failed (%s); retrying in %.1fs",
            label,
            attempt,
            max_attempts,
            last_error,
            delay,
        )
        sleep(delay)

    if pending and not accepted_all:
        _finish(wh, country, m, token, failed_status, recipients, {}, None)
        raise DeliveryError(
            f"{label}: could not deliver after {max_attempts} attempts, last error: "
            f"{last_error}. The SMTP server is unreachable or busy; the task's retry (or a "
            "re-run) will try again and sends nothing to partners already served"
        )
    sent_at = datetime.now(UTC)
    still_owed = {r: why for r, why in refused_for_good.items()}
    still_owed.update({r: last_error for r in pending})
    if not still_owed:
        _finish(wh, country, m, token, DeliveryStatus.SENT, recipients, {}, sent_at)
        return DeliveryResult(
            country, m, DeliveryStatus.SENT, message_id, recipients, attempt, sent_at
        )
    _finish(wh, country, m, token, DeliveryStatus.PARTLY_SENT, recipients, still_owed, sent_at)
    # One alert per recipient and partner-month, not one per task retry.
    new_refusals = {r: why for r, why in still_owed.items() if r.lower() not in alerted_before}
    result = DeliveryResult(
        country, m, DeliveryStatus.PARTLY_SENT, message_id, recipients, attempt, sent_at, still_owed
    )
    if new_refusals:
        _alert_refused(
            smtp_conn_id, str(message["From"]), alert_to, country, m, message_id, new_refusals
        )
    raise PartialDelivery(
        f"{label}: delivered to {_join(accepted_all)} but refused for "
        f"{'; '.join(f'{r} ({why})' for r, why in still_owed.items())}. Data staff were "
        "alerted; fix the address in partners.yaml or the mailbox, then re-run: only the "
        "recipients without the report get it",
        result,
    )
