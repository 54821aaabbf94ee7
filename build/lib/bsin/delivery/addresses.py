"""Checks for the email addresses and names that go into mail headers.

Config values end up in ``To``, ``From`` and ``Subject`` headers and in SMTP envelopes. A
comma or semicolon silently turns one recipient into two, a line break can inject a
header, and a control character breaks clients. ``email-validator`` does the syntax check
of the address itself (RFC 5322/6531, without a DNS lookup: config loads at DAG parse time
and must not depend on the network); the rest is rules for what surrounds it.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

# Unicode categories that have no place in a name or address: control characters (Cc),
# invisible format characters such as bidi overrides (Cf) and line/paragraph separators.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}
# "Display Name <address>"; the display name may be empty.
_MAILBOX = re.compile(r"^(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]*)>$")


def unsafe_characters(value: str) -> list[str]:
    """The control, format and line-break characters in ``value``, as ``U+XXXX`` names."""
    return [
        f"U+{ord(ch):04X}"
        for ch in value
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES or ch in "\r\n"
    ]


def check_plain_text(value: str) -> str:
    """``value`` unchanged if it holds no control characters or line breaks, else ValueError."""
    bad = unsafe_characters(value)
    if bad:
        raise ValueError(
            f"{value!r} contains control characters or line breaks ({', '.join(bad)}): "
            "write it on one line without them"
        )
    if value != value.strip():
        raise ValueError(f"{value!r} has leading or trailing spaces: remove them")
    return value


def check_address(value: str) -> str:
    """``value`` unchanged if it is exactly one valid email address, else ValueError.

    The message says what is wrong and how to write it (one address per list item).
    """
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an email address: write name@domain.tld")
    check_plain_text(value)
    if "," in value or ";" in value:
        raise ValueError(
            f"{value!r} holds a comma or semicolon: write each address as its own list item"
        )
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(
            f"invalid email address {value!r} ({exc}): write it as name@domain.tld"
        ) from None
    return value


def check_mailbox(value: str) -> str:
    """``value`` unchanged if it is ``address`` or ``Display Name <address>``, else ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a sender: write Display Name <name@domain.tld>")
    check_plain_text(value)
    match = _MAILBOX.match(value)
    if not match:
        return check_address(value)
    name = match.group("name")
    if any(ch in name for ch in ',;"\\'):
        raise ValueError(
            f"the display name {name!r} contains a comma, semicolon, quote or backslash, "
            "which mail headers read as address separators or quoting: remove them"
        )
    check_address(match.group("addr"))
    return value
