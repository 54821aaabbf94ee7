"""Keyed member ids: stable, key-dependent, email-free."""

from __future__ import annotations

import pytest

from bsin.ingest.pseudonymise import (
    DEMO_PSEUDONYM_KEY,
    MIN_KEY_BYTES,
    PseudonymKeyError,
    check_key_fingerprint,
    key_fingerprint,
    load_key,
    member_id,
)
from bsin.warehouse.db import Warehouse
from tests.support.env_example import env_example

STRONG_KEY = "Qk3v9-xZt2LmWp8sYr4NbHc6JdFg0TeA7uVq"

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
    monkeypatch.delenv("BSIN_DEMO", raising=False)
    monkeypatch.setenv("BSIN_PSEUDONYM_KEY", STRONG_KEY)
    assert load_key() == STRONG_KEY.encode()


# Issue 10, finding 8: each of these was accepted outside the demo.
WEAK_KEYS = [
    pytest.param("short", f"at least {MIN_KEY_BYTES} bytes", id="short"),
    pytest.param("a" * 16, f"at least {MIN_KEY_BYTES} bytes", id="16-a"),
    pytest.param("a" * 40, "too few characters", id="40-a"),
    pytest.param("ab" * 20, "too few characters", id="abab"),
    pytest.param(DEMO_PSEUDONYM_KEY, "published demo key", id="demo-key"),
    pytest.param(env_example()["BSIN_PSEUDONYM_KEY"], "placeholder", id="env-example"),
]


@pytest.mark.parametrize(("key", "expected"), WEAK_KEYS)
def test_weak_or_public_key_refused_outside_the_demo(monkeypatch, key, expected):
    monkeypatch.delenv("BSIN_DEMO", raising=False)
    monkeypatch.setenv("BSIN_PSEUDONYM_KEY", key)
    with pytest.raises(PseudonymKeyError, match=expected) as err:
        load_key()
    assert "BSIN_PSEUDONYM_KEY" in str(err.value)  # says where to fix it


def test_demo_accepts_the_demo_key(monkeypatch):
    monkeypatch.setenv("BSIN_DEMO", "1")
    monkeypatch.setenv("BSIN_PSEUDONYM_KEY", DEMO_PSEUDONYM_KEY)
    assert load_key() == DEMO_PSEUDONYM_KEY.encode()
    monkeypatch.setenv("BSIN_PSEUDONYM_KEY", "")
    with pytest.raises(PseudonymKeyError, match="no pseudonymisation key|empty"):
        load_key()


def test_warehouse_keeps_the_fingerprint_and_refuses_another_key(tmp_path):
    with Warehouse.from_uri(f"duckdb:///{tmp_path / 'wh.duckdb'}") as wh:
        wh.migrate()
        key = STRONG_KEY.encode()
        assert check_key_fingerprint(wh, key) == key_fingerprint(key)
        assert check_key_fingerprint(wh, key) == key_fingerprint(key)  # same key: fine
        stored = wh.query("select fingerprint from pseudonym_key")
        assert stored == [(key_fingerprint(key),)]
        assert STRONG_KEY not in stored[0][0] and key_fingerprint(b"x" * 32) != stored[0][0]
        with pytest.raises(PseudonymKeyError) as err:
            check_key_fingerprint(wh, (STRONG_KEY + "-rotated").encode())
        text = str(err.value)
        assert "key changed" in text and "Restore the original key" in text
        assert STRONG_KEY not in text
        assert wh.query("select count(*) from pseudonym_key") == [(1,)]


def test_prepare_warehouse_stops_a_run_under_a_changed_key(tmp_path):
    from bsin import pipeline
    from tests.support.pipeline_harness import PipelineHarness

    h = PipelineHarness(tmp_path, start=False, key=STRONG_KEY.encode())
    try:
        h.prepare()
        rotated = pipeline.Context(h.partners, h.programme, warehouse=h.wh, key=b"k2" + h.key)
        with pytest.raises(PseudonymKeyError, match="pseudonymisation key changed"):
            pipeline.prepare_warehouse(h.month, rotated)
        h.prepare()  # the original key still runs
    finally:
        h.close()


def test_partner_pseudonyms_are_stable_per_partner_and_unlinkable_across_partners():
    from bsin.ingest.pseudonymise import partner_member_id

    mid = member_id("anna@example.org", KEY)
    se, lv = partner_member_id(mid, KEY, "SE"), partner_member_id(mid, KEY, "LV")
    assert se == partner_member_id(mid, KEY, "SE")  # same member, same partner: same id
    assert se != lv and se != mid and lv != mid
    assert se.startswith("p_") and len(se) == 22
    assert partner_member_id(mid, b"another-key-0123456789", "SE") != se
