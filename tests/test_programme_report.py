"""The programme report: values, privacy, HTML and PDF output, the DAG's skip/force rule.

The warehouse is the partner report's seeded fixture (tests/report_fixtures.py) plus what
the programme report needs on top: stakeholder selections derived from the same feedback
rows and a baseline/end-line self-assessment seeded here. Expected values are computed from
those rows in plain Python, never from the marts.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from statistics import mean

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from report_fixtures import (
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

from bsin.config import load_programme
from bsin.dbt_project import build_marts
from bsin.programme_report import (
    MIN_RESPONDENTS,
    NETWORK,
    Cell,
    build_programme_report,
    disclosure_safe,
    produce_programme_report,
    protect_group,
    render_programme_report,
)

ROOT = Path(__file__).resolve().parents[1]
JAN, FEB, MAR = MONTHS
AREAS = (
    "funding_access",
    "visibility",
    "impact_measurement",
    "scaling",
    "public_procurement",
    "corporate_partnerships",
    "investor_readiness",
    "team_leadership",
)
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
                for k, area in enumerate(AREAS):
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


def fmt_mean(v):
    return f"{v:.1f}"


def fmt_pct(v):
    return f"{v * 100:.0f} %"


def fmt_signed(v, decimals=0):
    text = f"{v:+.{decimals}f}"
    return ("±" + f"{0:.{decimals}f}") if float(text) == 0 else text


def fmt_count(v):
    return f"{v:.0f}"


def rows_in(month, country=None):
    return [
        r
        for r in feedback_rows()
        if r["feedback_month"] == month and (country is None or r["country"] == country)
    ]


def nps(scores):
    return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


# The only month the network may not show: in January only LV (4) and LT (2) answered,
# so Latvia could subtract its own answers from the network and see Lithuania's two.
SHOWN_MONTHS = (FEB, MAR)


@pytest.mark.parametrize("month", SHOWN_MONTHS, ids=lambda m: f"{m:%Y-%m}")
def test_monthly_network_values_equal_independent_computation(cells, month):
    rows = rows_in(month)
    key = f"series.{month:%Y-%m}"
    assert cells[f"{key}.respondents"] == fmt_count(len(rows))
    assert cells[f"{key}.response_rate"] == fmt_pct(len(rows) / sum(ACTIVE.values()))
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


def test_cumulative_connections_add_only_the_months_shown(cells):
    feb = sum(r["new_connections_abroad"] for r in rows_in(FEB))
    mar = sum(r["new_connections_abroad"] for r in rows_in(MAR))
    assert cells["series.2023-01.connections_cumulative"] == SUPPRESSED
    assert cells["series.2023-02.connections_cumulative"] == fmt_count(feb)
    assert cells["series.2023-03.connections_cumulative"] == fmt_count(feb + mar)
    assert cells["kpi.connections_sum"] == fmt_count(feb + mar)


def test_a_month_a_partner_could_subtract_itself_from_is_suppressed_everywhere(cells):
    for key in ("respondents", "response_rate", "satisfaction_mean", "nps", "connections_sum"):
        assert cells[f"series.2023-01.{key}"] == SUPPRESSED, key


@pytest.mark.parametrize("country", [*ACTIVE, None], ids=[*ACTIVE, "network"])
def test_programme_totals_equal_independent_computation(cells, country):
    rows = [r for m in SHOWN_MONTHS for r in rows_in(m, country)]
    scope = country or NETWORK
    members = ACTIVE[country] if country else sum(ACTIVE.values())
    key = f"total.{scope}"
    assert cells[f"{key}.participants"] == fmt_count(
        len({(r["country"], r["member_id"]) for r in rows})
    )
    assert cells[f"{key}.responses"] == fmt_count(len(rows))
    assert cells[f"{key}.response_rate"] == fmt_pct(len(rows) / (members * len(SHOWN_MONTHS)))
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


@pytest.mark.parametrize("area", [a for a in AREAS if a not in (RARE_AREA, UNRATED_AREA)])
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
        p for a in AREAS if a not in (RARE_AREA, UNRATED_AREA) for p in _capability_pairs(area=a)
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
    out, net = protect_group(cells, network)
    hidden = [c.n for c in out.values() if c.suppressed]
    shown = [c.n for c in out.values() if not c.suppressed and c.n]
    assert all(n >= MIN_RESPONDENTS for n in shown)
    if net.shown is not None:
        # Network minus the countries shown is the hidden group: safe even to its members.
        assert disclosure_safe(hidden)
        assert disclosure_safe(counts)


def test_disclosure_safe_examples():
    assert disclosure_safe([0, 0])
    assert disclosure_safe([3])
    assert not disclosure_safe([2])
    assert not disclosure_safe([4, 2])  # the 4 subtract themselves and see the 2
    assert disclosure_safe([4, 3])
    assert not disclosure_safe([1, 1, 9])


@pytest.mark.postgres
@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_postgres_gives_the_same_report_context(warehouse, ctx):
    """The report's own SQL (distinct counts, month filters) is portable."""
    from bsin.marts import load_reference_data

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
    from bsin.airflow_support import INDICATORS_ASSET

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
