"""One SMTP transaction through Airflow's ``SmtpHook``, and what its failures mean.

``send_once`` sends a prepared ``EmailMessage`` to given envelope recipients and records in
a ``SmtpTransaction`` what happened (whether DATA was reached, the server's reply, the
recipients it refused), also when it fails. ``is_transient`` tells a failure worth a retry
(network trouble, 4xx replies) from a permanent one (5xx, authentication, TLS set-up).
``alert_refused_recipients`` tells data staff, through the same server, who refused a
report. Retrying, the claim and the attempt history are ``bsin.delivery.delivery``'s
business.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """The report could not be delivered; the message says why and what to do."""


@dataclass
class SmtpTransaction:
    """What one SMTP transaction did, filled in while it runs (also when it fails)."""

    data_sent: bool = False
    reply: str = ""
    refused: dict[str, str] = field(default_factory=dict)


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


def describe_failure(exc: BaseException) -> str:
    """A one-line account of an SMTP failure: the server's code and reply where it gave one."""
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


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}"


def send_once(
    smtp_conn_id: str, message: EmailMessage, recipients: Sequence[str], tx: SmtpTransaction
) -> None:
    """Send ``message`` to ``recipients`` in one SMTP transaction, recording it in ``tx``.

    Raises what smtplib or the hook raise (``is_transient`` classifies it), and
    ``DeliveryError`` when there is no sender or no connection.
    """
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


def alert_refused_recipients(
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
        send_once(smtp_conn_id, alert, list(alert_to), SmtpTransaction())
    except Exception as exc:  # the refusal itself is recorded and raised by the caller
        log.error("%s %s: could not alert data staff: %s", country, month, describe_failure(exc))
    else:
        log.info("%s %s: data staff alerted about refused recipients", country, month)
