"""The sample data generator: determinism, the committed output, and what the data promises."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from bsin_dev.sample_data import (
    DATE_QUESTION_COUNTRIES,
    DIP_COUNTRY,
    EDIT_COUNTRY,
    generate_network,
    generate_sample,
)
from bsin_dev.sample_texts import GENERIC_LANGUAGE, TEXTS, texts_for

from bsin.core.config import load_partners, load_programme
from bsin.core.months import add_months, feedback_month_for, month_range, parse_rfc3339
from bsin.core.paths import SAMPLE_DIR, config_dir
from bsin.transform.mapping import NEEDS, load_mapping

HEX8 = re.compile(r"^[0-9a-f]{8}$")


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """The sample generated afresh into a temporary folder (config copied from the project)."""
    root = tmp_path_factory.mktemp("sample")
    cfg = root / "config"
    cfg.mkdir()
    for name in ("partners.yaml", "programme.yaml"):
        shutil.copy(config_dir() / name, cfg / name)
    generate_sample(root / "emulator", config=cfg)
    return root


@pytest.fixture(scope="module")
def partners():
    return load_partners()


def responses(form_id: str) -> list[dict]:
    return json.loads((SAMPLE_DIR / "responses" / f"{form_id}.json").read_text("utf-8"))


def form(form_id: str) -> dict:
    return json.loads((SAMPLE_DIR / "forms" / f"{form_id}.json").read_text("utf-8"))


def answer(resp: dict, qid: str) -> list[str] | None:
    a = resp["answers"].get(qid)
    return [v["value"] for v in a["textAnswers"]["answers"]] if a else None


def _form_count() -> int:
    return sum(len(p.form_kinds) for p in load_partners().partners)


def test_regeneration_is_byte_identical(generated, tmp_path):
    first = files_of(generated)
    generate_sample(generated / "emulator", config=generated / "config")
    assert files_of(generated) == first
    # forms, responses, superseded, mappings, plus the two copied config files
    edited = int(EDIT_COUNTRY in load_partners().countries)
    assert len(first) == _form_count() * 2 + edited + _form_count() + 2


def test_committed_sample_and_mappings_match_the_generator(generated):
    # Anyone changing the generator must regenerate (make sample-data) and commit the output.
    committed = files_of(SAMPLE_DIR)
    committed.pop("README.md")
    assert files_of(generated / "emulator") == committed
    mappings = files_of(config_dir() / "mappings")
    assert files_of(generated / "config" / "mappings") == mappings


def test_command_line(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    for name in ("partners.yaml", "programme.yaml"):
        shutil.copy(config_dir() / name, cfg / name)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bsin_dev.sample_data",
            "--out",
            str(tmp_path / "out"),
            "--config",
            str(cfg),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    served = sum(
        len(responses(p.form_id(k))) for p in load_partners().partners for k in p.form_kinds
    )
    assert f"{_form_count()} forms with {served} responses" in out.stdout
    assert len(list((cfg / "mappings").glob("*.yaml"))) == _form_count()


def test_members_months_and_submission_windows(partners):
    programme = load_programme()
    months = month_range(programme.first_month, programme.last_month)
    assert len(months) == 13 and months[0] == date(2022, 8, 1) and months[-1] == date(2023, 8, 1)
    members = {}
    for p in partners.partners:
        rows = responses(p.forms.monthly)
        emails = {r["respondentEmail"] for r in rows}
        members[p.country] = len(emails)
        assert all(re.fullmatch(r"[a-z]+\.[a-z]+[0-9]*@example\.org", e) for e in emails), emails
        for r in rows:
            ts = parse_rfc3339(r["lastSubmittedTime"])
            month = feedback_month_for(ts, p.timezone, programme.grace_days)
            assert month in months
            local = ts.astimezone(ZoneInfo(p.timezone)).date()
            late_in_month = local.replace(day=1) == month and local.day >= 22
            early_next = local.replace(day=1) == add_months(month, 1) and local.day <= 5
            assert late_in_month or early_next, (p.country, r["lastSubmittedTime"])
    assert members == {p.country: p.active_members for p in partners.partners}


def test_non_response_is_realistic_and_varies(partners):
    programme = load_programme()
    rates = []
    for p in partners.partners:
        per_month = Counter(
            feedback_month_for(
                parse_rfc3339(r["lastSubmittedTime"]), p.timezone, programme.grace_days
            )
            for r in responses(p.forms.monthly)
        )
        rates += [1 - n / p.active_members for n in per_month.values()]
        assert len(per_month) == 13  # every country answers every month
        assert min(per_month.values()) >= 3  # enough respondents to show aggregates
    overall = statistics.mean(rates)
    assert 0.10 <= overall <= 0.20
    assert len({round(r, 3) for r in rates}) >= 5  # varies by country and month


def test_one_swedish_response_edited_later(partners):
    if EDIT_COUNTRY not in partners.countries:
        pytest.skip(f"the sample's edited response is {EDIT_COUNTRY}'s, not configured here")
    se = partners.partner(EDIT_COUNTRY)
    edited = [r for r in responses(se.forms.monthly) if r["createTime"] != r["lastSubmittedTime"]]
    assert len(edited) == 1
    [after] = edited
    [before] = json.loads((SAMPLE_DIR / "superseded" / f"{se.forms.monthly}.json").read_text())
    assert before["responseId"] == after["responseId"]
    assert before["createTime"] == after["createTime"] == before["lastSubmittedTime"]
    assert parse_rfc3339(after["lastSubmittedTime"]) > parse_rfc3339(before["lastSubmittedTime"])
    sat = load_mapping(EDIT_COUNTRY, "monthly").by_field["satisfaction"].question_id
    assert answer(before, sat) != answer(after, sat)
    for other in partners.partners:
        if other.country != EDIT_COUNTRY:
            rows = responses(other.forms.monthly)
            assert all(r["createTime"] == r["lastSubmittedTime"] for r in rows)


def test_latvian_satisfaction_dips_in_february_and_march_2023(partners):
    means = {}
    for p in partners.partners:
        sat = load_mapping(p.country, "monthly").by_field["satisfaction"].question_id
        by_month = defaultdict(list)
        for r in responses(p.forms.monthly):
            m = feedback_month_for(parse_rfc3339(r["lastSubmittedTime"]), p.timezone, 7)
            by_month[m].append(int(answer(r, sat)[0]))
        means[p.country] = {m: statistics.mean(v) for m, v in by_month.items()}
    if DIP_COUNTRY not in means:
        pytest.skip(f"the sample's dip is {DIP_COUNTRY}'s, not configured here")
    lv = means[DIP_COUNTRY]
    dip = [lv[date(2023, 2, 1)], lv[date(2023, 3, 1)]]
    rest = statistics.mean(
        v for m, v in lv.items() if m not in (date(2023, 2, 1), date(2023, 3, 1))
    )
    assert all(1.0 <= rest - d <= 2.0 for d in dip), (rest, dip)
    for country in set(means) - {DIP_COUNTRY}:
        assert min(means[country].values()) >= 3.0, country


def test_forms_look_like_google_and_speak_the_local_language(partners):
    diacritics = {"sv": "åäö", "et": "õäöü", "lv": "āēīūļņš", "lt": "ąčęėįšųūž"}
    for p in partners.partners:
        for kind in p.form_kinds:
            f = form(p.form_id(kind))
            assert f["formId"] == p.form_id(kind) and HEX8.match(f["revisionId"])
            ids = [i["itemId"] for i in f["items"]]
            qids = [
                q["questionId"]
                for i in f["items"]
                for q in (
                    [i["questionItem"]["question"]]
                    if "questionItem" in i
                    else i.get("questionGroupItem", {}).get("questions", [])
                )
            ]
            assert all(HEX8.match(x) for x in ids + qids)
            assert len(set(ids + qids)) == len(ids + qids)
            text = json.dumps(f, ensure_ascii=False)
            if p.form_language in diacritics:
                assert any(ch in text for ch in diacritics[p.form_language]), p.country
        # The form's own language, or the generic texts for a language the sample lacks.
        title = texts_for(p.form_language)["monthly"]["satisfaction"][0]
        assert title in json.dumps(form(p.forms.monthly), ensure_ascii=False)
        if p.form_language not in TEXTS:
            assert title == TEXTS[GENERIC_LANGUAGE]["monthly"]["satisfaction"][0]
        date_questions = [
            i
            for i in form(p.forms.monthly)["items"]
            if "dateQuestion" in i.get("questionItem", {}).get("question", {})
        ]
        assert len(date_questions) == (1 if p.country in DATE_QUESTION_COUNTRIES else 0)


def test_every_answer_is_covered_by_the_mapping(partners):
    """Each answer's question is mapped and each choice label is in the mapping (or Other)."""
    others = 0
    for p in partners.partners:
        for kind in p.form_kinds:
            mapping = load_mapping(p.country, kind)
            mapped_fields = set(mapping.by_field)
            if kind == "monthly":
                assert ("feedback_month" in mapped_fields) == (p.country in DATE_QUESTION_COUNTRIES)
            for r in responses(p.form_id(kind)):
                for qid, a in r["answers"].items():
                    q = mapping.by_question_id[qid]
                    for value in (v["value"] for v in a["textAnswers"]["answers"]):
                        if q.choices is None:
                            continue
                        if value not in q.choices:
                            assert q.other == "other", (p.country, q.field, value)
                            others += kind == "monthly"
    assert others >= 1  # somebody used the "Other" box


def test_self_assessments_baseline_everyone_endline_most_with_growth(partners):
    totals = Counter()
    growth = []
    with_form = [p for p in partners.partners if p.has_form("self_assessment")]
    for p in with_form:
        m = load_mapping(p.country, "self_assessment")
        wave_q = m.by_field["wave"].question_id
        waves = defaultdict(dict)
        for r in responses(p.forms.self_assessment):
            wave = m.by_field["wave"].choices[answer(r, wave_q)[0]]
            ts = parse_rfc3339(r["lastSubmittedTime"])
            assert (ts.year, ts.month) == ((2022, 8) if wave == "baseline" else (2023, 8))
            waves[wave][r["respondentEmail"]] = r
            assert len(m.by_field) == 11 and all(
                answer(r, m.by_field[f"capability_{a}"].question_id) for a in NEEDS
            )
        assert len(waves["baseline"]) == p.active_members
        assert p.active_members - 1 == len(waves["endline"])
        totals.update({w: len(v) for w, v in waves.items()})
        for email, end in waves["endline"].items():
            base = waves["baseline"][email]
            for area in NEEDS:
                qid = m.by_field[f"capability_{area}"].question_id
                growth.append(int(answer(end, qid)[0]) - int(answer(base, qid)[0]))
    assert totals == {
        "baseline": sum(p.active_members for p in with_form),
        "endline": sum(p.active_members - 1 for p in with_form),
    }
    assert min(growth) >= 0 and statistics.mean(growth) > 0.4


def test_network_generator_is_deterministic_and_pipeline_ready(tmp_path):
    a = generate_network(tmp_path / "a", countries=6, members_per_country=40, months=3)
    b = generate_network(tmp_path / "b", countries=6, members_per_country=40, months=3)
    assert files_of(a.emulator_dir) == files_of(b.emulator_dir)
    # NO (Norway) is the one YAML would read as false if it were not quoted.
    assert a.countries == ["SE", "EE", "LV", "LT", "FI", "NO"]
    partners = load_partners(a.config_dir / "partners.yaml")
    programme = load_programme(a.config_dir / "programme.yaml")
    assert programme.first_month == date(2022, 8, 1) and programme.last_month == date(2022, 10, 1)
    total = 0
    for p in partners.partners:
        assert p.active_members == 40
        mapping = load_mapping(p.country, "monthly", a.config_dir)
        rows = json.loads((a.emulator_dir / "responses" / f"{p.forms.monthly}.json").read_text())
        assert len(rows) == a.responses_by_form[p.forms.monthly]
        assert len({r["responseId"] for r in rows}) == len(rows)
        for r in rows:
            month = feedback_month_for(parse_rfc3339(r["lastSubmittedTime"]), p.timezone, 7)
            assert month in (date(2022, 8, 1), date(2022, 9, 1), date(2022, 10, 1))
            assert set(r["answers"]) <= set(mapping.by_question_id)
        total += len(rows)
    assert total == a.responses and 0.8 * 6 * 40 * 3 <= total <= 6 * 40 * 3


def test_network_generator_is_fast(tmp_path):
    started = datetime.now()
    net = generate_network(tmp_path, countries=4, members_per_country=2500, months=10)
    seconds = (datetime.now() - started).total_seconds()
    assert net.responses > 80_000
    # ~1M responses must take well under two minutes: 100k in a few seconds.
    assert seconds < 15, seconds


def test_any_country_and_language_gets_sample_data(tmp_path):
    """A partner in a language the sample has no texts for, without a self-assessment form."""
    import yaml

    cfg = tmp_path / "config"
    cfg.mkdir()
    shutil.copy(config_dir() / "programme.yaml", cfg / "programme.yaml")
    data = yaml.safe_load((config_dir() / "partners.yaml").read_text("utf-8"))
    data["partners"].append(
        {
            "country": "IS",
            "name": "Iceland",
            "organisation": "Félag samfélagsfyrirtækja",
            "form_language": "is",
            "timezone": "Atlantic/Reykjavik",
            "recipients": ["skyrsla@fs.example.org"],
            "active_members": 15,  # more members than generic names: numbered surnames
            "forms": {"monthly": "1IcElAnDmOnThLy000000000000000000000000000"},
        }
    )
    (cfg / "partners.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    summary = generate_sample(tmp_path / "emulator", config=cfg)
    partners = load_partners(cfg / "partners.yaml")
    iceland = partners.partner("IS")
    assert not (cfg / "mappings" / "is_self_assessment.yaml").exists()
    mapping = load_mapping("IS", "monthly", cfg)
    assert mapping.language == "is"
    generic = TEXTS[GENERIC_LANGUAGE]["monthly"]
    assert mapping.by_field["satisfaction"].title == generic["satisfaction"][0]
    rows = json.loads(
        (tmp_path / "emulator" / "responses" / f"{iceland.forms.monthly}.json").read_text()
    )
    assert summary.responses[iceland.forms.monthly] == len(rows) > 0
    assert len({r["respondentEmail"] for r in rows}) == 15
    for r in rows:
        assert set(r["answers"]) <= set(mapping.by_question_id)
