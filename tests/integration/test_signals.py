"""Adaptation signals: rules from YAML fire exactly at their thresholds, on both backends."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bsin.core.config import ConfigError
from bsin.core.languages import available_languages
from bsin.reporting.signals import SIGNAL_COLUMNS, evaluate_signals, load_signals, signals_for
from bsin.warehouse.dbt_project import build_marts
from tests.support import warehouse_data as wd

M1, M2, M3, M4 = (date(2023, m, 1) for m in range(1, 5))
#: Fewest answers behind an NPS for the shipped "NPS negative" rule to fire.
NPS_MIN_N = load_signals().rule("nps_negative").min_n


def fired(wh, month, config=None) -> set[tuple[str, str, str]]:
    """(country, rule_id, subject) of the signals that fire in ``month``."""
    df = evaluate_signals(wh, month, config)
    return set(zip(df["country"], df["rule_id"], df["subject"], strict=True))


def scenario(wh, per_month: dict[date, list[dict]], roster: int = 5, needs=None, topics=None):
    """SE feedback rows per month (each dict = one member's answers), then build marts."""
    data = wd.Canonical()
    data.roster = {("SE", m): roster for m in per_month}
    for m, answers in per_month.items():
        for i, a in enumerate(answers):
            data.add_feedback("SE", m, f"m{i}", **a)
    for i, member_needs in enumerate(needs or []):
        data.add_self_assessment("SE", "baseline", f"m{i}", member_needs, {})
    data.topics = topics or {}
    wd.load(wh, data)
    build_marts(wh)


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


@pytest.mark.parametrize(("respondents", "fires"), [(3, False), (2, True), (5, False)])
def test_response_rate_threshold(warehouse, respondents, fires):
    # 3 of 5 = 0.6 exactly: "under 60 %" does not fire at 60 %.
    scenario(warehouse, {M1: [{"satisfaction": 4}] * respondents})
    assert (("SE", "response_rate_low", "") in fired(warehouse, M1)) is fires


@pytest.mark.parametrize(
    ("scores", "fires"),
    [([9, 6], False), ([9, 6, 6], True), ([7, 8], False), ([0], True)],
)
def test_nps_below_zero(warehouse, scores, fires):
    # Repeated until the NPS rests on enough answers for the rule to consider it.
    scores = scores * -(-NPS_MIN_N // len(scores))
    scenario(warehouse, {M1: [{"recommend": s} for s in scores]}, roster=len(scores))
    assert (("SE", "nps_negative", "") in fired(warehouse, M1)) is fires


def test_nps_on_too_few_answers_does_not_fire(warehouse):
    # -100 over one answer short of the minimum: the report shows it with its n, no signal.
    scores = [0] * (NPS_MIN_N - 1)
    scenario(warehouse, {M1: [{"recommend": s} for s in scores]}, roster=len(scores))
    assert ("SE", "nps_negative", "") not in fired(warehouse, M1)


@pytest.mark.parametrize(("scores", "fires"), [([3, 3], False), ([2, 4], False), ([2, 3], True)])
def test_relevance_mean_under_three(warehouse, scores, fires):
    scenario(warehouse, {M1: [{"relevance": s} for s in scores]}, roster=2)
    assert (("SE", "relevance_low", "") in fired(warehouse, M1)) is fires


@pytest.mark.parametrize(
    ("april", "fires"),
    [
        ([3, 4], True),  # mean 3.5 = exactly 0.5 below the 3-month mean of 4.0
        ([4, 3, 4, 3, 4], False),  # 3.6: only 0.4 below
        ([1, 2], True),
    ],
)
def test_satisfaction_drop_against_own_three_month_mean(warehouse, april, fires):
    history = {M1: [{"satisfaction": 4}] * 2, M2: [{"satisfaction": 5}, {"satisfaction": 3}]}
    history[M3] = [{"satisfaction": 4}] * 3
    history[M4] = [{"satisfaction": s} for s in april]
    scenario(warehouse, history)
    signals = evaluate_signals(warehouse, M4)
    row = signals[signals["rule_id"] == "satisfaction_drop"]
    assert (len(row) == 1) is fires
    if fires:
        mean_april = sum(april) / len(april)
        assert row.iloc[0]["observed"] == pytest.approx(mean_april - 4.0)
        assert row.iloc[0]["value"] == pytest.approx(mean_april)
        assert f"{mean_april:.1f} of 5" in row.iloc[0]["recommendation"]


def test_satisfaction_drop_needs_history(warehouse):
    scenario(warehouse, {M1: [{"satisfaction": 1}] * 5})
    assert not {s for s in fired(warehouse, M1) if s[1] == "satisfaction_drop"}


def test_uncovered_need_fires_until_a_topic_covers_it(warehouse):
    # 5 baseline members: scaling named by 2 (40 %), visibility by 1 (20 %),
    # team_leadership by 3 (60 %) but covered in January.
    needs = [
        ["scaling", "team_leadership"],
        ["scaling", "team_leadership"],
        ["visibility", "team_leadership"],
        [],
        [],
    ]
    months = {m: [{"satisfaction": 4}] * 5 for m in (M1, M2, M3)}
    scenario(
        warehouse,
        months,
        needs=needs,
        topics={M1: ["team_leadership"], M3: ["scaling"]},
    )
    assert {s for s in fired(warehouse, M2) if s[1] == "uncovered_need"} == {
        ("SE", "uncovered_need", "scaling")
    }
    assert not {s for s in fired(warehouse, M3) if s[1] == "uncovered_need"}
    row = signals_for(warehouse, "SE", M2).iloc[0]
    assert row["value"] == pytest.approx(0.4) and row["indicator"] == "need_share"
    assert '40% of your members named "scaling"' in row["recommendation"]


def test_network_scope_and_new_rule_need_only_yaml(warehouse, tmp_path):
    scenario(warehouse, {M1: [{"new_skill": "no"}, {"new_skill": "partly"}]})
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


def test_evaluate_replaces_only_its_month(warehouse):
    scenario(warehouse, {M1: [{"satisfaction": 4}], M2: [{"satisfaction": 4}]})
    evaluate_signals(warehouse, M1)
    evaluate_signals(warehouse, M2)
    first = warehouse.query_df("select * from adaptation_signal order by month, country, rule_id")
    evaluate_signals(warehouse, M2)  # idempotent
    again = warehouse.query_df("select * from adaptation_signal order by month, country, rule_id")
    assert first.equals(again)
    assert sorted(set(first["month"])) == [M1, M2]
    assert list(first.columns) == SIGNAL_COLUMNS


def test_signals_for_translates_and_falls_back(warehouse, tmp_path):
    scenario(warehouse, {M1: [{"satisfaction": 4}]})
    evaluate_signals(warehouse, M1)
    sv = signals_for(warehouse, "SE", M1, "sv")
    assert sv.iloc[0]["rule_id"] == "response_rate_low"
    # Numbers in the advice follow the language's CLDR format (no-break space before %).
    assert sv.iloc[0]["recommendation"].startswith("Bara 20\u00a0% av de aktiva medlemmarna")
    en = signals_for(warehouse, "SE", M1, "en")
    assert en.iloc[0]["recommendation"].startswith("Only 20% of active members")
    # A rule no longer in the config keeps the stored English text.
    other = write_rules(
        tmp_path,
        'rules:\n  - {id: other, indicator: nps, threshold: 0, recommendation: "x"}\n',
    )
    kept = signals_for(warehouse, "SE", M1, "sv", other)
    assert kept.iloc[0]["recommendation"] == en.iloc[0]["recommendation"]
    assert signals_for(warehouse, "EE", M1).empty


def test_signals_on_generated_data_match_reference(warehouse):
    data = wd.generated()
    wd.load(warehouse, data)
    build_marts(warehouse)
    trends = wd.reference_trends(wd.reference_indicators(data), ["response_rate", "nps"])
    month = wd.MONTHS[-1]
    got = fired(warehouse, month)
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
