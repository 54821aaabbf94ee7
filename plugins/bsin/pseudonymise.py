"""Keyed pseudonymisation of respondent emails (GDPR: no email reaches the warehouse).

The key comes from the environment or an Airflow connection, never from the repository.
The same email always gives the same member id under the same key, across months and forms.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata

KEY_ENV = "BSIN_PSEUDONYM_KEY"
KEY_CONN_ID = "bsin_pseudonym_key"
MIN_KEY_LENGTH = 16


class PseudonymKeyError(RuntimeError):
    """The pseudonymisation key is missing or too weak."""


def normalise_email(email: str) -> str:
    """Case, whitespace and Unicode-normalised form of an email address."""
    return unicodedata.normalize("NFC", email).strip().lower()


def member_id(email: str, key: bytes | str) -> str:
    """Stable member id: ``m_`` + first 20 hex digits of HMAC-SHA256(key, email)."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    digest = hmac.new(key, normalise_email(email).encode("utf-8"), hashlib.sha256).hexdigest()
    return "m_" + digest[:20]


def partner_member_id(member: str, key: bytes | str, country: str) -> str:
    """The pseudonym of warehouse member id ``member`` in partner ``country``'s data.

    ``p_`` + first 20 hex digits of HMAC-SHA256(key, ``"partner:<country>:<member>"``).
    Each partner sees its own stable pseudonyms (the same member every month), but a
    person who answered two countries' forms has unrelated pseudonyms in the two
    partners' files, so the partners cannot link them. The ``partner:`` domain keeps
    these values apart from warehouse member ids made with the same key.
    """
    if isinstance(key, str):
        key = key.encode("utf-8")
    message = f"partner:{country.upper()}:{member}".encode()
    return "p_" + hmac.new(key, message, hashlib.sha256).hexdigest()[:20]


def load_key() -> bytes:
    """Read the key from ``BSIN_PSEUDONYM_KEY`` or the ``bsin_pseudonym_key`` connection."""
    key = os.environ.get(KEY_ENV)
    if not key:
        try:
            from airflow.sdk import BaseHook

            key = BaseHook.get_connection(KEY_CONN_ID).password
        except Exception as exc:  # connection lookup raises several types across versions
            raise PseudonymKeyError(
                f"no pseudonymisation key: set the environment variable {KEY_ENV} or the "
                f"password of the Airflow connection {KEY_CONN_ID!r} ({exc.__class__.__name__})"
            ) from None
    if not key or len(key) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(
            f"the pseudonymisation key must be at least {MIN_KEY_LENGTH} characters: "
            f"set a longer {KEY_ENV} or {KEY_CONN_ID!r} connection password"
        )
    return key.encode("utf-8")
