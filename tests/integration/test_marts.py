"""Indicator marts: every value equals an independent Python computation, on both backends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bsin.core.config import ConfigError, load_partners
from bsin.core.months import add_months, month_range
from bsin.warehouse.dbt_project import DBT_PROJECT_DIR, DbtBuildError, build_marts
from bsin.warehouse.marts import INDICATORS, load_reference_data, load_topics
from tests.conftest import BACKENDS, open_warehouse
from tests.support import warehouse_data as wd


def rows(wh, sql: str, params=None) -> list[dict]:
    """Query result as dicts with NaN turned into None."""
    df = wh.query_df(sql, params)
    return [{k: (None if _isnan(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


def _isnan(v) -> bool:
    return isinstance(v, float) and v != v


def snapshot(wh, table: str) -> list[tuple]:
    """Every row of ``table``, sorted, for exact comparisons."""
    df = wh.query_df(f"select * from {table}")  # noqa: S608 (test-owned table names)
    return sorted(tuple(None if _isnan(v) else v for v in r) for r in df.itertuples(index=False))


MART_TABLES = [
    "indicators_monthly",
    "indicator_value",
    "stakeholder_access_monthly",
    "need_coverage_status",
    "capability_growth",
]


@pytest.fixture
def built(warehouse):
    """The warehouse holding the generated data set, marts built (for tests that change it)."""
    data = wd.generated()
    wd.load(warehouse, data)
    build_marts(warehouse)
    return warehouse, data


@pytest.fixture(scope="module", params=BACKENDS)
def built_once(request, tmp_path_factory):
    """``built``, made once per backend for the tests that only read it (a dbt build of the
    whole project costs seconds)."""
    with open_warehouse(request.param, tmp_path_factory.mktemp("marts")) as wh:
        data = wd.generated()
        wd.load(wh, data)
        build_marts(wh)
        yield wh, data


def test_model_files_document_their_grain():
    files = sorted((DBT_PROJECT_DIR / "models").rglob("*.sql"))
    assert {f.parent.name for f in files} == {"staging", "marts"}
    for f in files:
        first = f.read_text(encoding="utf-8").lstrip().splitlines()[0]
        assert first.startswith("-- grain:"), f"{f} must start with '-- grain: ...'"


def test_indicators_monthly_equal_reference(built_once):
    wh, data = built_once
    expected = wd.reference_indicators(data)
    got = rows(wh, "select * from indicators_monthly")
    assert {(r["scope_country"], r["month"]) for r in got} == set(expected)
    for r in got:
        ref = expected[(r["scope_country"], r["month"])]
        assert r["respondents"] == ref["respondents"][0]
        assert r["active_members"] == ref["active_members"][0]
        for name in INDICATORS:
            assert wd.close(r[name], ref[name][0]), (r["scope_country"], r["month"], name)


def test_indicator_value_trends_equal_reference(built_once):
    wh, data = built_once
    expected = wd.reference_trends(wd.reference_indicators(data), list(INDICATORS))
    got = rows(wh, "select * from indicator_value")
    assert {(r["scope_country"], r["month"], r["indicator"]) for r in got} == set(expected)
    for r in got:
        ref = expected[(r["scope_country"], r["month"], r["indicator"])]
        for col in ("value", "n", "prev_value", "delta", "running_mean", "mean_3m"):
            assert wd.close(r[col], ref[col]), (r["scope_country"], r["month"], r["indicator"], col)


def test_gap_month_breaks_prev_value_but_not_running_mean(built_once):
    wh, data = built_once
    # The generated data leaves one country without feedback in March: April's previous
    # month is missing, the 3-month mean uses January and February only.
    jan, feb, mar, apr = wd.MONTHS[:4]
    answered = {(r["country"], r["feedback_month"]) for r in data.feedback}
    (gap,) = {c for c, _ in answered if (c, mar) not in answered}
    april = rows(
        wh,
        "select * from indicator_value where scope_country = :c and month = :m "
        "and indicator = 'response_rate'",
        {"c": gap, "m": apr},
    )[0]
    assert april["prev_value"] is None and april["delta"] is None
    rates = {
        r["month"]: r["value"]
        for r in rows(
            wh,
            "select month, value from indicator_value "
            "where scope_country = :c and indicator = 'response_rate'",
            {"c": gap},
        )
    }
    assert mar not in rates
    assert wd.close(april["mean_3m"], (rates[jan] + rates[feb]) / 2)
    assert wd.close(april["running_mean"], sum(v for m, v in rates.items() if m <= apr) / 3)


def test_stakeholder_access_monthly_equals_reference(built_once):
    wh, data = built_once
    expected = wd.reference_indicators(data)
    got = rows(wh, "select * from stakeholder_access_monthly")
    assert {r["stakeholder_type"] for r in got} == set(wd.STAKEHOLDER_TYPES)
    assert len(got) == len(expected) * len(wd.STAKEHOLDER_TYPES)
    for r in got:
        ref = expected[(r["scope_country"], r["month"])]
        value, n = ref[f"access_{r['stakeholder_type']}_rate"]
        assert r["respondents"] == n
        assert wd.close(r["rate"], value)
        if n:
            assert wd.close(r["members_reached"] / n, value)


def test_need_coverage_status_equals_reference(built_once):
    wh, data = built_once
    expected = wd.reference_need_status(data)
    got = rows(wh, "select * from need_coverage_status")
    assert {(r["scope_country"], r["month"], r["need"]) for r in got} == set(expected)
    for r in got:
        ref = expected[(r["scope_country"], r["month"], r["need"])]
        for col, want in ref.items():
            if isinstance(want, float):
                assert wd.close(r[col], want), col
            else:
                assert r[col] == want, (r["scope_country"], r["month"], r["need"], col)


def test_capability_growth_equals_reference(built_once):
    wh, data = built_once
    expected = wd.reference_capability_growth(data)
    got = rows(wh, "select * from capability_growth")
    assert expected, "the generated data must have members with both waves"
    assert {(r["scope_country"], r["area"]) for r in got} == set(expected)
    for r in got:
        ref = expected[(r["scope_country"], r["area"])]
        assert r["members"] == ref["members"]
        for col in ("baseline_mean", "endline_mean", "growth_mean"):
            assert wd.close(r[col], ref[col]), (r["scope_country"], r["area"], col)


def test_build_marts_twice_gives_identical_tables(built_once):
    wh, _ = built_once
    before = {t: snapshot(wh, t) for t in MART_TABLES}
    build_marts(wh)
    assert {t: snapshot(wh, t) for t in MART_TABLES} == before
    assert all(before[t] for t in MART_TABLES)


def test_dbt_lets_go_of_the_duckdb_file_after_a_build(tmp_path):
    """After a build no DuckDB instance of dbt's holds the warehouse: another process can
    open it for writing (an Airflow task of another process, ``make forget``)."""
    import subprocess
    import sys

    with open_warehouse("duckdb", tmp_path) as wh:
        wd.load(wh, wd.generated())
        build_marts(wh)
        wh.close()
        probe = (
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]);"
            " print(con.execute('select count(*) from indicator_value').fetchone()[0])"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe, wh.path], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert int(done.stdout) > 0
        # This process's own connection opens again as before.
        assert wh.query("select count(*) from indicator_value")[0][0] == int(done.stdout)


# --------------------------------------------------------------------------------------
# Small worked cases, one warehouse. Each case below is an invented country (ISO 3166's
# user-assigned X range) with months of its own and an empty month after them, so one dbt
# build per backend serves them all (a build per case and backend cost some 20 builds), and
# a NETWORK row of a case's month pools that case alone.

NPS_CASES = [
    ([9, 10, 10], 100.0),
    ([0, 3, 6], -100.0),
    ([7, 8, 7, 8], 0.0),
    ([6, 7, 9], 0.0),  # the boundaries: 6 detractor, 7-8 passive, 9 promoter
    ([10, 8, 0, 9], 25.0),
    ([10, None, 2], 0.0),  # an unanswered recommend question is not a passive
]


@dataclass(frozen=True)
class Place:
    """Where a case lives in the shared warehouse: its countries and its months."""

    countries: tuple[str, ...]
    months: tuple[date, ...]

    @property
    def country(self) -> str:
        """The case's (first) country."""
        return self.countries[0]


class Cases:
    """Gives each case countries and months no other case uses."""

    def __init__(self) -> None:
        self.data = wd.Canonical()
        self.places: dict[str, Place] = {}
        self._codes = iter(f"X{chr(c)}" for c in range(ord("A"), ord("Z") + 1))
        self._next_month = date(2023, 1, 1)

    def place(self, name: str, countries: int = 1, months: int = 1) -> Place:
        """Reserve ``countries`` new codes and ``months`` consecutive new months for ``name``."""
        first = self._next_month
        self._next_month = add_months(first, months + 1)
        place = Place(
            tuple(next(self._codes) for _ in range(countries)),
            tuple(add_months(first, i) for i in range(months)),
        )
        self.places[name] = place
        return place


def _only_months_with_data(cases: Cases) -> None:
    p = cases.place("only-months", months=5)
    cases.data.roster.update({(p.country, m): 4 for m in p.months})  # roster for five months
    cases.data.add_feedback(p.country, p.months[1], "a", satisfaction=4)


def _nps(cases: Cases, i: int, scores: list[int | None]) -> None:
    p = cases.place(f"nps-{i}")
    cases.data.roster[(p.country, p.months[0])] = 5
    for k, s in enumerate(scores):
        cases.data.add_feedback(p.country, p.months[0], f"m{k}", recommend=s)


def _unanswered(cases: Cases) -> None:
    p = cases.place("unanswered")
    cases.data.roster[(p.country, p.months[0])] = 5
    # nothing else answered
    cases.data.add_feedback(p.country, p.months[0], "a", satisfaction=4)


def _skill_gain(cases: Cases) -> None:
    p = cases.place("skill-gain")
    cases.data.roster[(p.country, p.months[0])] = 4
    for k, s in enumerate(["yes", "partly", "no", "partly"]):
        cases.data.add_feedback(p.country, p.months[0], f"m{k}", new_skill=s)


def _network_pools(cases: Cases) -> None:
    p = cases.place("network-pools", countries=2)
    (small, large), m = p.countries, p.months[0]
    cases.data.roster.update({(small, m): 2, (large, m): 8})
    cases.data.add_feedback(small, m, "a", satisfaction=5, new_connections_abroad=3)
    cases.data.add_feedback(large, m, "b", satisfaction=1, new_connections_abroad=1)
    cases.data.add_feedback(large, m, "c", satisfaction=3, new_connections_abroad=0)


def _cumulative(cases: Cases) -> None:
    p = cases.place("cumulative", months=3)
    data, c = cases.data, p.country
    data.roster.update({(c, m): 3 for m in p.months})
    for m, k in zip(p.months, [2, 0, 5], strict=True):
        data.add_feedback(c, m, "a", new_connections_abroad=k)
    data.add_self_assessment(c, "baseline", "a", ["scaling"], {})
    data.add_self_assessment(c, "baseline", "b", ["visibility", "scaling"], {})
    data.add_self_assessment(c, "baseline", "c", [], {})
    data.topics.update({p.months[0]: ["visibility"], p.months[2]: ["scaling", "funding_access"]})


def _both_waves(cases: Cases) -> None:
    c = cases.place("both-waves", months=0).country
    cases.data.add_self_assessment(c, "baseline", "a", [], {"scaling": 2, "visibility": 3})
    cases.data.add_self_assessment(c, "endline", "a", [], {"scaling": 4, "visibility": None})
    cases.data.add_self_assessment(c, "baseline", "b", [], {"scaling": 1})  # no end-line
    cases.data.add_self_assessment(c, "baseline", "c", [], {"scaling": 3})
    cases.data.add_self_assessment(c, "endline", "c", [], {"scaling": 3})


def _worked_example(cases: Cases) -> None:
    """The numbers of the worked example in docs/indicators.md."""
    p = cases.place("worked-example", months=3)
    data, c = cases.data, p.country
    jan, feb, mar = p.months
    data.roster.update({(c, m): 8 for m in p.months})
    for i, s in enumerate([4, 4]):
        data.add_feedback(c, jan, f"j{i}", satisfaction=s, new_connections_abroad=2)
    for i, s in enumerate([5, 4, 4, 4, 4]):
        data.add_feedback(c, feb, f"f{i}", satisfaction=s, new_connections_abroad=1)
    march = [
        ("A", True, True, 5, 4, 10, "yes", 3, ["public_sector", "corporate"]),
        ("B", True, False, 4, 4, 9, "partly", 1, ["none"]),
        ("C", False, False, 2, 3, 6, "no", 0, ["corporate"]),
        ("D", True, True, 4, 5, 8, "yes", 2, None),
        ("E", True, None, 1, 2, 3, "partly", 0, ["none"]),
    ]
    for m, peer, work, sat, rel, rec, skill, conn, access in march:
        data.add_feedback(
            c,
            mar,
            m,
            attended_peer_session=peer,
            attended_workshop=work,
            satisfaction=sat,
            relevance=rel,
            recommend=rec,
            new_skill=skill,
            new_connections_abroad=conn,
            stakeholder_access=access,
        )
    for m, needs in [
        ("A", ["public_procurement", "scaling"]),
        ("B", ["scaling"]),
        ("C", ["public_procurement"]),
        ("D", ["visibility"]),
        ("F", ["funding_access"]),
        ("G", []),
    ]:
        data.add_self_assessment(c, "baseline", m, needs, {})
    data.topics[mar] = ["public_procurement"]


def all_cases() -> Cases:
    """Every small case of this module, placed."""
    cases = Cases()
    _only_months_with_data(cases)
    for i, (scores, _) in enumerate(NPS_CASES):
        _nps(cases, i, scores)
    _unanswered(cases)
    _skill_gain(cases)
    _network_pools(cases)
    _cumulative(cases)
    _both_waves(cases)
    _worked_example(cases)
    return cases


@dataclass
class World:
    """The shared warehouse, marts built, and where each case lives in it."""

    wh: object
    places: dict[str, Place]

    def rows(self, sql: str, params=None) -> list[dict]:
        """``rows`` of the shared warehouse."""
        return rows(self.wh, sql, params)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    """Every case in one warehouse per backend, marts built once."""
    cases = all_cases()
    with open_warehouse(request.param, tmp_path_factory.mktemp("cases")) as wh:
        wd.load(wh, cases.data)
        build_marts(wh)
        yield World(wh, cases.places)


def test_every_case_has_countries_and_months_of_its_own():
    places = all_cases().places.values()
    countries = [c for p in places for c in p.countries]
    months = [m for p in places for m in p.months]
    assert len(set(countries)) == len(countries) and len(set(months)) == len(months)
    assert all(c.startswith("X") and len(c) == 2 for c in countries)


def test_only_months_with_data(world):
    p = world.places["only-months"]
    got = world.rows(
        "select scope_country, month from stakeholder_access_monthly where month between :a and :b",
        {"a": p.months[0], "b": p.months[-1]},
    )
    # 4 stakeholder types x (the country, NETWORK), for the one month with feedback only,
    # although the roster lists five
    assert sorted({(r["scope_country"], r["month"]) for r in got}) == [
        (wd.NETWORK, p.months[1]),
        (p.country, p.months[1]),
    ]
    assert len(got) == 8
    months = world.rows(
        "select distinct month from indicators_monthly where scope_country = :c", {"c": p.country}
    )
    assert [r["month"] for r in months] == [p.months[1]]


@pytest.mark.parametrize(("i", "scores", "expected"), [(i, *c) for i, c in enumerate(NPS_CASES)])
def test_nps_edge_cases(world, i, scores, expected):
    p = world.places[f"nps-{i}"]
    got = world.rows(
        "select scope_country, nps from indicators_monthly where month = :m order by scope_country",
        {"m": p.months[0]},
    )
    assert [(r["scope_country"], r["nps"]) for r in got] == [
        (wd.NETWORK, expected),
        (p.country, expected),
    ]
    n = world.rows(
        "select n from indicator_value where indicator = 'nps' and scope_country = :c",
        {"c": p.country},
    )
    assert [r["n"] for r in n] == [sum(s is not None for s in scores)]


def test_unanswered_question_gives_null_and_no_long_row(world):
    c = world.places["unanswered"].country
    wide = world.rows("select * from indicators_monthly where scope_country = :c", {"c": c})[0]
    assert (
        wide["nps"] is None and wide["skill_gain_rate"] is None and wide["connections_sum"] is None
    )
    assert wide["satisfaction_mean"] == 4.0 and wide["response_rate"] == 0.2
    names = {
        r["indicator"]
        for r in world.rows(
            "select indicator from indicator_value where scope_country = :c", {"c": c}
        )
    }
    assert "nps" not in names and {"satisfaction_mean", "response_rate"} <= names


def test_skill_gain_counts_partly_half(world):
    c = world.places["skill-gain"].country
    got = world.rows(
        "select skill_gain_rate from indicators_monthly where scope_country = :c", {"c": c}
    )
    assert [r["skill_gain_rate"] for r in got] == [0.5]  # (1 + 0.5 + 0 + 0.5) / 4


def test_network_pools_members_not_country_means(world):
    p = world.places["network-pools"]
    net = world.rows(
        "select * from indicators_monthly where scope_country = :n and month = :m",
        {"n": wd.NETWORK, "m": p.months[0]},
    )[0]
    assert net["active_members"] == 10 and net["respondents"] == 3
    assert net["response_rate"] == 0.3
    assert net["satisfaction_mean"] == 3.0  # (5+1+3)/3, not mean(5, 2)
    assert net["connections_sum"] == 4 and wd.close(net["connections_mean"], 4 / 3)


def test_cumulative_connections_and_needs_coverage(world):
    c = world.places["cumulative"].country
    got = world.rows(
        "select month, connections_cumulative, needs_coverage from indicators_monthly "
        "where scope_country = :c order by month",
        {"c": c},
    )
    assert [r["connections_cumulative"] for r in got] == [2, 2, 7]
    # first month: b (visibility) of 3 baseline members; second: no topic; third: a and b
    # (scaling)
    assert [r["needs_coverage"] for r in got] == pytest.approx([1 / 3, 0.0, 2 / 3])


def test_capability_growth_needs_both_waves(world):
    c = world.places["both-waves"].country
    got = world.rows("select * from capability_growth where scope_country = :c", {"c": c})
    assert [
        (r["area"], r["members"], r["baseline_mean"], r["endline_mean"], r["growth_mean"])
        for r in got
    ] == [("scaling", 2, 2.5, 3.5, 1.0)]


def test_worked_example_of_docs_indicators_md(world):
    """The numbers of the worked example in docs/indicators.md."""
    p = world.places["worked-example"]
    params = {"c": p.country, "m": p.months[2]}
    got = world.rows(
        "select * from indicators_monthly where scope_country = :c and month = :m", params
    )[0]
    assert got["response_rate"] == 0.625
    assert got["peer_session_rate"] == 0.8 and got["workshop_rate"] == 0.5
    assert got["satisfaction_mean"] == pytest.approx(3.2)
    assert got["satisfaction_low_share"] == 0.4 and got["relevance_mean"] == pytest.approx(3.6)
    assert got["nps"] == 0.0 and got["skill_gain_rate"] == pytest.approx(0.6)
    assert (got["connections_sum"], got["connections_mean"], got["connections_cumulative"]) == (
        6,
        1.2,
        15,
    )
    assert (got["access_public_sector_rate"], got["access_corporate_rate"]) == (0.25, 0.5)
    assert (got["access_impact_investor_rate"], got["access_any_rate"]) == (0.0, 0.5)
    assert got["needs_coverage"] == pytest.approx(2 / 6)
    trend = world.rows(
        "select * from indicator_value where scope_country = :c and month = :m "
        "and indicator = 'satisfaction_mean'",
        params,
    )[0]
    assert trend["prev_value"] == pytest.approx(4.2) and trend["delta"] == pytest.approx(-1.0)
    assert trend["mean_3m"] == pytest.approx(4.1) and trend["running_mean"] == pytest.approx(3.8)
    assert trend["n"] == 5


def test_failed_dbt_test_names_test_and_rows_and_stops_downstream(built):
    """Bad input: a need outside the canonical list fails the staging model's dbt test;
    the error names the test and the offending row count, and the marts built from it keep
    their previous contents."""
    wh, _ = built
    before = snapshot(wh, "need_coverage_status")
    assert before
    member = wh.query("select country, member_id from self_assessment where wave = 'baseline'")[0]
    wh.execute(
        "insert into self_assessment_need (country, wave, member_id, need) "
        "values (:c, 'baseline', :m, 'fundraising')",
        {"c": member[0], "m": member[1]},
    )
    # Without feedback a rebuilt need_coverage_status would be empty: it must not be rebuilt.
    wh.execute("delete from feedback")
    with pytest.raises(DbtBuildError) as err:
        build_marts(wh)
    msg = str(err.value)
    # once under the member's country and once under NETWORK
    assert "in_var_list_stg_baseline_need_need__capability_areas failed: 2 offending row(s)" in msg
    assert "not built (downstream of the failure)" in msg and "need_coverage_status" in msg
    assert snapshot(wh, "need_coverage_status") == before
    # In the DAG, Cosmos turns the same dbt result into the failing task's error.
    import airflow  # noqa: F401 (Airflow first: its plugin loading imports cosmos itself)
    from cosmos.dbt.runner import handle_exception_if_needed
    from cosmos.exceptions import CosmosDbtRunError

    with pytest.raises(
        CosmosDbtRunError,
        match=r"in_var_list_stg_baseline_need_need__capability_areas: Got 2 results",
    ):
        handle_exception_if_needed(err.value.result)


def test_broken_model_is_an_error_naming_the_model(warehouse, tmp_path, monkeypatch):
    import shutil

    from bsin.warehouse import dbt_project

    wh = warehouse
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "marts" / "zz_broken.sql").write_text(
        "-- grain: none\nselect no_such_column from {{ ref('indicators_monthly') }}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(dbt_project, "DBT_PROJECT_DIR", project)
    with pytest.raises(DbtBuildError, match=r"dbt model bsin\.zz_broken failed"):
        build_marts(wh)


def test_dbt_writes_no_debug_log_beside_a_run(tmp_path, monkeypatch):
    """dbt's debug-level dbt.log went to a folder deleted after the run and cost about
    0.6 s a build: no run writes it. (The failing-build tests above show that the error
    still names the failing node without it.)"""
    from contextlib import contextmanager

    from bsin.warehouse import dbt_project

    work = tmp_path / "work"

    @contextmanager
    def kept_workdir():
        (work / "target").mkdir(parents=True)
        yield work

    monkeypatch.setattr(dbt_project, "_workdir", kept_workdir)
    with open_warehouse("duckdb", tmp_path) as wh:
        wd.load(wh, wd.generated())
        assert "indicator_value" in build_marts(wh)
    logs = [p for p in (work / "logs").rglob("*") if p.is_file() and p.stat().st_size]
    assert logs == []
    assert (work / "target").is_dir()


def test_load_reference_data(warehouse):
    partners = load_partners()
    months = month_range(date(2022, 8, 1), date(2023, 8, 1))
    load_reference_data(warehouse, partners, months)
    load_reference_data(warehouse, partners, months)  # idempotent
    roster = rows(
        warehouse,
        "select country, count(*) as k, sum(active_members) as s from member_roster group by country",
    )
    expected = {p.country: (13, 13 * p.active_members) for p in partners.partners}
    assert {r["country"]: (r["k"], r["s"]) for r in roster} == expected
    topics = load_topics().topics_by_month()
    got = rows(warehouse, "select month, topic from programme_topic")
    assert sorted((r["month"], r["topic"]) for r in got) == sorted(
        (m, t) for m, ts in topics.items() for t in ts
    )


def test_roster_uses_per_month_override(warehouse):
    partners = load_partners()
    first = partners.partners[0]
    changed = first.model_copy(update={"active_members_by_month": {"2023-02": 3}})
    cfg = partners.model_copy(update={"partners": [changed, *partners.partners[1:]]})
    load_reference_data(warehouse, cfg, [date(2023, 1, 1), date(2023, 2, 1)])
    got = rows(
        warehouse,
        "select month, active_members from member_roster where country = :c order by month",
        {"c": first.country},
    )
    assert [r["active_members"] for r in got] == [first.active_members, 3]


def test_shipped_topics_calendar_covers_the_pilot():
    topics = load_topics().topics_by_month()
    assert sorted(topics) == month_range(date(2022, 8, 1), date(2023, 8, 1))
    assert all(topics.values())
    assert {t for ts in topics.values() for t in ts} == set(wd.NEEDS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'months:\n  "2023-01": {topics: [fundraising]}\n',
            r"months\.2023-01\.topics: unknown topic",
        ),
        ("months:\n  2023-13: {topics: [scaling]}\n", "not YYYY-MM"),
        ('months:\n  "2023-01": {topics: [scaling], colour: red}\n', r"colour: unknown key"),
        ("monthz: {}\n", r"months: required key is missing"),
    ],
)
def test_topics_errors_name_file_key_and_fix(tmp_path: Path, text, message):
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        load_topics(path)
    assert str(path) in str(err.value)


@pytest.mark.postgres
def test_duckdb_and_postgres_give_the_same_numbers(tmp_path):
    from bsin.warehouse.db import Warehouse
    from tests.conftest import _drop_pg_schema, _pg_warehouse

    data = wd.generated(seed=11)
    duck = Warehouse.from_uri(f"duckdb:///{tmp_path / 'w.duckdb'}")
    pg = _pg_warehouse()
    try:
        for wh in (duck, pg):
            wh.migrate()
            wd.load(wh, data)
            build_marts(wh)
        for table in MART_TABLES:
            a, b = snapshot(duck, table), snapshot(pg, table)
            assert len(a) == len(b) > 0, table
            for ra, rb in zip(a, b, strict=True):
                assert all(
                    wd.close(x, y) if isinstance(x, float) or isinstance(y, float) else x == y
                    for x, y in zip(ra, rb, strict=True)
                ), (table, ra, rb)
    finally:
        duck.close()
        _drop_pg_schema(pg)


def test_marts_frame_types_are_plain_python(built_once):
    wh, _ = built_once
    df = wh.query_df("select month, respondents, nps from indicators_monthly")
    assert isinstance(df.loc[0, "month"], date)
    assert not any(isinstance(v, pd.Timestamp) for v in df["month"])
