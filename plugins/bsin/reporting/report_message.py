"""The partner report as an email: one message per partner and month.

``build_message(rendered, partner, sender) -> EmailMessage``: multipart/mixed holding
multipart/related (multipart/alternative text + HTML, then the CID images) and the CSV.
The Message-ID is stable per partner-month (``message_id_for``), so delivery can tell a
resend from a first send.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr, parseaddr
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bsin.core.config import Partner
    from bsin.reporting.report_model import RenderedReport


def message_id_for(country: str, month: date, sender: str, attempt: int = 0) -> str:
    """Deterministic Message-ID of a partner-month report (``attempt`` > 0 for resends)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "bsin.invalid"
    suffix = f".resend{attempt}" if attempt else ""
    return f"<bsin-report.{country}.{month:%Y-%m}{suffix}@{domain}>"


def build_message(rendered: RenderedReport, partner: Partner, sender: str) -> EmailMessage:
    """Pack ``rendered`` into an email to ``partner``'s recipients.

    Structure: multipart/mixed [ multipart/related [ multipart/alternative [text, html],
    image/png ... ], text/csv attachment ].
    """
    if partner.country != rendered.country:
        raise ValueError(
            f"report for {rendered.country} addressed to partner {partner.country}: "
            "render the report of the partner you send to"
        )
    msg = EmailMessage()
    # Before any Content-* header: make_mixed would move those into a sub-part.
    msg.make_mixed()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(formataddr(("", r)) for r in partner.recipients)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id_for(partner.country, rendered.month, sender)
    msg["Content-Language"] = rendered.language
    msg["X-BSIN-Country"] = partner.country
    msg["X-BSIN-Report-Month"] = f"{rendered.month:%Y-%m}"
    # Python's email API will not wrap an alternative part into a related one, so the
    # tree is assembled from parts, innermost first.
    alternative = MIMEPart()
    alternative.set_content(rendered.text, subtype="plain", charset="utf-8")
    alternative.add_alternative(rendered.html, subtype="html", charset="utf-8")
    related = MIMEPart()
    related.make_related()
    # RFC 2387: the type parameter names the root part's type.
    related.set_param("type", "multipart/alternative")
    related.attach(alternative)
    for cid, png in rendered.images.items():
        image = MIMEPart()
        image.set_content(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{cid}>",
            disposition="inline",
            filename=cid.split("@")[0] + ".png",
        )
        related.attach(image)
    attachment = MIMEPart()
    attachment.set_content(
        rendered.csv_bytes,
        maintype="text",
        subtype="csv",
        disposition="attachment",
        filename=rendered.csv_filename,
    )
    msg.attach(related)
    msg.attach(attachment)
    return msg
