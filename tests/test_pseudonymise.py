"""Keyed member ids: stable, key-dependent, email-free."""

from __future__ import annotations

import pytest

from bsin.pseudonymise import PseudonymKeyError, load_key, member_id

KEY = b"test-key-0123456789abcdef"


def test_same_member_same_id_across_spellings():
    a = member_id("Anna.Lindqvist@example.org", KEY)
    b = member_id("  anna.lindqvist@EXAMPLE.org ", KEY)
    assert a == b
    assert a.startswith("m_") and len(a) == 22


def test_different_members_and_keys_differ():
    assert member_id("a@example.org", KEY) != member_id("b@example.org", KEY)
    assert member_id("a@example.org", KEY) != member_id("a@example.org", b"another-key-0123456789")


def test_id_does_not_contain_the_email():
    mid = member_id("liga.ozola@example.org", KEY)
    assert "liga" not in mid and "example" not in mid


def test_key_from_environment(monkeypatch):
    monkeypatch.setenv("BSIN_PSEUDONYM_KEY", "k" * 32)
    assert load_key() == b"k" * 32


def test_short_key_refused(monkeypatch):
    monkeypatch.setenv("BSIN_PSEUDONYM_KEY", "short")
    with pytest.raises(PseudonymKeyError, match="at least 16"):
        load_key()


def test_partner_pseudonyms_are_stable_per_partner_and_unlinkable_across_partners():
    from bsin.pseudonymise import partner_member_id

    mid = member_id("anna@example.org", KEY)
    se, lv = partner_member_id(mid, KEY, "SE"), partner_member_id(mid, KEY, "LV")
    assert se == partner_member_id(mid, KEY, "SE")  # same member, same partner: same id
    assert se != lv and se != mid and lv != mid
    assert se.startswith("p_") and len(se) == 22
    assert partner_member_id(mid, b"another-key-0123456789", "SE") != se
