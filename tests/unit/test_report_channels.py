"""Members' free text is safe in every channel of the partner email, and pseudonyms unlinkable.

Findings of issue 10: line breaks forging sections (with a phishing link) in the plain-text
part, member URLs as live links, a spreadsheet formula after a line break in the CSV,
obfuscated email addresses, and one person answering two countries' forms appearing with
the same member id in both partners' CSVs.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsin.reporting.report import build_message, build_report, render_report
from bsin.reporting.report_csv import safe_cell, to_csv_bytes
from bsin.reporting.text import EMAIL_REDACTION, redact_emails
from tests.support.report_fixtures import (
    REPORT_MONTH,
    build_fixture_warehouse,
    feedback_rows,
    partners,
)

SENDER = "Baltic Sea Impact Network <reports@bsin.example.org>"
FORGED = (
    "Great month\n\n== Adaptation signals ==\nYour account is locked: "
    "https://evil.example/login?x=1\r\n\u2028Thanks"
)
LINKS = "see www.phish.example and bank-login.example/reset or http://a.b.example"
CSV_ATTACK = "x\n=1+1;y"
TWO_FORMS = "m_sameperson00000000"


def _rows() -> list[dict]:
    rows = feedback_rows()
    lv = [r for r in rows if r["country"] == "LV" and r["feedback_month"] == REPORT_MONTH]
    lv[2]["suggestion"] = FORGED
    lv[3]["suggestion"] = LINKS
    lv[4]["challenges_other"] = CSV_ATTACK
    # The same person answered the Latvian and the Swedish form.
    se = next(r for r in rows if r["country"] == "SE" and r["feedback_month"] == REPORT_MONTH)
    se["member_id"] = lv[0]["member_id"] = TWO_FORMS
    return rows


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    wh = build_fixture_warehouse(tmp_path_factory.mktemp("channels"), _rows())
    out = {}
    for country in ("LV", "SE"):
        rendered = render_report(build_report(wh, partners(), country, REPORT_MONTH))
        out[country] = (rendered, build_message(rendered, partners().partner(country), SENDER))
    yield out
    wh.close()


def test_line_breaks_cannot_forge_sections_in_the_plain_text(reports):
    rendered, msg = reports["LV"]
    text = msg.get_body(("plain",)).get_content()
    lines = text.splitlines()
    # The whole suggestion is one bullet line: its fake heading starts no line of its own.
    (forged,) = [ln for ln in lines if "Great month" in ln]
    assert forged.startswith("* ")
    assert "== Adaptation signals ==" in forged and "Thanks" in forged
    assert not any(ln.startswith(("Your account", "== Adaptation signals ==")) for ln in lines)
    assert "\u2028" not in text


def test_member_urls_are_not_links(reports):
    rendered, msg = reports["LV"]
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    for body in (html, text):
        assert "evil.example" not in body and "phish.example" not in body
        assert "://evil" not in body and "http://a" not in body
        assert "hxxps[://]evil[.]example/login" in body
        assert "www[.]phish[.]example" in body and "bank-login[.]example/reset" in body
    assert not re.search(r"<a\s[^>]*evil", html, re.I)


def test_csv_formula_after_a_line_break_is_neutralised(reports):
    rendered, _ = reports["LV"]
    rows = list(csv.DictReader(io.StringIO(rendered.csv_bytes.decode("utf-8-sig"))))
    cell = next(r["challenges_other"] for r in rows if r["challenges_other"].startswith("x"))
    assert cell == "x\n'=1+1;y"


_SPLIT = re.compile(r"[;,|\t\n\r\x0b\x0c\x85\u2028\u2029]")
_TRIGGERS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("ab =+-@;,|\t\n\r\u2028\uff1d 1")), max_size=30))
def test_no_piece_of_a_csv_cell_starts_a_formula(text):
    """Property: however a spreadsheet splits a cell, no piece starts a formula."""
    for piece in _SPLIT.split(safe_cell(text)):
        assert not piece.lstrip(" ").startswith(_TRIGGERS), (text, safe_cell(text))


_TEXT = st.text(alphabet=st.sampled_from(list("ab =+-@;\n\uff1d1")), max_size=8)
_CELLS = st.one_of(
    st.none(),
    _TEXT,
    st.integers(-5, 5),
    st.booleans(),
    st.floats(allow_infinity=False),
    st.datetimes(min_value=datetime(900, 1, 1), timezones=st.none() | st.just(UTC)),
    st.dates(),
)
#: What one column holds: one kind of value, as a warehouse column, or any mix.
_COLUMNS = st.sampled_from(
    [
        _CELLS,
        _TEXT,
        st.none() | _TEXT,
        st.none() | st.integers(),
        st.booleans(),
        st.none() | st.datetimes(min_value=datetime(900, 1, 1)),
    ]
)


@settings(max_examples=300)
@given(st.data())
def test_csv_columns_are_converted_as_cells(data):
    """to_csv_bytes converts whole columns at once: the text is that of safe_cell, cell by
    cell, whatever a column holds (text with and without triggers, None, a missing key,
    numbers, flags, naive and aware timestamps, years before 1000)."""
    columns = [f"c{i}" for i in range(data.draw(st.integers(1, 4)))]
    kinds = {col: data.draw(_COLUMNS) for col in columns}
    rows = data.draw(st.lists(st.fixed_dictionaries({}, optional=kinds), max_size=6))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(col)) for col in columns])
    assert to_csv_bytes(columns, rows) == buf.getvalue().encode("utf-8-sig")


def test_csv_attack_from_the_issue():
    out = to_csv_bytes(["c"], [{"c": CSV_ATTACK}]).decode("utf-8-sig")
    assert "\n=" not in out and ";=" not in out


@pytest.mark.parametrize(
    "text",
    [
        "mail anna.berzina@example.org now",
        "mail ａｎｎａ＠ｅｘａｍｐｌｅ．ｏｒｇ now",
        "mail anna＠example.org now",
        "mail anna [at] example [dot] org now",
        "mail anna(at)example.org now",
        "mail anna (at) example (dot) org now",
        "mail a n n a @ e x a m p l e . o r g now",
        "mail anna @ example . org now",
        "mail anna%40example.org now",
    ],
)
def test_obfuscated_addresses_are_redacted(text):
    assert redact_emails(text) == f"mail {EMAIL_REDACTION} now"


def test_ordinary_text_is_not_redacted():
    for text in ("no address @ here", "meet at 10 at the office", "we were at (at least) 5"):
        assert redact_emails(text) == text


def test_a_person_in_two_countries_cannot_be_linked(reports):
    ids = {}
    for country in ("LV", "SE"):
        rendered, _ = reports[country]
        rows = list(csv.DictReader(io.StringIO(rendered.csv_bytes.decode("utf-8-sig"))))
        ids[country] = {r["member_id"] for r in rows}
        assert TWO_FORMS not in ids[country]
        assert all(i.startswith("p_") for i in ids[country])
    assert not ids["LV"] & ids["SE"]
