"""Keyed pseudonymisation of respondent emails (GDPR: no email reaches the warehouse).

The key comes from the environment or an Airflow connection, never from the repository.
The same email always gives the same member id under the same key, across months and forms.

Key rules (docs/security.md): outside the demo (``BSIN_DEMO=1``, set only by the local
tooling in ``bsin_dev.localenv`` and the test suite) the key must be at least
``MIN_KEY_BYTES`` bytes with some variety, and never a published value (the demo key, the
``.env.example`` placeholder). The warehouse keeps the key's fingerprint (an HMAC under the
key, never the key), so a run under another key stops instead of silently giving every
member a second id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bsin.warehouse.db import Warehouse

KEY_ENV = "BSIN_PSEUDONYM_KEY"
KEY_CONN_ID = "bsin_pseudonym_key"
DEMO_ENV = "BSIN_DEMO"
# 256 bits, the HMAC-SHA256 block of security; `secrets.token_urlsafe(32)` gives 43 chars.
MIN_KEY_BYTES = 32
# A random key of 32+ characters has far more; this catches "aaaa..." and "abab...".
MIN_DISTINCT_CHARACTERS = 8
# A demo key, good only for the fictitious sample data and refused outside the demo.
DEMO_PSEUDONYM_KEY = "demo-key-not-for-production-0000"
# Every placeholder in .env.example starts like this (tests/e2e/test_compose.py checks it).
PLACEHOLDER_PREFIX = "change-me"
# The fingerprint is HMAC(key, this label): it identifies the key without revealing it.
_FINGERPRINT_LABEL = b"bsin pseudonymisation key fingerprint v1"
_HOW_TO_MAKE_ONE = 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"'


class PseudonymKeyError(RuntimeError):
    """The pseudonymisation key is missing, too weak, public or not the warehouse's key."""


def is_demo() -> bool:
    """Whether this process is the demo or the test suite (``BSIN_DEMO=1``)."""
    return os.environ.get(DEMO_ENV) == "1"


def check_key(key: str) -> None:
    """Raise ``PseudonymKeyError`` if ``key`` may not pseudonymise real members.

    The demo (``BSIN_DEMO=1``) accepts any non-empty key; everywhere else the key must be
    at least ``MIN_KEY_BYTES`` bytes, not repetitive and not a published value.
    """
    where = f"{KEY_ENV} or the password of the Airflow connection {KEY_CONN_ID!r}"
    if not key:
        raise PseudonymKeyError(f"the pseudonymisation key is empty: set {where}")
    if is_demo():
        return
    if key == DEMO_PSEUDONYM_KEY or key.startswith(PLACEHOLDER_PREFIX):
        raise PseudonymKeyError(
            "the pseudonymisation key is the published demo key or the .env.example "
            "placeholder, so anyone could recompute member ids from email addresses: set "
            f"{where} to a new random key ({_HOW_TO_MAKE_ONE}) and keep a copy in the "
            f"password manager. (Only the demo, with {DEMO_ENV}=1, may use the demo key.)"
        )
    if len(key.encode("utf-8")) < MIN_KEY_BYTES:
        raise PseudonymKeyError(
            f"the pseudonymisation key must be at least {MIN_KEY_BYTES} bytes (it has "
            f"{len(key.encode('utf-8'))}): set {where} to a random key ({_HOW_TO_MAKE_ONE})"
        )
    if len(set(key)) < MIN_DISTINCT_CHARACTERS:
        raise PseudonymKeyError(
            f"the pseudonymisation key repeats too few characters ({len(set(key))} distinct) "
            f"to be secret: set {where} to a random key ({_HOW_TO_MAKE_ONE})"
        )


def key_fingerprint(key: bytes) -> str:
    """A stable identifier of ``key`` that does not reveal it (HMAC-SHA256 of a label)."""
    return hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def check_key_fingerprint(wh: Warehouse, key: bytes) -> str:
    """Record ``key``'s fingerprint on first use; refuse a warehouse built under another key.

    Returns the fingerprint. Call it inside no transaction of the caller's: it commits.
    """
    fingerprint = key_fingerprint(key)
    rows = wh.query("select fingerprint, first_used_at from pseudonym_key order by first_used_at")
    if not rows:
        with wh.transaction():
            wh.execute(
                "insert into pseudonym_key (fingerprint, first_used_at) values (:f, :t) "
                "on conflict do nothing",
                {"f": fingerprint, "t": datetime.now(UTC).replace(tzinfo=None)},
            )
        rows = wh.query("select fingerprint, first_used_at from pseudonym_key")
    stored, since = rows[0]
    if stored != fingerprint:
        raise PseudonymKeyError(
            "the pseudonymisation key changed: this warehouse's member ids were made with "
            f"another key (fingerprint {stored[:12]}..., first used {since:%Y-%m-%d}; this "
            f"key's is {fingerprint[:12]}...). Under the new key every member would get a "
            f"second member_id and their history would split. Restore the original key in "
            f"{KEY_ENV} / connection {KEY_CONN_ID!r} (the password manager's copy). A "
            "deliberate key rotation needs a new warehouse rebuilt from the forms: see "
            "docs/security.md, 'Pseudonymisation key'"
        )
    return fingerprint


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
    """Read the key from ``BSIN_PSEUDONYM_KEY`` or the ``bsin_pseudonym_key`` connection.

    Raises ``PseudonymKeyError`` when there is none or it breaks a rule of ``check_key``.
    """
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
    check_key(key or "")
    # A key from the environment never passed through Airflow's connection API: tell the
    # secret masker, so a task log that ever printed it shows *** instead.
    from airflow.sdk.log import mask_secret

    mask_secret(key)
    return key.encode("utf-8")
