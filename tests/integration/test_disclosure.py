"""Disclosure control (bsin.reporting.disclosure), tried the way an adversarial partner would.

A country under k (Lithuania, March 2023 in the report fixture) must leave no trace in
another partner's report: the whole email (every MIME part: text, HTML with alt texts,
chart PNG bytes, CSV) is byte-identical whatever the small country answered, and whether
1, 2 or nobody answered. Subtracting the shown figures from the network recovers nothing
of it, and "this month minus last month" of a running total is the released month.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bsin.reporting.disclosure import (
    COUNT_COLUMNS,
    CUMULATIVE_OF,
    INDICATOR_PARTS,
    NETWORK,
    Cell,
    disclosure_safe,
    for_viewer,
    foreign_cell,
    network_figures,
)
from bsin.reporting.report import MIN_RESPONDENTS, build_message, build_report, render_report
from tests.support.report_fixtures import (
    MONTHS,
    REPORT_MONTH,
    build_fixture_warehouse,
    feedback_rows,
    partners,
)

SENDER = "Baltic Sea Impact Network <reports@bsin.example.org>"
SMALL = "LT"  # 2 respondents in REPORT_MONTH in the fixture
VIEWERS = ("SE", "EE", "LV")


def _small_rows(n: int, seed: int) -> list[dict]:
    """The fixture's feedback with the small country's report month replaced by ``n`` rows."""
    rows = feedback_rows()
    template = next(
        r for r in rows if r["country"] == SMALL and r["feedback_month"] == REPORT_MONTH
    )
    out = [r for r in rows if not (r["country"] == SMALL and r["feedback_month"] == REPORT_MONTH)]
    rnd = random.Random(seed)
    for i in range(n):
        out.append(
            template
            | {
                "member_id": f"m_small{seed:04d}{i:012d}",
                "response_id": f"r-small-{seed}-{i}",
                "attended_peer_session": rnd.random() < 0.5,
                "attended_workshop": rnd.random() < 0.5,
                "satisfaction": rnd.randint(1, 5),
                "relevance": rnd.randint(1, 5),
                "recommend": rnd.randint(0, 10),
                "new_skill": rnd.choice(["yes", "partly", "no"]),
                "new_connections_abroad": rnd.randint(0, 50),
                "stakeholder_access": rnd.choice(["public_sector", "corporate;media", "none"]),
                "challenges": rnd.choice(["funding", "policy", "team;other"]),
                "challenges_other": f"secret {seed}",
                "suggestion": f"small-country suggestion {seed}",
            }
        )
    return out


def _whole_report(wh, viewer: str) -> list[tuple]:
    """Every header and every MIME part of ``viewer``'s report, as bytes, minus the Date."""
    rendered = render_report(build_report(wh, partners(), viewer, REPORT_MONTH))
    msg = build_message(rendered, partners().partner(viewer), SENDER)
    out: list[tuple] = [(k, str(v)) for k, v in msg.items() if k != "Date"]
    for part in msg.walk():
        if part.is_multipart():
            continue
        headers = tuple((k, str(v)) for k, v in part.items())
        out.append((headers, part.get_payload(decode=True)))
    return out


VARIANTS = {"two": (2, 1), "two_other_answers": (2, 2), "one": (1, 3), "none": (0, 4)}


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """variant name -> its warehouse (the small country answered differently in each)."""
    out = {}
    for name, (n, seed) in VARIANTS.items():
        out[name] = build_fixture_warehouse(tmp_path_factory.mktemp(name), _small_rows(n, seed))
    yield out
    for wh in out.values():
        wh.close()


@pytest.mark.parametrize("viewer", VIEWERS)
def test_other_partners_report_is_byte_identical_whatever_the_small_country_answered(
    variants, viewer
):
    reports = {name: _whole_report(wh, viewer) for name, wh in variants.items()}
    baseline = reports.pop("two")
    # The comparison is over real content: charts, text, HTML and a CSV are all there.
    kinds = {dict(h).get("Content-Type", "").split(";")[0] for h, _ in baseline[-6:]}
    assert {"image/png", "text/csv"} <= kinds
    for name, report in reports.items():
        assert report == baseline, f"{viewer}'s report differs when {SMALL} is {name!r}"


def test_subtraction_recovers_nothing_of_the_small_country(variants):
    """Network minus the countries a partner can see (its own exactly) leaves nothing."""
    for name, wh in variants.items():
        ctx = build_report(wh, partners(), "SE", REPORT_MONTH)
        network = next(r for r in ctx.comparison if r.scope == NETWORK)
        visible = [r for r in ctx.comparison if r.scope != NETWORK and not r.respondents.suppressed]
        assert SMALL not in {r.scope for r in visible}
        # respondents: network count minus every visible country's count
        assert network.respondents.value - sum(r.respondents.value for r in visible) == 0, name
        # sums behind the means (satisfaction) and NPS: nothing left either
        for key in ("satisfaction_mean", "nps"):
            net = network.cells[key]
            assert not net.suppressed and SMALL not in net.scopes
            shown = [r.cells[key] for r in visible]
            rest = net.value * net.n - sum(c.value * c.n for c in shown)
            assert rest == pytest.approx(0, abs=1e-6), (name, key)
        # (a running total holds the small country's earlier, publishable months: the
        # test below checks it adds only this month's released figure)
        for line in ctx.indicators:
            if line.key not in CUMULATIVE_OF:
                assert SMALL not in line.network.scopes, (name, line.key)
        for points in ctx.trends.values():
            march = [p for p in points if p.month == REPORT_MONTH]
            assert march and all(SMALL not in p.network.scopes for p in march)


def test_running_total_minus_last_month_is_the_released_month(variants):
    """connections_cumulative(March) - (February) is exactly the network's March sum."""
    wh = variants["two"]
    feb = build_report(wh, partners(), "SE", MONTHS[1]).line("connections_cumulative").network
    mar_ctx = build_report(wh, partners(), "SE", REPORT_MONTH)
    mar = mar_ctx.line("connections_cumulative").network
    month_sum = mar_ctx.line("connections_sum").network
    assert not (feb.suppressed or mar.suppressed or month_sum.suppressed)
    assert mar.value - feb.value == pytest.approx(month_sum.value)
    assert SMALL not in month_sum.scopes


# ------------------------------------------------------------------ the rule itself


def _counts_row(country: str, month: date, n: int, rnd: random.Random) -> dict:
    """An int_monthly_counts row of ``n`` respondents with random, consistent sums."""
    row: dict = {"scope_country": country, "month": month}
    for col in COUNT_COLUMNS:
        row[col] = 0
    row |= {
        "respondents": n,
        "active_members": n + rnd.randint(0, 5),
        "baseline_members": n,
        "baseline_covered": rnd.randint(0, n),
    }
    for prefix in ("peer", "workshop"):
        row[f"{prefix}_n"] = n
        row[f"{prefix}_yes"] = rnd.randint(0, n)
    row["satisfaction_n"] = row["relevance_n"] = row["recommend_n"] = row["skill_n"] = n
    row["connections_n"] = row["access_n"] = n
    row["satisfaction_sum"] = sum(rnd.randint(1, 5) for _ in range(n))
    row["satisfaction_low"] = rnd.randint(0, n)
    row["relevance_sum"] = sum(rnd.randint(1, 5) for _ in range(n))
    row["promoters"] = rnd.randint(0, n)
    row["detractors"] = rnd.randint(0, n - row["promoters"])
    row["skill_half_points"] = rnd.randint(0, 2 * n)
    row["connections_sum"] = sum(rnd.randint(0, 50) for _ in range(n))
    for t in ("public_sector", "corporate", "impact_investor", "media", "any"):
        row[f"access_{t}"] = rnd.randint(0, n)
    return row


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(2, 6),
    big=st.lists(st.integers(0, 12), min_size=2, max_size=4),
    small=st.integers(0, 5),
    seed_a=st.integers(0, 10**6),
    seed_b=st.integers(0, 10**6),
)
def test_network_figures_ignore_any_country_under_k(k, big, small, seed_a, seed_b):
    """Property: a country under k changes no network figure, whatever it answered."""
    small = small % k  # always under k
    months = (date(2023, 1, 1), date(2023, 2, 1))
    base = random.Random(seed_a)
    others = [_counts_row(f"C{i}", m, n, base) for m in months for i, n in enumerate(big)]
    with_a = others + [_counts_row("SM", m, small, random.Random(seed_a)) for m in months]
    with_b = others + [_counts_row("SM", m, small, random.Random(seed_b + 1)) for m in months]
    figures = network_figures(with_a, k)
    assert figures == network_figures(with_b, k) == network_figures(others, k)
    for (m, key), cell in figures.items():
        assert "SM" not in cell.scopes
        # every country in a figure has at least k answers behind it
        part = INDICATOR_PARTS.get(key)
        if part:
            ns = {r["scope_country"]: r[part.n] for r in others if r["month"] == m}
            assert all(ns[c] >= k for c in cell.scopes), (key, cell)
        # cumulative: this month minus last month is this month's released sum
    cum = [figures[(m, "connections_cumulative")] for m in months]
    month2 = figures[(months[1], "connections_sum")]
    if not month2.suppressed and not cum[0].suppressed:
        assert cum[1].value - cum[0].value == pytest.approx(month2.value)


def test_network_figure_of_the_viewer_alone_is_hidden():
    own_only = Cell(4.0, 5, scopes=("LV",))
    assert for_viewer(own_only, "LV").suppressed
    assert not for_viewer(own_only, "LT").suppressed
    assert not for_viewer(Cell(4.0, 9, scopes=("LV", "SE")), "LV").suppressed


@pytest.mark.parametrize(
    ("n", "hidden"), [(None, True), (0, True), (1, True), (2, True), (3, False)]
)
def test_foreign_cell_rule(n, hidden):
    assert foreign_cell(1.0, n, 3).suppressed is hidden
    assert foreign_cell(1.0, 4, 5).suppressed  # k comes from configuration


def test_disclosure_safe_groups():
    assert disclosure_safe([0, 0], 3)
    assert not disclosure_safe([2], 3)
    assert not disclosure_safe([5, 2], 3)  # the 5-country subtracts its own: 2 left
    assert disclosure_safe([5, 3], 3)


def test_parts_reproduce_the_marts(warehouse):
    """INDICATOR_PARTS equal the marts' own values (the two formulas cannot drift apart).

    Over one country they give that country's values; with k = 0 over every country the
    marts' NETWORK rows, running total included (response rate aside, see below).
    """
    from bsin.warehouse.dbt_project import build_marts
    from tests.support import warehouse_data as wd

    wd.load(warehouse, wd.generated())
    build_marts(warehouse)
    counts = warehouse.query_df(
        "select scope_country, month, "  # noqa: S608 (constant column names)
        + ", ".join(COUNT_COLUMNS)
        + " from int_monthly_counts"
    ).to_dict("records")
    values = warehouse.query_df(
        "select scope_country, month, indicator, value from indicator_value"
    )
    marts = {
        (r["scope_country"], _day(r["month"]), r["indicator"]): r["value"]
        for r in values.to_dict("records")
    }
    checked: set[str] = set()
    for row in counts:
        if row["scope_country"] == NETWORK:
            continue
        for (m, key), cell in network_figures([row], 0).items():
            if key in INDICATOR_PARTS and cell.value is not None:
                assert cell.value == pytest.approx(marts[(row["scope_country"], m, key)]), key
                checked.add(key)
    assert checked == set(INDICATOR_PARTS)
    for (m, key), cell in network_figures(counts, 0).items():
        # (by design the released response rate is over the countries in the figure; the
        # marts' NETWORK row also counts the members of countries nobody answered in)
        if key == "response_rate":
            continue
        assert cell.value == pytest.approx(marts.get((NETWORK, m, key))), (m, key)


def _day(value) -> date:
    return value.date() if hasattr(value, "date") else value


@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # each example builds a warehouse: no shrinking
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(n=st.integers(0, MIN_RESPONDENTS - 1), seed=st.integers(5, 10**6))
def test_random_small_answers_leave_the_context_unchanged(variants, tmp_path_factory, n, seed):
    """Property over the warehouse: any small count and answers give the same context."""
    wh = build_fixture_warehouse(tmp_path_factory.mktemp("prop"), _small_rows(n, seed))
    try:
        for viewer in VIEWERS:
            got = build_report(wh, partners(), viewer, REPORT_MONTH)
            want = build_report(variants["two"], partners(), viewer, REPORT_MONTH)
            assert got == want
    finally:
        wh.close()


# ------------------------------------------------------------------ across channels


def _programme(wh):
    from bsin.core.config import load_programme
    from bsin.reporting.programme_report import build_programme_report

    window = load_programme().model_copy(
        update={"first_month": MONTHS[0], "last_month": MONTHS[-1]}
    )
    return build_programme_report(wh, partners(), window)


def test_programme_report_is_identical_whatever_the_small_country_answered(variants):
    contexts = {name: _programme(wh) for name, wh in variants.items()}
    baseline = contexts.pop("two")
    for name, ctx in contexts.items():
        assert ctx == baseline, name


def test_programme_report_and_partner_emails_release_the_same_network_figures(variants):
    """Two channels, one figure: their difference can never isolate a small country."""
    wh = variants["two"]
    series = {p.month: p.cells for p in _programme(wh).series}
    for month in MONTHS[1:]:
        ctx = build_report(wh, partners(), "SE", month)
        for key in ("satisfaction_mean", "nps", "response_rate", "connections_sum"):
            assert ctx.line(key).network == series[month][key], (month, key)
        net_row = next(r for r in ctx.comparison if r.scope == NETWORK)
        assert net_row.respondents.value == series[month]["respondents"].value


def test_a_month_only_small_countries_answered_looks_like_a_month_nobody_did(tmp_path):
    """January without Latvia: Lithuania's 1 answer vs none gives the same programme report."""
    jan = MONTHS[0]
    base = [r for r in feedback_rows() if r["feedback_month"] != jan or r["country"] != "LV"]
    one = [r for r in base if not (r["country"] == SMALL and r["feedback_month"] == jan)]
    one.append(next(r for r in base if r["country"] == SMALL and r["feedback_month"] == jan))
    none = [r for r in base if not (r["country"] == SMALL and r["feedback_month"] == jan)]
    contexts = []
    for name, rows in (("one", one), ("none", none)):
        (tmp_path / name).mkdir()
        wh = build_fixture_warehouse(tmp_path / name, rows)
        try:
            contexts.append(_programme(wh))
        finally:
            wh.close()
    assert contexts[0] == contexts[1]
    assert contexts[0].series[0].cells["respondents"].value is None
