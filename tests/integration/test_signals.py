"""Adaptation signals: rules from YAML fire exactly at their thresholds, on both backends.

Every threshold case is one invented country of one shared warehouse, built once per
backend: signals are computed per country, so the cases cannot see each other, and a dbt
build of the whole project costs seconds that forty separate builds would multiply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from babel.numbers import format_percent

from bsin.core.config import ConfigError
from bsin.core.languages import available_languages
from bsin.reporting.signals import SIGNAL_COLUMNS, evaluate_signals, load_signals, signals_for
from bsin.warehouse.dbt_project import build_marts
from tests.conftest import BACKENDS, open_warehouse
from tests.support import warehouse_data as wd

M1, M2, M3, M4 = MONTHS = [date(2023, m, 1) for m in range(1, 5)]
#: Fewest answers behind an NPS for the shipped "NPS negative" rule to fire.
NPS_MIN_N = load_signals().rule("nps_negative").min_n


@dataclass(frozen=True)
class Case:
    """One country's answers: per month, one dict of answers per member."""

    per_month: dict[date, list[dict]]
    roster: int = 5
    needs: list[list[str]] = field(default_factory=list)


def _nps_case(scores: list[int]) -> Case:
    # Repeated until the NPS rests on enough answers for the rule to consider it.
    scores = scores * -(-NPS_MIN_N // len(scores))
    return Case({M1: [{"recommend": s} for s in scores]}, roster=len(scores))


def _drop_case(april: list[int]) -> Case:
    history = {M1: [{"satisfaction": 4}] * 2, M2: [{"satisfaction": 5}, {"satisfaction": 3}]}
    history[M3] = [{"satisfaction": 4}] * 3
    history[M4] = [{"satisfaction": s} for s in april]
    return Case(history)


# 3 of 5 = 0.6 exactly: "under 60 %" does not fire at 60 %.
RESPONSE_RATE = [(3, False), (2, True), (5, False)]
NPS = [([9, 6], False), ([9, 6, 6], True), ([7, 8], False), ([0], True)]
RELEVANCE = [([3, 3], False), ([2, 4], False), ([2, 3], True)]
SATISFACTION_DROP = [
    ([3, 4], True),  # mean 3.5 = exactly 0.5 below the 3-month mean of 4.0
    ([4, 3, 4, 3, 4], False),  # 3.6: only 0.4 below
    ([1, 2], True),
]
# 5 baseline members: scaling named by 2 (40 %), visibility by 1 (20 %), team_leadership
# by 3 (60 %) but covered in January. Topics are the programme's, the same for every case.
UNCOVERED_NEEDS = [
    ["scaling", "team_leadership"],
    ["scaling", "team_leadership"],
    ["visibility", "team_leadership"],
    [],
    [],
]
TOPICS = {M1: ["team_leadership"], M3: ["scaling"]}

CASES: dict[str, Case] = {
    **{f"rate-{n}": Case({M1: [{"satisfaction": 4}] * n}) for n, _ in RESPONSE_RATE},
    **{f"nps-{scores}": _nps_case(scores) for scores, _ in NPS},
    # -100 over one answer short of the minimum: the report shows it with its n, no signal.
    "nps-too-few": Case({M1: [{"recommend": 0}] * (NPS_MIN_N - 1)}, roster=NPS_MIN_N - 1),
    **{
        f"relevance-{scores}": Case({M1: [{"relevance": s} for s in scores]}, roster=2)
        for scores, _ in RELEVANCE
    },
    **{f"drop-{april}": _drop_case(april) for april, _ in SATISFACTION_DROP},
    "drop-no-history": Case({M1: [{"satisfaction": 1}] * 5}),
    "uncovered": Case({m: [{"satisfaction": 4}] * 5 for m in (M1, M2, M3)}, needs=UNCOVERED_NEEDS),
    "one-of-five": Case({M1: [{"satisfaction": 4}]}),
}
#: Invented country codes (ISO 3166's user-assigned X range), one per case.
COUNTRY = {name: f"X{chr(ord('A') + i)}" for i, name in enumerate(CASES)}


def canonical(cases: dict[str, Case], topics: dict[date, list[str]]) -> wd.Canonical:
    """The canonical rows of ``cases`` (country code -> its case)."""
    data = wd.Canonical()
    for country, case in cases.items():
        data.roster.update({(country, m): case.roster for m in case.per_month})
        for m, answers in case.per_month.items():
            for i, a in enumerate(answers):
                data.add_feedback(country, m, f"m{i}", **a)
        for i, member_needs in enumerate(case.needs):
            data.add_self_assessment(country, "baseline", f"m{i}", member_needs, {})
    data.topics = topics
    return data


@dataclass
class World:
    """The shared warehouse and the signals evaluated for each month."""

    wh: object
    signals: dict[date, pd.DataFrame]

    def fired(self, case: str, month: date = M1) -> set[tuple[str, str]]:
        """(rule_id, subject) of the signals that fired for ``case``'s country in ``month``."""
        df = self.of(case, month)
        return set(zip(df["rule_id"], df["subject"], strict=True))

    def of(self, case: str, month: date) -> pd.DataFrame:
        """The signal rows of ``case``'s country in ``month``."""
        df = self.signals[month]
        return df[df["country"] == COUNTRY[case]]


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    """Every case in one warehouse per backend, marts built and each month's signals
    evaluated once."""
    with open_warehouse(request.param, tmp_path_factory.mktemp("signals")) as wh:
        wd.load(wh, canonical({COUNTRY[name]: case for name, case in CASES.items()}, TOPICS))
        build_marts(wh)
        yield World(wh, {m: evaluate_signals(wh, m) for m in MONTHS})


def write_rules(tmp_path: Path, text: str):
    path = tmp_path / "signals.yaml"
    path.write_text(text, encoding="utf-8")
    return load_signals(path)


def test_shipped_rules_cover_the_spec_examples():
    rules = {r.id: r for r in load_signals().rules}
    assert rules["satisfaction_drop"].indicator == "satisfaction_mean"
    assert (rules["satisfaction_drop"].measure, rules["satisfaction_drop"].threshold) == (
        "vs_mean_3m",
        -0.5,
    )
    assert (rules["response_rate_low"].comparison, rules["response_rate_low"].threshold) == (
        "<",
        0.6,
    )
    assert (rules["nps_negative"].indicator, rules["nps_negative"].threshold) == ("nps", 0)
    assert (rules["relevance_low"].indicator, rules["relevance_low"].threshold) == (
        "relevance_mean",
        3,
    )
    assert rules["uncovered_need"].type == "uncovered_need"
    assert rules["uncovered_need"].threshold == 0.4
    assert rules["nps_negative"].min_n >= 10
    for rule in rules.values():
        assert set(rule.translations) == set(available_languages()) - {"en"}, rule.id


def test_every_case_has_a_country_of_its_own(world):
    # The cases are apart only if each one's rows are under its own code.
    assert len(set(COUNTRY.values())) == len(CASES)
    for m in MONTHS:
        assert set(world.signals[m]["country"]) <= {*COUNTRY.values(), wd.NETWORK}


@pytest.mark.parametrize(("respondents", "fires"), RESPONSE_RATE)
def test_response_rate_threshold(world, respondents, fires):
    assert (("response_rate_low", "") in world.fired(f"rate-{respondents}")) is fires


@pytest.mark.parametrize(("scores", "fires"), NPS)
def test_nps_below_zero(world, scores, fires):
    assert (("nps_negative", "") in world.fired(f"nps-{scores}")) is fires


def test_nps_on_too_few_answers_does_not_fire(world):
    assert ("nps_negative", "") not in world.fired("nps-too-few")


@pytest.mark.parametrize(("scores", "fires"), RELEVANCE)
def test_relevance_mean_under_three(world, scores, fires):
    assert (("relevance_low", "") in world.fired(f"relevance-{scores}")) is fires


@pytest.mark.parametrize(("april", "fires"), SATISFACTION_DROP)
def test_satisfaction_drop_against_own_three_month_mean(world, april, fires):
    signals = world.of(f"drop-{april}", M4)
    row = signals[signals["rule_id"] == "satisfaction_drop"]
    assert (len(row) == 1) is fires
    if fires:
        mean_april = sum(april) / len(april)
        assert row.iloc[0]["observed"] == pytest.approx(mean_april - 4.0)
        assert row.iloc[0]["value"] == pytest.approx(mean_april)
        assert f"{mean_april:.1f} of 5" in row.iloc[0]["recommendation"]


def test_satisfaction_drop_needs_history(world):
    assert not {s for s in world.fired("drop-no-history") if s[0] == "satisfaction_drop"}


def test_uncovered_need_fires_until_a_topic_covers_it(world):
    assert {s for s in world.fired("uncovered", M2) if s[0] == "uncovered_need"} == {
        ("uncovered_need", "scaling")
    }
    assert not {s for s in world.fired("uncovered", M3) if s[0] == "uncovered_need"}
    row = signals_for(world.wh, COUNTRY["uncovered"], M2).iloc[0]
    assert row["value"] == pytest.approx(0.4) and row["indicator"] == "need_share"
    assert '40% of your members named "scaling"' in row["recommendation"]


def test_network_scope_and_new_rule_need_only_yaml(warehouse, tmp_path):
    # A warehouse of its own: a network-scope rule reads every country's answers.
    case = Case({M1: [{"new_skill": "no"}, {"new_skill": "partly"}]})
    wd.load(warehouse, canonical({"XA": case}, {}))
    build_marts(warehouse)
    config = write_rules(
        tmp_path,
        """
rules:
  - id: skills_stalling
    indicator: skill_gain_rate
    comparison: "<"
    threshold: 0.5
    scope: network
    recommendation: "Skill gain is {value:.0%} network-wide in {month}."
  - id: few_answers
    indicator: skill_gain_rate
    comparison: "<"
    threshold: 0.5
    min_n: 3
    recommendation: "never: only 2 answers"
""",
    )
    df = evaluate_signals(warehouse, M1, config)
    assert df[["country", "rule_id"]].values.tolist() == [["NETWORK", "skills_stalling"]]
    assert df.iloc[0]["recommendation"] == "Skill gain is 25% network-wide in 2023-01."


def test_evaluate_replaces_only_its_month(world):
    table = "select * from adaptation_signal order by month, country, rule_id, subject"
    first = world.wh.query_df(table)
    evaluate_signals(world.wh, M2)  # idempotent, and the other months' rows stay
    again = world.wh.query_df(table)
    assert first.equals(again)
    fired_months = {m for m, df in world.signals.items() if len(df)}
    assert set(first["month"]) == fired_months and len(fired_months) > 1
    assert list(first.columns) == SIGNAL_COLUMNS


TRANSLATED = sorted(set(available_languages()) - {"en"})


@pytest.mark.parametrize("language", TRANSLATED)
def test_signals_for_translates_and_falls_back(world, tmp_path, language):
    country = COUNTRY["one-of-five"]
    rule = load_signals().rule("response_rate_low")
    advice = signals_for(world.wh, country, M1, language)
    assert advice.iloc[0]["rule_id"] == "response_rate_low"
    # The language's own text, its numbers in the language's CLDR format (Babel's, which
    # puts a no-break space before "%" in several languages).
    text = advice.iloc[0]["recommendation"]
    opening = " ".join(rule.translations[language].split("{")[0].split())
    assert text.startswith(opening)
    assert format_percent(0.2, locale=language) in text
    en = signals_for(world.wh, country, M1, "en")
    assert en.iloc[0]["recommendation"].startswith("Only 20% of active members")
    assert text != en.iloc[0]["recommendation"]
    # A rule no longer in the config keeps the stored English text.
    other = write_rules(
        tmp_path,
        'rules:\n  - {id: other, indicator: nps, threshold: 0, recommendation: "x"}\n',
    )
    kept = signals_for(world.wh, country, M1, language, other)
    assert kept.iloc[0]["recommendation"] == en.iloc[0]["recommendation"]
    # A country whose answers fired nothing has no advice, whatever the others got.
    assert signals_for(world.wh, COUNTRY["rate-5"], M1, language).empty


def test_signals_on_generated_data_match_reference(warehouse):
    data = wd.generated()
    wd.load(warehouse, data)
    build_marts(warehouse)
    trends = wd.reference_trends(wd.reference_indicators(data), ["response_rate", "nps"])
    month = wd.MONTHS[-1]
    df = evaluate_signals(warehouse, month)
    got = set(zip(df["country"], df["rule_id"], df["subject"], strict=True))
    want = {
        (scope, "response_rate_low", "")
        for (scope, m, name), t in trends.items()
        if name == "response_rate" and m == month and scope != "NETWORK" and t["value"] < 0.6
    } | {
        (scope, "nps_negative", "")
        for (scope, m, name), t in trends.items()
        if name == "nps"
        and m == month
        and scope != "NETWORK"
        and t["value"] < 0
        and t["n"] >= NPS_MIN_N
    }
    assert {s for s in got if s[1] in ("response_rate_low", "nps_negative")} == want


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "{id: a, indicator: happiness, threshold: 1, recommendation: x}",
            "unknown indicator 'happiness'",
        ),
        ("{id: a, threshold: 1, recommendation: x}", "needs 'indicator'"),
        (
            "{id: a, indicator: nps, threshold: 1, recommendation: 'NPS {score}'}",
            r"unknown placeholder\(s\) \['score'\]",
        ),
        ("{id: a, indicator: nps, threshold: 1, recommendation: '{subject:.1f}'}", "format spec"),
        (
            "{id: a, indicator: nps, threshold: 1, recommendation: x, translations: {de: y}}",
            "translation language 'de'",
        ),
        ("{id: a, indicator: nps, comparison: '=', threshold: 1, recommendation: x}", "comparison"),
        (
            "{id: a, type: uncovered_need, measure: delta, threshold: 0.4, recommendation: x}",
            "remove 'measure'",
        ),
        (
            "{id: a, type: uncovered_need, threshold: 40, recommendation: x}",
            "share: write it as 0..1",
        ),
        ("{id: A-1, indicator: nps, threshold: 1, recommendation: x}", r"rules\[0\]\.id"),
        (
            "{id: a, indicator: nps, threshold: 1, recommendation: x, colour: red}",
            "colour: unknown key",
        ),
    ],
)
def test_invalid_rules_name_file_key_and_fix(tmp_path, rule, message):
    with pytest.raises(ConfigError, match=message) as err:
        write_rules(tmp_path, f"rules:\n  - {rule}\n")
    assert "signals.yaml" in str(err.value)


def test_duplicate_rule_ids_are_refused(tmp_path):
    rule = "{id: a, indicator: nps, threshold: 0, recommendation: x}"
    with pytest.raises(ConfigError, match=r"rule id\(s\) \['a'\] used twice"):
        write_rules(tmp_path, f"rules:\n  - {rule}\n  - {rule}\n")
