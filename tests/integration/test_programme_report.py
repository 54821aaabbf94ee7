"""The programme report: values, privacy, HTML and PDF output, the DAG's skip/force rule.

The warehouse is the partner report's seeded fixture (tests/support/report_fixtures.py) plus what
the programme report needs on top: stakeholder selections derived from the same feedback
rows and a baseline/end-line self-assessment seeded here. Expected values are computed from
those rows in plain Python, never from the marts.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path
from statistics import mean

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bsin.core.config import load_programme
from bsin.reporting.disclosure import disclosure_safe, protect_group
from bsin.reporting.programme_report import (
    MIN_RESPONDENTS,
    NETWORK,
    Cell,
    build_programme_report,
    produce_programme_report,
    render_programme_report,
)
from bsin.transform.mapping import NEEDS
from bsin.warehouse.dbt_project import build_marts
from tests.support.report_fixtures import (
    ACTIVE,
    EMAIL_SUGGESTION,
    FOREIGN_MARKERS,
    LONG_SUGGESTION,
    MONTHS,
    RESPONDENT_EMAIL,
    build_fixture_warehouse,
    feedback_rows,
    member,
    partners,
)

ROOT = Path(__file__).resolve().parents[2]
JAN, FEB, MAR = MONTHS
# Members with both waves per country: LT has 2 (suppressed, and secondary suppression
# must follow); LT's members 2-4 have a baseline only.
BOTH_WAVES = {"SE": 6, "EE": 4, "LV": 4, "LT": 2}
BASELINE_ONLY = {"LT": 3}
INTEREST_MARKER = "INTEREST-FREE-TEXT-9c1d"
# Only SE members 0 and 1 rate public procurement: 2 members network-wide.
RARE_AREA = "public_procurement"
UNRATED_AREA = "team_leadership"


def self_assessment_rows() -> list[dict]:
    """Seeded self-assessment: capability levels 1-5 per area, two waves."""
    rows = []
    for country, both in BOTH_WAVES.items():
        for i in range(both + BASELINE_ONLY.get(country, 0)):
            waves = ("baseline", "endline") if i < both else ("baseline",)
            for wave in waves:
                row = {
                    "country": country,
                    "wave": wave,
                    "member_id": member(country, i),
                    "response_id": f"sa-{country}-{wave}-{i}",
                    "submitted_at": datetime(2022, 8 if wave == "baseline" else 12, 3, tzinfo=UTC),
                    "needs": "funding_access;visibility",
                    "interests": f"{INTEREST_MARKER} {country} {i}",
                }
                for k, area in enumerate(NEEDS):
                    base = 1 + (i + k) % 3
                    level = min(5, base + (i + k) % 2 + 1) if wave == "endline" else base
                    if area == UNRATED_AREA or (
                        area == RARE_AREA and not (country == "SE" and i < 2)
                    ):
                        level = None
                    row[f"capability_{area}"] = level
                rows.append(row)
    return rows


def selection_rows() -> list[dict]:
    """``feedback_selection`` rows of the fixture's stakeholder answers."""
    return [
        {
            "country": r["country"],
            "feedback_month": r["feedback_month"],
            "member_id": r["member_id"],
            "field": "stakeholder_access",
            "value": value,
        }
        for r in feedback_rows()
        for value in r["stakeholder_access"].split(";")
    ]


def programme_window():
    """programme.yaml, shortened to the fixture's three months."""
    return load_programme().model_copy(update={"first_month": JAN, "last_month": MAR})


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    warehouse = build_fixture_warehouse(tmp_path_factory.mktemp("programme"))
    warehouse.replace("feedback_selection", {}, pd.DataFrame(selection_rows()))
    warehouse.replace("self_assessment", {}, pd.DataFrame(self_assessment_rows()))
    build_marts(warehouse)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def ctx(wh):
    return build_programme_report(wh, partners(), programme_window())


@pytest.fixture(scope="module")
def rendered(ctx):
    return render_programme_report(ctx)


class _Cells(HTMLParser):
    """``data-cell`` id -> the text of that element."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        self._open = dict(attrs).get("data-cell")

    def handle_data(self, data):
        if self._open:
            self.cells[self._open] = self.cells.get(self._open, "") + data

    def handle_endtag(self, tag):
        self._open = None


@pytest.fixture(scope="module")
def cells(rendered):
    parser = _Cells()
    parser.feed(rendered.html)
    return {k: v.strip() for k, v in parser.cells.items()}


# ------------------------------------------------------------------ independent computation

SUPPRESSED = "n<3"


def _half_up(v, decimals):
    # Independent of bsin.reporting.formatting: the decimal a person reads, rounded half-up.
    q = Decimal(repr(float(v))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return abs(q) if q == 0 else q


def fmt_mean(v):
    return f"{_half_up(v, 1):.1f}"


def fmt_pct(v):
    # English (CLDR): no space before %.
    return f"{_half_up(Decimal(repr(float(v))) * 100, 0):.0f}%"


def fmt_signed(v, decimals=0):
    q = _half_up(v, decimals)
    return f"{q:+.{decimals}f}" if q != 0 else f"{q:.{decimals}f}"


def fmt_count(v):
    return f"{_half_up(v, 0):,.0f}"


def rows_in(month, country=None):
    return [
        r
        for r in feedback_rows()
        if r["feedback_month"] == month and (country is None or r["country"] == country)
    ]


def nps(scores):
    return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


def released(month, country=None):
    """Rows behind a released figure: countries with at least k respondents that month."""
    rows = rows_in(month, country)
    big = {c for c in ACTIVE if len(rows_in(month, c)) >= MIN_RESPONDENTS}
    return [r for r in rows if r["country"] in big]


def released_active(month, country=None):
    """Active members of the countries in the month's released figures."""
    return sum(
        ACTIVE[c]
        for c in ACTIVE
        if (country is None or c == country) and len(rows_in(month, c)) >= MIN_RESPONDENTS
    )


@pytest.mark.parametrize("month", MONTHS, ids=lambda m: f"{m:%Y-%m}")
def test_monthly_network_values_equal_independent_computation(cells, month):
    # Over the countries with at least k respondents: January is Latvia's 4 alone
    # (Lithuania's 2 left out), March leaves out Lithuania's 2 as well.
    rows = released(month)
    key = f"series.{month:%Y-%m}"
    assert cells[f"{key}.respondents"] == fmt_count(len(rows))
    assert cells[f"{key}.response_rate"] == fmt_pct(len(rows) / released_active(month))
    assert cells[f"{key}.satisfaction_mean"] == fmt_mean(mean(r["satisfaction"] for r in rows))
    assert cells[f"{key}.nps"] == fmt_signed(nps([r["recommend"] for r in rows]))
    assert cells[f"{key}.connections_sum"] == fmt_count(
        sum(r["new_connections_abroad"] for r in rows)
    )
    for kind in ("public_sector", "corporate", "impact_investor", "media"):
        reached = sum(kind in r["stakeholder_access"].split(";") for r in rows)
        assert cells[f"{key}.access_{kind}_rate"] == fmt_pct(reached / len(rows)), kind
    any_rate = sum(r["stakeholder_access"] != "none" for r in rows) / len(rows)
    assert cells[f"{key}.access_any_rate"] == fmt_pct(any_rate)


def test_cumulative_connections_add_only_the_released_months(cells):
    sums = [sum(r["new_connections_abroad"] for r in released(m)) for m in MONTHS]
    assert cells["series.2023-01.connections_cumulative"] == fmt_count(sums[0])
    assert cells["series.2023-02.connections_cumulative"] == fmt_count(sums[0] + sums[1])
    assert cells["series.2023-03.connections_cumulative"] == fmt_count(sum(sums))
    assert cells["kpi.connections_sum"] == fmt_count(sum(sums))


def test_a_small_country_is_left_out_of_the_network_not_the_whole_month(cells, ctx):
    # January: LV 4, LT 2. The network is Latvia alone, so Latvia subtracting itself
    # finds nothing; Lithuania's two answers are in no figure.
    assert cells["series.2023-01.respondents"] == "4"
    jan = ctx.series[0].cells
    assert all("LT" not in c.scopes for c in jan.values())
    assert ctx.excluded_months == (JAN, MAR)


@pytest.mark.parametrize("country", [*ACTIVE, None], ids=[*ACTIVE, "network"])
def test_programme_totals_equal_independent_computation(cells, country):
    rows = [r for m in MONTHS for r in released(m, country)]
    scope = country or NETWORK
    members = sum(released_active(m, country) for m in MONTHS)
    key = f"total.{scope}"
    assert cells[f"{key}.participants"] == fmt_count(
        len({(r["country"], r["member_id"]) for r in rows})
    )
    assert cells[f"{key}.responses"] == fmt_count(len(rows))
    assert cells[f"{key}.response_rate"] == fmt_pct(len(rows) / members)
    assert cells[f"{key}.satisfaction_mean"] == fmt_mean(mean(r["satisfaction"] for r in rows))
    assert cells[f"{key}.nps"] == fmt_signed(nps([r["recommend"] for r in rows]))
    skill = mean({"yes": 1, "partly": 0.5, "no": 0}[r["new_skill"]] for r in rows)
    assert cells[f"{key}.skill_gain_rate"] == fmt_pct(skill)
    assert cells[f"{key}.connections_sum"] == fmt_count(
        sum(r["new_connections_abroad"] for r in rows)
    )
    any_rate = sum(r["stakeholder_access"] != "none" for r in rows) / len(rows)
    assert cells[f"{key}.access_any_rate"] == fmt_pct(any_rate)


def _capability_pairs(country=None, area=None):
    by_key = {(r["country"], r["member_id"], r["wave"]): r for r in self_assessment_rows()}
    pairs = []
    for (c, m, wave), base in by_key.items():
        if wave != "baseline" or (country and c != country):
            continue
        end = by_key.get((c, m, "endline"))
        col = f"capability_{area}"
        if end and base[col] is not None and end[col] is not None:
            pairs.append((base[col], end[col]))
    return pairs


@pytest.mark.parametrize("area", [a for a in NEEDS if a not in (RARE_AREA, UNRATED_AREA)])
def test_capability_growth_equals_independent_computation(cells, area):
    pairs = _capability_pairs(area=area)
    assert cells[f"cap.NETWORK.{area}.members"] == fmt_count(len(pairs))
    assert cells[f"cap.NETWORK.{area}.baseline"] == fmt_mean(mean(b for b, _ in pairs))
    assert cells[f"cap.NETWORK.{area}.endline"] == fmt_mean(mean(e for _, e in pairs))
    growth = mean(e - b for b, e in pairs)
    assert cells[f"cap.NETWORK.{area}.growth"] == fmt_signed(growth, 1)
    se = _capability_pairs("SE", area)
    assert cells[f"cap.SE.{area}"] == fmt_signed(mean(e - b for b, e in se), 1)


def test_capability_headline_is_the_member_weighted_mean_over_areas_shown(cells):
    pairs = [
        p for a in NEEDS if a not in (RARE_AREA, UNRATED_AREA) for p in _capability_pairs(area=a)
    ]
    assert cells["kpi.capability_growth"] == fmt_signed(mean(e - b for b, e in pairs), 1)


def test_capability_small_groups_and_what_would_reveal_them_are_suppressed(cells, ctx):
    area = "visibility"
    # LT has 2 members with both waves: hidden. Hiding EE (4) as well would let EE
    # subtract itself from network minus SE and see LT's two, so LV goes too.
    assert cells[f"cap.LT.{area}"] == SUPPRESSED
    assert cells[f"cap.EE.{area}"] == SUPPRESSED
    assert cells[f"cap.LV.{area}"] == SUPPRESSED
    assert cells[f"cap.SE.{area}"] != SUPPRESSED
    # Public procurement: rated by 2 members in the whole network.
    for part in ("members", "baseline", "endline", "growth"):
        assert cells[f"cap.{NETWORK}.{RARE_AREA}.{part}"] == SUPPRESSED
    assert UNRATED_AREA not in {a.area for a in ctx.capability}


# ------------------------------------------------------------------ privacy


def _all_cells(ctx):
    for point in ctx.series:
        yield from point.cells.values()
    for scope in ctx.totals:
        yield from scope.cells.values()
    for area in ctx.capability:
        yield area.network
        yield from area.by_country.values()


def test_no_value_shown_rests_on_fewer_than_three(ctx):
    for cell in _all_cells(ctx):
        if cell.shown is not None:
            assert cell.n is None or cell.n == 0 or cell.n >= MIN_RESPONDENTS, cell


def test_no_member_id_free_text_or_email_anywhere(ctx, rendered):
    ids = {member(c, i) for c in ACTIVE for i in range(12)}
    free_text = [
        *FOREIGN_MARKERS.values(),
        "alert('x')",
        "HYPERLINK",
        EMAIL_SUGGESTION,
        LONG_SUGGESTION[:40],
        "volunteers left",
        INTEREST_MARKER,
        RESPONDENT_EMAIL,
        "[email removed]",
    ]
    haystacks = {"html": rendered.html, "context": repr(ctx)}
    for name, text in haystacks.items():
        assert re.search(r"m_[0-9a-f]{20}", text) is None, name
        for needle in [*ids, *free_text]:
            assert needle not in text, (name, needle)


@given(st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=6))
def test_protect_group_leaves_nothing_recoverable(counts):
    cells = {f"C{i}": Cell(1.0 if n else None, n) for i, n in enumerate(counts)}
    network = Cell(1.0 if sum(counts) else None, sum(counts))
    out, net = protect_group(cells, network, MIN_RESPONDENTS)
    hidden = [c.n for c in out.values() if c.suppressed]
    shown = [c.n for c in out.values() if not c.suppressed and c.n]
    assert all(n >= MIN_RESPONDENTS for n in shown)
    if net.shown is not None:
        # Network minus the countries shown is the hidden group: safe even to its members.
        assert disclosure_safe(hidden, MIN_RESPONDENTS)
        assert disclosure_safe(counts, MIN_RESPONDENTS)


def test_disclosure_safe_examples():
    k = MIN_RESPONDENTS
    assert disclosure_safe([0, 0], k)
    assert disclosure_safe([3], k)
    assert not disclosure_safe([2], k)
    assert not disclosure_safe([4, 2], k)  # the 4 subtract themselves and see the 2
    assert disclosure_safe([4, 3], k)
    assert not disclosure_safe([1, 1, 9], k)


@pytest.mark.postgres
@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_postgres_gives_the_same_report_context(warehouse, ctx):
    """The report's own SQL (distinct counts, month filters) is portable."""
    from bsin.warehouse.marts import load_reference_data

    feedback = pd.DataFrame(feedback_rows())
    feedback = feedback[[c for c in feedback.columns if c in warehouse.columns("feedback")]]
    warehouse.replace("feedback", {}, feedback)
    warehouse.replace("feedback_selection", {}, pd.DataFrame(selection_rows()))
    warehouse.replace("self_assessment", {}, pd.DataFrame(self_assessment_rows()))
    load_reference_data(warehouse, partners(), MONTHS)
    build_marts(warehouse)
    assert build_programme_report(warehouse, partners(), programme_window()) == ctx


# ------------------------------------------------------------------ output files


def _pdf_pages(pdf: bytes) -> int:
    # matplotlib writes page objects uncompressed: count them, and check the page tree.
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf, re.S)]
    counts += [int(c) for c in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf, re.S)]
    assert counts and counts[0] == pages, "page tree /Count differs from the page objects"
    return pages


def test_pdf_is_a_multi_page_pdf(rendered):
    assert rendered.pdf.startswith(b"%PDF-")
    assert rendered.pdf.rstrip().endswith(b"%%EOF")
    assert _pdf_pages(rendered.pdf) >= 5


@pytest.mark.slow
def test_same_data_give_the_same_files(ctx, rendered):
    again = render_programme_report(ctx)
    assert again.pdf == rendered.pdf
    assert again.html == rendered.html


def test_html_is_self_contained_with_every_chart(rendered):
    images = re.findall(r'<img class="chart" src="([^"]+)" alt="([^"]+)"', rendered.html)
    assert len(images) == 6
    assert all(src.startswith("data:image/png;base64,") for src, _ in images)
    assert not re.search(r'src="(?!data:)', rendered.html)
    assert "<script" not in rendered.html


@pytest.mark.slow
def test_produce_skips_without_the_last_month_unless_forced(wh, tmp_path):
    programme = load_programme().model_copy(
        update={"first_month": JAN, "last_month": date(2023, 4, 1)}
    )
    out = tmp_path / "programme_report"
    skipped = produce_programme_report(wh, partners(), programme, out)
    assert skipped.status == "skipped"
    assert "2023-04" in skipped.message and "force=true" in skipped.message
    assert not out.exists()
    forced = produce_programme_report(wh, partners(), programme, out, force=True)
    assert forced.status == "written"
    html = (out / "programme_report.html").read_text(encoding="utf-8")
    assert "Interim report" in html
    assert (out / "programme_report.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_produce_writes_the_final_report_when_the_last_month_is_in(wh, tmp_path):
    result = produce_programme_report(wh, partners(), programme_window(), tmp_path)
    assert result.status == "written"
    assert "Final report" in (tmp_path / "programme_report.html").read_text(encoding="utf-8")
    assert result.as_dict()["last_data_month"] == "2023-03-01"


# ------------------------------------------------------------------ DAG


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "programme_report.py"))
    assert bag.import_errors == {}
    return bag.dags["bsin_programme_report"]


def test_dag_is_scheduled_on_the_indicators_asset(dag):
    from bsin.orchestration.airflow_support import INDICATORS_ASSET

    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert INDICATORS_ASSET.uri in repr(dag.timetable.asset_condition)
    assert set(dag.tags) == {"bsin", "programme"}
    assert dag.params["force"] is False
    assert dag.task_ids == ["build_programme_report"]


@pytest.mark.slow
def test_dag_task_skips_then_writes_when_forced(dag, wh, tmp_path, monkeypatch):
    """The task body against the fixture warehouse: programme.yaml ends 2023-08, so skip."""
    from airflow.sdk.exceptions import AirflowSkipException

    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", f"duckdb:///{wh.path}")
    monkeypatch.setenv("BSIN_DATA_DIR", str(tmp_path))
    task = dag.get_task("build_programme_report")
    with pytest.raises(AirflowSkipException, match="last month is 2023-08"):
        task.python_callable(params={"force": False})
    assert not (tmp_path / "programme_report").exists()
    result = task.python_callable(params={"force": True})
    assert result["status"] == "written"
    assert Path(result["pdf"]) == tmp_path / "programme_report" / "programme_report.pdf"


# ------------------------------------------------------------------ command line


def _cli():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "programme_report_cli", ROOT / "scripts" / "programme_report.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_cli_writes_an_interim_report_and_final_only_writes_nothing(wh, tmp_path, capsys):
    cli = _cli()
    uri = f"duckdb:///{wh.path}"
    assert cli.main(["--out", str(tmp_path / "final"), "--warehouse", uri, "--final-only"]) == 3
    assert not (tmp_path / "final").exists()
    assert cli.main(["--out", str(tmp_path / "interim"), "--warehouse", uri]) == 0
    assert "interim report" in capsys.readouterr().out
    assert (tmp_path / "interim" / "programme_report.pdf").read_bytes().startswith(b"%PDF")


def test_cli_names_the_fix_when_the_warehouse_was_never_built(tmp_path, capsys):
    empty = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    assert _cli().main(["--out", str(tmp_path / "out"), "--warehouse", empty]) == 2
    assert "build_marts" in capsys.readouterr().err


def test_interim_report_counts_only_member_months_with_data(wh):
    """An interim report (the programme runs on) divides by member-months that have data:
    a month not run yet must not dilute the response rate (issue 9, finding 6)."""
    from bsin.warehouse.marts import load_reference_data

    apr = date(2023, 4, 1)
    longer = load_programme().model_copy(update={"first_month": JAN, "last_month": apr})
    load_reference_data(wh, partners(), [*MONTHS, apr])  # April's roster, no answers yet
    try:
        interim = build_programme_report(wh, partners(), longer)
    finally:
        load_reference_data(wh, partners(), MONTHS)
    # April has a roster but no answers: it is in no released (country, month) pair, so it
    # adds nothing to the denominator.
    rows = [r for m in MONTHS for r in released(m)]
    expected = len(rows) / sum(released_active(m) for m in MONTHS)
    assert interim.total(NETWORK).cells["response_rate"].value == pytest.approx(expected)
    for country in ACTIVE:
        own = [r for m in MONTHS for r in released(m, country)]
        members = sum(released_active(m, country) for m in MONTHS)
        value = interim.total(country).cells["response_rate"].value
        assert value == (pytest.approx(len(own) / members) if members else None)


# ------------------------------------------------------------------ layout and languages


def test_pdf_headers_never_break_inside_a_word():
    from bsin.reporting.programme_pdf import _fit_header, _text_width_pt

    for header in ("Satisfaction (1-5)", "Reached any stakeholder", "Pasitenkinimas (1-5)"):
        text, size = _fit_header(header, 50.0)
        assert text.split() == header.split()  # only spaces became line breaks
        assert 5.0 <= size <= 6.8
        assert all(_text_width_pt(line, size) <= 50.0 + 1e-6 for line in text.splitlines())


@pytest.mark.parametrize("filled", [0.0, 5.0, 8.3, 9.0, 9.6])
def test_pdf_table_leaves_no_orphan_rows(filled):
    from bsin.reporting.programme_pdf import ORPHAN_ROWS, _PdfWriter
    from bsin.reporting.programme_view import ProgrammeTranslator

    class Pages:
        def savefig(self, fig):
            pass

    w = _PdfWriter(Pages(), "footer", ProgrammeTranslator("en"))
    w.heading("start", new_page=True)
    w.y += filled  # whatever came before the table on this page
    rows = [{"label": f"m{i}", "cells": [{"id": str(i), "text": "1"}]} for i in range(13)]
    w.table({"headers": ["Month", "Value"], "rows": rows})
    parts = w.table_parts
    assert sum(n for _, n in parts) == 13
    assert all(n > ORPHAN_ROWS for _, n in parts[1:]), parts


def test_every_programme_catalogue_is_complete():
    from bsin.reporting.programme_model import PROGRAMME_I18N_DIR
    from bsin.reporting.report_i18n import load_catalogue, placeholders

    en = load_catalogue("en", PROGRAMME_I18N_DIR)
    langs = sorted(p.stem for p in PROGRAMME_I18N_DIR.glob("*.yaml"))
    assert set(langs) >= {"en", "sv", "et", "lv", "lt", "fi", "nb", "da"}
    for lang in langs:
        cat = load_catalogue(lang, PROGRAMME_I18N_DIR)
        assert set(cat) == set(en), lang
        for key, text in en.items():
            assert placeholders(cat[key]) == placeholders(text), (lang, key)


def test_programme_report_in_every_partner_language(wh, tmp_path):
    from bsin.reporting.programme_report import produce_programme_report, report_languages

    # Two partners with two report languages keep the test quick; the rule is the same.
    full = partners()
    cfg = full.model_copy(
        update={"partners": [p for p in full.partners if p.report_language in ("en", "sv")]}
    )
    result = produce_programme_report(wh, cfg, programme_window(), tmp_path, force=True)
    langs = report_languages(cfg)
    assert set(result.translations) == set(langs) - {"en"}
    for lang, (html_path, pdf_path) in result.translations.items():
        html = html_path.read_text(encoding="utf-8")
        assert f'lang="{lang}"' in html and pdf_path.read_bytes().startswith(b"%PDF")
    sv = result.translations["sv"][0].read_text(encoding="utf-8")
    assert "programrapport" in sv and "Sverige" in sv and "Nätverket" in sv
