"""The partner report: values, message structure and privacy, on the seeded fixture."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re

import pytest

from bsin.core.config import LANGUAGES
from bsin.ingest.pseudonymise import load_key, partner_member_id
from bsin.reporting.report import (
    MIN_RESPONDENTS,
    ReportDataError,
    build_message,
    build_report,
    render_report,
)
from bsin.reporting.report_i18n import Translator
from bsin.reporting.text import EMAIL_REDACTION, redact_emails
from tests.support.report_fixtures import (
    ACTIVE,
    EMAIL_SUGGESTION,
    FOREIGN_MARKERS,
    FORMULA_SUGGESTION,
    MONTHS,
    REPORT_MONTH,
    RESPONDENT_EMAIL,
    build_fixture_warehouse,
    expected_nps,
    expected_response_rate,
    expected_satisfaction,
    feedback_rows,
    member,
    partners,
)

SENDER = "Baltic Sea Impact Network <reports@bsin.example.org>"


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    warehouse = build_fixture_warehouse(tmp_path_factory.mktemp("report"))
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def mails(wh):
    """country -> (context, rendered, parsed message as received) for the report month."""
    out = {}
    cfg = partners()
    for country in ACTIVE:
        ctx = build_report(wh, cfg, country, REPORT_MONTH)
        rendered = render_report(ctx)
        msg = build_message(rendered, cfg.partner(country), SENDER)
        parsed = email.message_from_bytes(bytes(msg), policy=email.policy.default)
        out[country] = (ctx, rendered, parsed)
    return out


def _decoded_parts(msg) -> str:
    """Every text part and header of a parsed message, decoded, as one string."""
    chunks = [f"{k}: {v}" for k, v in msg.items()]
    for part in msg.walk():
        chunks.extend(f"{k}: {v}" for k, v in part.items())
        if part.get_content_maintype() == "text":
            chunks.append(part.get_content())
    return "\n".join(chunks)


# ------------------------------------------------------------------ values


@pytest.mark.parametrize("country", list(ACTIVE))
def test_values_equal_independent_computation(mails, country):
    ctx, rendered, _ = mails[country]
    n = sum(
        1
        for r in feedback_rows()
        if r["country"] == country and r["feedback_month"] == REPORT_MONTH
    )
    assert ctx.respondents == n
    assert ctx.line("satisfaction_mean").country.value == pytest.approx(
        expected_satisfaction(country, REPORT_MONTH)
    )
    assert ctx.line("nps").country.value == pytest.approx(expected_nps(country, REPORT_MONTH))
    assert ctx.line("response_rate").country.value == pytest.approx(
        expected_response_rate(country, REPORT_MONTH)
    )
    # The network covers the countries with at least k respondents only (LT has 2).
    month_rows = [r for r in feedback_rows() if r["feedback_month"] == REPORT_MONTH]
    big = {c for c in ACTIVE if sum(r["country"] == c for r in month_rows) >= MIN_RESPONDENTS}
    assert big == {"SE", "EE", "LV"}
    network = ctx.line("satisfaction_mean").network
    assert network.scopes == tuple(sorted(big))
    assert network.value == pytest.approx(
        sum(r["satisfaction"] for r in month_rows if r["country"] in big)
        / sum(r["country"] in big for r in month_rows)
    )
    # Trend: the month before and the running mean over the months with answers.
    prev = expected_satisfaction(country, MONTHS[1])
    assert ctx.line("satisfaction_mean").prev_value == pytest.approx(prev)
    assert ctx.line("satisfaction_mean").delta == pytest.approx(
        expected_satisfaction(country, REPORT_MONTH) - prev
    )


def test_rendered_numbers_in_partner_language(mails):
    ctx, rendered, _ = mails["SE"]  # Swedish: decimal comma
    sat = f"{expected_satisfaction('SE', REPORT_MONTH):.1f}".replace(".", ",")
    # CLDR for Swedish: no-break space before %, U+2212 as the minus sign.
    rate = f"{100 * expected_response_rate('SE', REPORT_MONTH):.0f}\u00a0%"
    nps = f"{expected_nps('SE', REPORT_MONTH):+.0f}".replace("-", "\u2212")
    # css-inline writes the no-break space as &nbsp;.
    for body in (rendered.text, rendered.html.replace("&nbsp;", "\u00a0")):
        assert sat in body and rate in body and nps in body
    assert "mars 2023" in rendered.subject
    assert "Sverige" in rendered.subject  # country names from CLDR, in the language
    lv_text = mails["LV"][1].text  # Latvia chose English
    assert f"{expected_satisfaction('LV', REPORT_MONTH):.1f}" in lv_text
    assert "March 2023" in mails["LV"][1].subject


def test_missing_month_is_a_clear_error(wh):
    with pytest.raises(ReportDataError, match=r"LV 2022-01.*build_marts"):
        build_report(wh, partners(), "LV", "2022-01")
    with pytest.raises(ReportDataError, match="no partner 'XX'"):
        build_report(wh, partners(), "XX", REPORT_MONTH)


# ------------------------------------------------------------------ message


@pytest.mark.parametrize("country", list(ACTIVE))
def test_message_structure_and_recipients(mails, country):
    _, rendered, msg = mails[country]
    partner = partners().partner(country)
    to = [a.addr_spec for a in msg["To"].addresses]
    assert to == partner.recipients
    assert msg["Message-ID"] == f"<bsin-report.{country}.2023-03@bsin.example.org>"
    assert msg.get_content_type() == "multipart/mixed"
    related, attachment = msg.get_payload()
    assert related.get_content_type() == "multipart/related"
    assert related.get_param("type") == "multipart/alternative"
    alternative, *images = related.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert len(images) == 4 and all(p.get_content_type() == "image/png" for p in images)
    assert all(p.get_content().startswith(b"\x89PNG") for p in images)
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == f"bsin_{country.lower()}_2023-03_members.csv"

    html = msg.get_body(("html",)).get_content()
    cids = {p["Content-ID"].strip("<>") for p in images}
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    assert referenced == cids  # every reference resolves, no image unused
    assert "<style" not in html and 'style="' in html  # CSS inlined by css-inline


# ------------------------------------------------------------------ privacy


@pytest.mark.parametrize("country", list(ACTIVE))
def test_no_foreign_individual_data(mails, country):
    _, rendered, msg = mails[country]
    everything = _decoded_parts(msg) + rendered.csv_bytes.decode("utf-8-sig")
    assert FOREIGN_MARKERS[country] in everything  # own suggestions are there...
    for other in ACTIVE:
        if other == country:
            continue
        assert FOREIGN_MARKERS[other] not in everything  # ...nobody else's
        for i in range(8):
            assert member(other, i) not in everything
    assert RESPONDENT_EMAIL not in everything
    assert "@" not in rendered.csv_bytes.decode("utf-8-sig")


def test_csv_has_own_members_only_and_is_formula_safe(mails):
    ctx, rendered, _ = mails["LV"]
    rows = list(csv.DictReader(io.StringIO(rendered.csv_bytes.decode("utf-8-sig"))))
    key = load_key()
    own = {
        partner_member_id(r["member_id"], key, "LV")
        for r in feedback_rows()
        if r["country"] == "LV" and r["feedback_month"] == REPORT_MONTH
    }
    assert {r["member_id"] for r in rows} == own
    suggestions = [r["suggestion"] for r in rows]
    assert "'" + FORMULA_SUGGESTION in suggestions
    assert EMAIL_SUGGESTION.replace(RESPONDENT_EMAIL, EMAIL_REDACTION) in suggestions
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert any(v.startswith("'-1") for r in rows for v in r.values())  # "-1 volunteers left"


def test_small_countries_are_suppressed_for_others(mails):
    # Lithuania has 2 respondents in March: others see only the marker.
    for country in ("SE", "EE", "LV"):
        ctx, rendered, _ = mails[country]
        lt = next(r for r in ctx.comparison if r.scope == "LT")
        assert lt.respondents.suppressed and all(c.suppressed for c in lt.cells.values())
        lt_name = Translator(ctx.language).country("LT")
        lt_line = next(line for line in rendered.text.splitlines() if f"- {lt_name}:" in line)
        assert lt_line.count("n<3") == 4
        lt_nps = Translator(ctx.language).number(expected_nps("LT", REPORT_MONTH), signed=True)
        assert lt_nps not in lt_line
    # Lithuania itself sees its own figures.
    ctx, rendered, _ = mails["LT"]
    own = next(r for r in ctx.comparison if r.scope == "LT")
    assert not own.respondents.suppressed and own.respondents.value == 2
    assert Translator("lt").number(expected_nps("LT", REPORT_MONTH), signed=True) in rendered.text


def test_network_hidden_when_foreign_part_is_small(wh):
    # January: Latvia 4 respondents, Lithuania 2, nobody else. Lithuania is left out of
    # the network, which is then Latvia alone: Latvia does not see it as "the network".
    lv = build_report(wh, partners(), "LV", MONTHS[0])
    assert all(line.network.suppressed for line in lv.indicators)
    net_row = next(r for r in lv.comparison if r.scope == "NETWORK")
    assert all(c.suppressed for c in net_row.cells.values())
    # Lithuania sees the network of Latvia's 4, its own 2 not in it.
    lt = build_report(wh, partners(), "LT", MONTHS[0])
    sat = lt.line("satisfaction_mean").network
    assert not sat.suppressed and sat.scopes == ("LV",)
    assert sat.value == pytest.approx(expected_satisfaction("LV", MONTHS[0]))
    # The trend charts of March carry January's network point hidden as well.
    march = build_report(wh, partners(), "LV", REPORT_MONTH)
    assert march.trends["nps"][0].network.shown is None
    assert march.trends["nps"][-1].network.shown is not None


def test_free_text_is_escaped(mails):
    ctx, rendered, msg = mails["LV"]
    html = msg.get_body(("html",)).get_content()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    # Plain text keeps the member's words as written.
    assert "<script>alert('x')</script>" in msg.get_body(("plain",)).get_content()


def test_redact_emails():
    assert redact_emails("mail a.b+c@x.example.org now") == f"mail {EMAIL_REDACTION} now"
    assert redact_emails("no address @ here") == "no address @ here"


# ------------------------------------------------------------------ languages


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_renders(mails, language):
    ctx, _, _ = mails["LV"]
    rendered = render_report(ctx, language)
    assert rendered.language == language
    assert f'lang="{language}"' in rendered.html
    assert rendered.subject and rendered.text.strip()
    assert set(rendered.images) == set(mails["LV"][1].images)


def test_charts_do_not_depend_on_what_was_drawn_before(mails):
    """Charts keep their fixed part per thread (report_charts._chart): a chart drawn after
    other countries' and languages' charts has the bytes of one drawn in a fresh thread,
    and each country's data reaches its own chart."""
    import threading

    from bsin.reporting import report_charts

    first, second = list(ACTIVE)[:2]
    ctx_a, ctx_b = mails[first][0], mails[second][0]
    fresh: dict[str, bytes] = {}
    # A new thread starts with no kept charts: everything is drawn from scratch.
    thread = threading.Thread(
        target=lambda: fresh.update(report_charts.render_charts(ctx_a, Translator("en")))
    )
    thread.start()
    thread.join()
    report_charts.render_charts(ctx_a, Translator("en"))
    other = report_charts.render_charts(ctx_b, Translator("en"))
    for language in LANGUAGES:
        report_charts.render_charts(ctx_b, Translator(language))
    again = report_charts.render_charts(ctx_a, Translator("en"))
    assert list(again) == list(report_charts.CHART_META)
    assert again == fresh
    # The two countries' lines and bars differ: the kept figure took the new data.
    assert all(again[name] != other[name] for name in report_charts.TREND_CHARTS)
    assert again["comparison"] != other["comparison"]
    kept = report_charts._charts.cache.values()
    assert 0 < len(kept) <= report_charts.CHART_CACHE_SIZE
    # The kept image covers the whole canvas, its last column and row included.
    for chart in kept:
        width, height = chart.canvas.get_width_height(physical=True)
        assert chart.background.get_extents() == (0, 0, width, height)


def test_a_legend_too_wide_for_the_chart_stands_in_two_rows_under_the_plot(mails, monkeypatch):
    """Side by side, a long country name or a large n would push a trend chart's centred
    legend past both edges of the phone-width image: its entries then stand one above the
    other, the image grows by a row under the plot, and nothing overlaps the month labels."""
    from PIL import Image

    from bsin.reporting import report_charts as rc
    from bsin.reporting import report_view

    ctx = mails["LV"][0]
    t = Translator("da")
    width = rc.CHART_WIDTH_PX * rc.DENSITY

    def size(png: bytes) -> tuple[int, int]:
        return Image.open(io.BytesIO(png)).size

    short = rc.render_charts(ctx, t)
    for name in rc.TREND_CHARTS:
        assert size(short[name]) == (width, rc.TREND_HEIGHT_PX * rc.DENSITY), name
    long_name = "Det Forenede Kongerige Storbritannien og Nordirland"
    monkeypatch.setattr(report_view, "country_name", lambda ctx, t: long_name)
    tall = rc.render_charts(ctx, t)
    # The kept charts of this language, by name: the key ends with the legend's lines.
    stacked = {
        k[0]: (k[-1], c)
        for k, c in rc._charts.cache.items()
        if k[0] in rc.TREND_CHARTS and k[4] == t(rc.TREND_CHARTS[k[0]][1]) and k[-1] > 1
    }
    assert set(stacked) == set(rc.TREND_CHARTS)
    for name, (lines, chart) in stacked.items():
        # The network's line, then the long name wrapped in two.
        assert lines == 3
        height = rc.TREND_HEIGHT_PX + rc.LEGEND_ROW_PX * (lines - 1)
        assert size(tall[name]) == (width, height * rc.DENSITY)
        legend = chart.parts[-1]
        shown = " ".join(text.get_text().replace("\n", " ") for text in legend.get_texts())
        assert long_name in shown
        renderer = chart.canvas.get_renderer()
        box = legend.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= width
        month_labels = [label for label in chart.fig.axes[0].get_xticklabels() if label.get_text()]
        assert box.y1 < min(label.get_window_extent(renderer).y0 for label in month_labels)
    # The short name again: the one-row chart, as before.
    monkeypatch.undo()
    assert rc.render_charts(ctx, t) == short


def test_query_rows_are_the_plain_values_of_the_frame(tmp_path):
    """queries.rows converts column by column; each value is what ``plain`` makes of the
    frame's cell, as when it converted cell by cell (a whole-number column with a NULL
    stays float, NaN and NaT become None, timestamps keep their microseconds)."""
    from bsin.reporting.queries import plain, rows
    from bsin.warehouse.db import Warehouse

    sql = (
        "select * from (values"
        " (1, 1.5, true, 'a', date '2022-01-01', timestamp '2022-01-01 10:00:00.123456',"
        "  null, 7, 'nan'::double),"
        " (null, null, null, null, null, null, null, 8, 2.5)"
        ") t(i, f, b, s, d, ts, empty, whole, nan)"
    )
    with Warehouse.from_uri(f"duckdb:///{tmp_path / 'rows.duckdb'}") as wh:
        frame = wh.query_df(sql)
        got = rows(wh, sql, {})
    want = [{k: plain(v) for k, v in r.items()} for r in frame.astype(object).to_dict("records")]
    assert got == want
    assert [[type(v).__name__ for v in r.values()] for r in got] == [
        [type(v).__name__ for v in r.values()] for r in want
    ]
    assert got[0]["i"] == 1.0 and isinstance(got[0]["i"], float)
    assert got[0]["whole"] == 7 and isinstance(got[0]["whole"], int)
    assert got[0]["nan"] is None and got[1]["ts"] is None and got[1]["s"] is None
    assert got[0]["ts"].microsecond == 123456


def test_build_message_refuses_wrong_partner(mails):
    _, rendered, _ = mails["LV"]
    with pytest.raises(ValueError, match="report for LV addressed to partner SE"):
        build_message(rendered, partners().partner("SE"), SENDER)


@pytest.mark.parametrize("country", list(ACTIVE))
def test_fired_signals_shown_with_advice_in_partner_language(wh, mails, country):
    from bsin.reporting.signals import signals_for

    ctx, rendered, msg = mails[country]
    stored = wh.query_df(
        "select rule_id from adaptation_signal where country = :c and month = :m",
        {"c": country, "m": REPORT_MONTH},
    )
    assert sorted(s.rule_id for s in ctx.signals) == sorted(stored["rule_id"])
    advice = signals_for(wh, country, REPORT_MONTH, ctx.language)["recommendation"].tolist()
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content().replace("&nbsp;", "\u00a0")
    for line in advice:
        assert line in text
        assert html_escape(line) in html
    if not advice:
        assert Translator(ctx.language)("no_signals") in text


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)
