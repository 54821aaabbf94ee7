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

from bsin.config import load_partners, load_programme
from bsin.mapping import load_mapping
from bsin.months import add_months, feedback_month_for, month_range, parse_rfc3339
from bsin.paths import PROJECT_ROOT, SAMPLE_DIR, config_dir
from bsin.sample_data import generate_network, generate_sample

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


def test_regeneration_is_byte_identical(generated, tmp_path):
    first = files_of(generated)
    generate_sample(generated / "emulator", config=generated / "config")
    assert files_of(generated) == first
    # forms, responses, superseded, mappings, plus the two copied config files
    assert len(first) == 8 * 2 + 1 + 8 + 2


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
            "bsin.sample_data",
            "--out",
            str(tmp_path / "out"),
            "--config",
            str(cfg),
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(PROJECT_ROOT / "plugins"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "8 forms with 389 responses" in out.stdout
    assert len(list((cfg / "mappings").glob("*.yaml"))) == 8


def test_members_months_and_submission_windows(partners):
    programme = load_programme()
    months = month_range(programme.first_month, programme.last_month)
    assert len(months) == 13 and months[0] == date(2022, 8, 1) and months[-1] == date(2023, 8, 1)
    members = {}
    for p in partners.partners:
        rows = responses(p.forms.monthly)
        emails = {r["respondentEmail"] for r in rows}
        members[p.country] = len(emails)
        assert all(re.fullmatch(r"[a-z]+\.[a-z]+@example\.org", e) for e in emails), emails
        for r in rows:
            ts = parse_rfc3339(r["lastSubmittedTime"])
            month = feedback_month_for(ts, p.timezone, programme.grace_days)
            assert month in months
            local = ts.astimezone(ZoneInfo(p.timezone)).date()
            late_in_month = local.replace(day=1) == month and local.day >= 22
            early_next = local.replace(day=1) == add_months(month, 1) and local.day <= 5
            assert late_in_month or early_next, (p.country, r["lastSubmittedTime"])
    assert members == {"SE": 8, "EE": 8, "LV": 7, "LT": 7}


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
    se = partners.partner("SE")
    edited = [r for r in responses(se.forms.monthly) if r["createTime"] != r["lastSubmittedTime"]]
    assert len(edited) == 1
    [after] = edited
    [before] = json.loads((SAMPLE_DIR / "superseded" / f"{se.forms.monthly}.json").read_text())
    assert before["responseId"] == after["responseId"]
    assert before["createTime"] == after["createTime"] == before["lastSubmittedTime"]
    assert parse_rfc3339(after["lastSubmittedTime"]) > parse_rfc3339(before["lastSubmittedTime"])
    sat = load_mapping("SE", "monthly").by_field["satisfaction"].question_id
    assert answer(before, sat) != answer(after, sat)
    for other in partners.partners:
        if other.country != "SE":
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
    lv = means["LV"]
    dip = [lv[date(2023, 2, 1)], lv[date(2023, 3, 1)]]
    rest = statistics.mean(
        v for m, v in lv.items() if m not in (date(2023, 2, 1), date(2023, 3, 1))
    )
    assert all(1.0 <= rest - d <= 2.0 for d in dip), (rest, dip)
    for country in ("SE", "EE", "LT"):
        assert min(means[country].values()) >= 3.0, country


def test_forms_look_like_google_and_speak_the_local_language(partners):
    words = {"SE": "Hur nöjd", "EE": "Kui rahul", "LV": "Cik apmierināts", "LT": "Kiek esate"}
    diacritics = {"SE": "åäö", "EE": "õäöü", "LV": "āēīūļņš", "LT": "ąčęėįšųūž"}
    for p in partners.partners:
        for kind in ("monthly", "self_assessment"):
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
            assert any(ch in text for ch in diacritics[p.country]), p.country
        assert words[p.country] in json.dumps(form(p.forms.monthly), ensure_ascii=False)
        date_questions = [
            i
            for i in form(p.forms.monthly)["items"]
            if "dateQuestion" in i.get("questionItem", {}).get("question", {})
        ]
        assert len(date_questions) == (1 if p.country == "EE" else 0)


def test_every_answer_is_covered_by_the_mapping(partners):
    """Each answer's question is mapped and each choice label is in the mapping (or Other)."""
    for p in partners.partners:
        for kind in ("monthly", "self_assessment"):
            mapping = load_mapping(p.country, kind)
            mapped_fields = set(mapping.by_field)
            if kind == "monthly":
                assert ("feedback_month" in mapped_fields) == (p.country == "EE")
            others = 0
            for r in responses(p.form_id(kind)):
                for qid, a in r["answers"].items():
                    q = mapping.by_question_id[qid]
                    for value in (v["value"] for v in a["textAnswers"]["answers"]):
                        if q.choices is None:
                            continue
                        if value not in q.choices:
                            assert q.other == "other", (p.country, q.field, value)
                            others += 1
            if kind == "monthly":
                assert others >= 1, p.country  # somebody used the "Other" box


def test_self_assessments_baseline_everyone_endline_most_with_growth(partners):
    totals = Counter()
    growth = []
    for p in partners.partners:
        m = load_mapping(p.country, "self_assessment")
        wave_q = m.by_field["wave"].question_id
        waves = defaultdict(dict)
        for r in responses(p.forms.self_assessment):
            wave = m.by_field["wave"].choices[answer(r, wave_q)[0]]
            ts = parse_rfc3339(r["lastSubmittedTime"])
            assert (ts.year, ts.month) == ((2022, 8) if wave == "baseline" else (2023, 8))
            waves[wave][r["respondentEmail"]] = r
            assert len(m.by_field) == 11 and all(
                answer(r, m.by_field[f"capability_{a}"].question_id) for a in NEED_AREAS_LIST
            )
        assert len(waves["baseline"]) == p.active_members
        assert p.active_members - 1 == len(waves["endline"])
        totals.update({w: len(v) for w, v in waves.items()})
        for email, end in waves["endline"].items():
            base = waves["baseline"][email]
            for area in NEED_AREAS_LIST:
                qid = m.by_field[f"capability_{area}"].question_id
                growth.append(int(answer(end, qid)[0]) - int(answer(base, qid)[0]))
    assert totals == {"baseline": 30, "endline": 26}
    assert min(growth) >= 0 and statistics.mean(growth) > 0.4


NEED_AREAS_LIST = (
    "funding_access",
    "visibility",
    "impact_measurement",
    "scaling",
    "public_procurement",
    "corporate_partnerships",
    "investor_readiness",
    "team_leadership",
)


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
