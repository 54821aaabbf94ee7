"""The hostile input corpus (tests/support/hostile/*.json) through the real pipeline (issue 6, section 3).

Each file is one case: a few FormResponses written by canonical field name (the runner puts
them on the country's real sample form, filling the other answers with valid ones), an
optional change to the form, and the expected outcome of every response:

``loaded``
    a row in ``feedback``, with the listed column values; extra checks on the partner's
    rendered report (``report_html_contains`` / ``report_html_lacks``) and on its CSV
    attachment (``csv_cell_starts``, ``csv_cell_contains``; ``csv_column`` default suggestion);
``quarantined``
    a ``quarantine`` row with that ``rule``, ``field`` and ``stage`` and no feedback row;
``not_landed``
    outside the month's window: neither landed nor quarantined (a later run's business).

``kind: task`` cases describe a scenario whose step must fail with a clear error (or, for
an empty month, complete with nothing). Strings may be written ``{"$repeat": s, "times": n}``
so that a 1 MB answer stays a small file.

All row cases run in ONE month (one extract and harmonise per country, one GX validation:
GX takes seconds to import) with limits raised so that the batch checks do not stop it;
the batch checks have their own cases. The harmonise-stage outcomes are also checked on
PostgreSQL, and a property test feeds harmonisation anything the emulator would serve.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsin.core.config import ValidationLimits, load_partners, load_programme
from bsin.core.months import format_rfc3339, month_window
from bsin.ingest.pseudonymise import load_key, member_id, partner_member_id
from bsin.pipeline import PipelineError
from bsin.reporting.text import TEXT_LIMIT
from bsin.transform.harmonise import harmonise_feedback
from bsin.transform.landed import LandedPayloads
from bsin.transform.mapping import load_mapping
from tests.support.fixtures_forms import assert_same_result, landed_text
from tests.support.pipeline_harness import KEY, PipelineHarness, harness

CORPUS = Path(__file__).resolve().parents[1] / "support" / "hostile"
# The configured network (include/config/partners.yaml): a case names one of its countries.
COUNTRIES = tuple(load_partners().countries)


def _expand(value: Any) -> Any:
    """Resolve ``{"$repeat": s, "times": n}`` anywhere in a case."""
    if isinstance(value, dict):
        if set(value) == {"$repeat", "times"}:
            return value["$repeat"] * value["times"]
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def load_cases(kind: str) -> list[tuple[str, dict]]:
    out = []
    for path in sorted(CORPUS.glob("*.json")):
        case = _expand(json.loads(path.read_text(encoding="utf-8")))
        if case["kind"] == kind:
            out.append((path.stem, case))
    return out


ROW_CASES = load_cases("row")
TASK_CASES = load_cases("task")


def test_corpus_is_big_and_well_formed() -> None:
    assert len(ROW_CASES) + len(TASK_CASES) >= 40
    for name, case in ROW_CASES:
        assert case["country"] in COUNTRIES, name
        assert len(case["responses"]) == len(case["expect"]), name
        for expect in case["expect"]:
            assert expect["outcome"] in ("loaded", "quarantined", "not_landed"), name
    # Every unknown-label path in every country's form language (partners.yaml).
    for country in COUNTRIES:
        names = [n for n, _ in ROW_CASES if f"unknown_label_{country.lower()}_" in n]
        assert len(names) >= 3, country


# --------------------------------------------------------------------------- building


class FormBuilder:
    """Turns a case's responses into FormResponses on a country's real (sample) form."""

    def __init__(self, h: PipelineHarness) -> None:
        self.h = h
        self.mappings = {c: load_mapping(c, "monthly") for c in COUNTRIES}
        self.serial = 0

    def qid(self, country: str, field_name: str) -> str:
        return self.mappings[country].by_field[field_name].question_id

    def label(self, country: str, field_name: str, value: Any) -> str:
        q = self.mappings[country].by_field[field_name]
        return next(label for label, v in q.choices.items() if v == value)

    def baseline(self, country: str) -> dict[str, Any]:
        """Valid answers to every required question of the form."""
        return {
            "attended_peer_session": self.label(country, "attended_peer_session", True),
            "attended_workshop": self.label(country, "attended_workshop", False),
            "satisfaction": "4",
            "relevance": "4",
            "recommend": "9",
            "new_skill": self.label(country, "new_skill", "yes"),
            "new_connections_abroad": "2",
            "stakeholder_access": [self.label(country, "stakeholder_access", "corporate")],
            "challenges": [self.label(country, "challenges", "funding")],
        }

    def response(self, case_name: str, n: int, country: str, spec: dict) -> dict[str, Any]:
        self.serial += 1
        tz = self.h.partners.partner(country).timezone
        start, _ = month_window(self.h.month, tz, self.h.programme.grace_days)
        stamp = spec.get("submitted") or format_rfc3339(
            start + timedelta(days=3, minutes=self.serial, hours=spec.get("offset_hours", 0))
        )
        answers_by_field = {**self.baseline(country), **spec.get("answers", {})}
        answers: dict[str, Any] = {}
        for name, value in answers_by_field.items():
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            qid = self.qid(country, name)
            answers[qid] = {
                "questionId": qid,
                "textAnswers": {"answers": [{"value": v} for v in values]},
            }
        for name, raw in spec.get("answers_json", {}).items():
            answers[self.qid(country, name)] = raw
        out = {
            "formId": self.h.form_id(country),
            "responseId": spec.get("id") or f"ACYDBN-{case_name[:40]}-{n}",
            "createTime": stamp,
            "lastSubmittedTime": stamp,
            "answers": spec.get("answers_json_root", answers),
        }
        email = spec.get("email", f"{case_name[:40]}.{n}@hostile.example.org")
        if email is not None:
            out["respondentEmail"] = email
        return out

    def patch_form(self, country: str, patch: dict) -> None:
        form = self.h.read_form(country)
        add = patch["add_option"]
        qid = self.qid(country, add["field"])
        for item in form["items"]:
            question = item.get("questionItem", {}).get("question", {})
            if question.get("questionId") == qid:
                options = question["choiceQuestion"]["options"]
                options.insert(len(options) - 1, {"value": add["label"]})
        self.h.write_form(country, form)


@dataclass
class Placed:
    """Where each response of each case ended up in the emulator."""

    rows: dict[str, list[tuple[str, str, str | None]]] = field(default_factory=dict)

    def add(self, case: str, country: str, rid: str, email: str | None) -> None:
        self.rows.setdefault(case, []).append((country, rid, email))


def place_corpus(h: PipelineHarness) -> Placed:
    """Write every row case into the emulator data (replacing the sample's monthly answers)."""
    builder = FormBuilder(h)
    by_country: dict[str, list[dict]] = {c: [] for c in COUNTRIES}
    placed = Placed()
    for name, case in ROW_CASES:
        if "form_patch" in case:
            builder.patch_form(case["country"], case["form_patch"])
        for n, spec in enumerate(case["responses"]):
            country = spec.get("country", case["country"])
            r = builder.response(name, n, country, spec)
            r["formId"] = h.form_id(country)
            by_country[country].append(r)
            placed.add(name, country, r["responseId"], r.get("respondentEmail"))
    for country, responses in by_country.items():
        h.write_responses(country, responses)
    return placed


def _corpus_config():
    partners = load_partners()
    # Room for every case's respondent, and no batch stop on the quarantined share: the
    # corpus is meant to be mostly bad. The batch checks have their own task cases.
    partners = partners.model_copy(
        update={
            "partners": [p.model_copy(update={"active_members": 1000}) for p in partners.partners]
        }
    )
    programme = load_programme().model_copy(
        update={"validation": ValidationLimits(max_quarantine_share=1.0, min_response_rate=0.0)}
    )
    return partners, programme


# --------------------------------------------------------------------------- the month


@dataclass
class CorpusRun:
    h: PipelineHarness
    placed: Placed
    feedback: dict[tuple[str, str], dict]
    quarantine: dict[tuple[str, str], list[dict]]
    landed: set[tuple[str, str]]
    reports: dict[str, Any]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> CorpusRun:
    from bsin.reporting.report import build_report, render_report

    root = tmp_path_factory.mktemp("corpus")
    partners, programme = _corpus_config()
    with harness(root, partners=partners, programme=programme, num_retries=0) as h:
        placed = place_corpus(h)
        h.ingest(*COUNTRIES)
        h.validate()
        h.marts()
        feedback = {
            (r["country"], r["response_id"]): r
            for r in h.wh.query_df("select * from feedback", {}).to_dict("records")
        }
        quarantine: dict[tuple[str, str], list[dict]] = {}
        for r in h.wh.query_df("select * from quarantine", {}).to_dict("records"):
            quarantine.setdefault((r["country"], r["response_id"]), []).append(r)
        landed = {
            (c, rid)
            for c, rid in h.wh.query(
                "select country, response_id from raw_response where form_kind = 'monthly'"
            )
        }
        reports = {c: render_report(build_report(h.wh, partners, c, h.month)) for c in COUNTRIES}
        yield CorpusRun(h, placed, feedback, quarantine, landed, reports)


def _csv_rows(report) -> tuple[str, list[dict]]:
    text = report.csv_bytes.decode("utf-8-sig")
    return text, list(csv.DictReader(io.StringIO(text)))


def check_loaded(run: CorpusRun, name: str, country: str, rid: str, email: str, expect: dict):
    row = run.feedback.get((country, rid))
    assert row is not None, (
        f"{name}: {country} {rid} not loaded; quarantine: {run.quarantine.get((country, rid))}"
    )
    assert (country, rid) not in run.quarantine, name
    report = run.reports[country]
    for key, want in expect.get("values", {}).items():
        if key == "suggestion_length":
            assert len(row["suggestion"]) == want and row["suggestion"].endswith("[…]"), name
        elif key == "challenges_other_length":
            assert len(row["challenges_other"]) == want, name
        elif key == "report_html_contains":
            assert want in report.html, name
        elif key == "report_html_lacks":
            assert want not in report.html, name
        elif key in ("csv_cell_starts", "csv_column", "csv_cell_contains"):
            continue
        else:
            assert row[key] == want, f"{name}: {key} = {row[key]!r}, expected {want!r}"
    values = expect.get("values", {})
    if "csv_cell_starts" in values or "csv_cell_contains" in values:
        column = values.get("csv_column", "suggestion")
        _, rows = _csv_rows(report)
        # The CSV carries the partner's own pseudonym of the member (bsin.ingest.pseudonymise).
        pseudonym = partner_member_id(member_id(email, KEY), load_key(), country)
        mine = [r for r in rows if r["member_id"] == pseudonym]
        assert len(mine) == 1, name
        cell = mine[0][column]
        if "csv_cell_starts" in values:
            assert cell.startswith(values["csv_cell_starts"]), f"{name}: CSV cell {cell!r}"
        if "csv_cell_contains" in values:
            assert values["csv_cell_contains"] in cell, f"{name}: CSV cell {cell!r}"


def check_quarantined(run: CorpusRun, name: str, country: str, rid: str, expect: dict):
    assert (country, rid) in run.landed, f"{name}: {rid} was not landed"
    assert (country, rid) not in run.feedback, f"{name}: {rid} was loaded"
    rows = run.quarantine.get((country, rid), [])
    found = {(r["rule"], r["field"], r["stage"]) for r in rows}
    want = (expect["rule"], expect["field"], expect["stage"])
    assert want in found, f"{name}: expected {want}, got {sorted(found)}"
    for r in rows:
        assert r["reason"], name
        assert r["value"] is None or len(r["value"]) <= 200, name


@pytest.mark.slow
@pytest.mark.parametrize(("name", "case"), ROW_CASES, ids=[n for n, _ in ROW_CASES])
def test_row_case(corpus: CorpusRun, name: str, case: dict) -> None:
    for (country, rid, email), expect in zip(corpus.placed.rows[name], case["expect"], strict=True):
        if expect["outcome"] == "loaded":
            check_loaded(corpus, name, country, rid, email, expect)
        elif expect["outcome"] == "quarantined":
            check_quarantined(corpus, name, country, rid, expect)
        else:
            assert (country, rid) not in corpus.landed, name
            assert (country, rid) not in corpus.quarantine, name


@pytest.mark.slow
def test_every_landed_response_is_loaded_or_quarantined_never_both(corpus: CorpusRun) -> None:
    loaded = set(corpus.feedback)
    quarantined = set(corpus.quarantine) - {(c, "") for c in COUNTRIES}
    assert corpus.landed == loaded | quarantined
    assert not loaded & quarantined
    # And the warehouse still has every table SQL-looking answers talked about.
    assert {"feedback", "raw_response", "quarantine"} <= set(corpus.h.tables())


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_corpus_harmonises_the_same_on_postgres(tmp_path) -> None:
    """Landing and harmonising the corpus on PostgreSQL (no NUL, no placeholder surprises)."""
    partners, programme = _corpus_config()
    with harness(tmp_path, backend="postgres", partners=partners, programme=programme) as h:
        placed = place_corpus(h)
        h.ingest(*COUNTRIES)
        candidates = {
            (c, rid): s
            for c, rid, s in h.wh.query(
                "select country, response_id, suggestion from feedback_candidate"
            )
        }
        rules = {
            (c, rid, rule, fld)
            for c, rid, rule, fld in h.wh.query(
                "select country, response_id, rule, field from quarantine where stage = 'harmonise'"
            )
        }
    for name, case in ROW_CASES:
        for (country, rid, _), expect in zip(placed.rows[name], case["expect"], strict=True):
            if expect["outcome"] == "quarantined" and expect["stage"] == "harmonise":
                assert (country, rid, expect["rule"], expect["field"]) in rules, name
            elif expect["outcome"] == "loaded" or expect.get("stage") == "validate":
                assert (country, rid) in candidates, name
                want = expect.get("values", {}).get("suggestion")
                if want is not None:
                    assert candidates[(country, rid)] == want, name


# --------------------------------------------------------------------------- task cases


def _batch_failure_cases() -> list[tuple[str, dict]]:
    return [(n, c) for n, c in TASK_CASES if c["scenario"]["name"] == "batch"]


@pytest.fixture(scope="module")
def batch_failure(tmp_path_factory):
    """One validation of a month where the batch-level cases all apply (one GX run)."""
    root = tmp_path_factory.mktemp("batch")
    with harness(root) as h:
        builder = FormBuilder(h)
        for _, case in _batch_failure_cases():
            scenario = case["scenario"]
            country = scenario["country"]
            if scenario["responses"] == "none":
                h.write_responses(country, [])
            else:  # all_bad: every response of the month has an unusable answer
                qid = builder.qid(country, "satisfaction")
                responses = h.read_responses(country)
                for r in responses:
                    r["answers"][qid] = {
                        "questionId": qid,
                        "textAnswers": {"answers": [{"value": "?"}]},
                    }
                h.write_responses(country, responses)
        h.ingest(*COUNTRIES)
        before = h.dump()
        # Each held-back country's own problem; validation completes for the others.
        h.validate()
        yield h, before


def _run_task(h: PipelineHarness, scenario: dict) -> Any:
    name = scenario["name"]
    if name == "wrong_country_form":
        # The form behind the configured ID is really the other country's form.
        other = h.read_form(scenario["form_of"])
        other["formId"] = h.form_id(scenario["country"])
        h.write_form(scenario["country"], other)
        return h.extract(scenario["country"])
    if name == "unknown_form":
        country = scenario["country"]
        partners = h.partners.model_copy(
            update={
                "partners": [
                    p.model_copy(
                        update={
                            "forms": p.forms.model_copy(update={"monthly": scenario["form_id"]})
                        }
                    )
                    if p.country == country
                    else p
                    for p in h.partners.partners
                ]
            }
        )
        h.ctx.partners = h.partners = partners
        return h.extract(country)
    if name == "empty_month":
        for country in COUNTRIES:
            h.write_responses(country, [])
        results = []
        for country in COUNTRIES:
            results.append(h.extract(country))
            results.append(h.harmonise(country))
        return results
    raise AssertionError(f"unknown scenario {name}")


@pytest.mark.parametrize(
    ("name", "case"),
    [(n, c) for n, c in TASK_CASES if c["scenario"]["name"] != "batch"],
    ids=[n for n, c in TASK_CASES if c["scenario"]["name"] != "batch"],
)
def test_task_case(tmp_path, name: str, case: dict) -> None:
    expect = case["expect"]
    with harness(tmp_path, num_retries=0) as h:
        h.prepare()
        before = h.dump()
        if expect["error"] is None:
            results = _run_task(h, case["scenario"])
            harmonised = [r for r in results if "monthly" in r and isinstance(r["monthly"], dict)]
            assert harmonised and all(r["monthly"]["rows"] == expect["rows"] for r in harmonised)
            assert all(r["monthly"]["quarantined"] == 0 for r in harmonised)
            assert h.count("raw_response", "form_kind = 'monthly'") == 0
            return
        with pytest.raises(PipelineError) as err:
            _run_task(h, case["scenario"])
        for fragment in expect["match"]:
            assert fragment in str(err.value), f"{name}: {fragment!r} not in {err.value}"
        # A form that no longer fits its mapping records only that condition (for the
        # partner's notice and the drift message); nothing else changes.
        after = h.dump()
        status = after.pop("country_month_status", [])
        before.pop("country_month_status", None)
        assert after == before, f"{name}: the failed step changed the warehouse"
        assert {row[3] for row in status} <= {"structural_drift"}, status


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "case"), _batch_failure_cases(), ids=[n for n, _ in _batch_failure_cases()]
)
def test_batch_case(batch_failure, name: str, case: dict) -> None:
    h, before = batch_failure
    country = case["scenario"]["country"]
    status = h.wh.query_df(
        "select status, detail from country_month_status"
        " where country = :c and report_month = :m and stage = 'validate'",
        {"c": country, "m": h.month},
    )
    assert list(status["status"]) == [case["expect"]["held_back"]]
    message = status["detail"].iloc[0]
    for fragment in case["expect"]["match"]:
        assert fragment in message, f"{name}: {fragment!r} not in {message}"
    # Nothing of the held-back country is loaded; every other country's month is.
    held_back = {c["scenario"]["country"] for _, c in _batch_failure_cases()}
    assert h.count("feedback", f"country = '{country}'") == 0
    for other in sorted(set(COUNTRIES) - held_back):
        assert h.count("feedback", f"country = '{other}'") > 0, other
    assert before["feedback"] == []


# --------------------------------------------------------------------------- property


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
# The first configured partner's form, whichever the network's partners are.
_PARTNER = load_partners().partner(COUNTRIES[0])
_MAPPING = load_mapping(COUNTRIES[0], "monthly")
_FORM = json.loads(
    (
        Path(__file__).parents[2]
        / "include/sample/emulator/forms"
        / f"{_PARTNER.form_id('monthly')}.json"
    ).read_text(encoding="utf-8")
)
_LABELS = sorted({label for q in _MAPPING.questions for label in (q.choices or {})}) + [
    "3",
    "11",
    "",
    " ",
]


@st.composite
def served_response(draw, index: int) -> dict:
    """Any FormResponse the emulator would serve: a responseId, a valid time, anything else."""
    answers: Any
    if draw(st.integers(0, 9)) == 0:
        answers = draw(_JSON)
    else:
        answers = {}
        for q in _MAPPING.questions:
            shape = draw(st.integers(0, 5))
            if shape == 0:
                continue
            if shape == 1:
                answers[q.question_id] = draw(_JSON)
            else:
                values = draw(st.lists(st.sampled_from(_LABELS) | st.text(max_size=5), max_size=3))
                answers[q.question_id] = {
                    "questionId": q.question_id,
                    "textAnswers": {"answers": [{"value": v} for v in values]},
                }
    response = {
        "formId": _FORM["formId"],
        "responseId": draw(st.sampled_from([f"r{index}", "r0", "r1"])),
        "lastSubmittedTime": f"2023-03-{draw(st.integers(1, 28)):02d}T10:00:00Z",
        "answers": answers,
    }
    email = draw(st.sampled_from(["a@example.org", "b@example.org", None, "", 7]))
    if email is not None:
        response["respondentEmail"] = email
    if draw(st.booleans()):
        response["createTime"] = draw(st.sampled_from(["2023-03-01T00:00:00Z", "garbage", None]))
    return response


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 8).flatmap(lambda n: st.tuples(*(served_response(i) for i in range(n)))))
def test_anything_the_emulator_serves_is_loaded_or_quarantined(responses) -> None:
    from bsin_dev.emulator.store import build_response_set

    # Keep one version per id, as one emulator file must, and check the emulator takes it.
    unique = list({r["responseId"]: r for r in responses}.values())
    build_response_set(Path("hypothesis.json"), _FORM["formId"], unique)
    served = json.loads(json.dumps(unique))  # what the client would parse
    args = dict(
        country=_MAPPING.country,
        key=KEY,
        tz=_PARTNER.timezone,
        grace_days=load_programme().grace_days,
    )
    result = harmonise_feedback(served, _FORM, _MAPPING, **args)
    # The pipeline harmonises the landed texts (bsin.transform.landed): same outcome.
    landed = LandedPayloads([landed_text(r) for r in served])
    assert_same_result(harmonise_feedback(landed, _FORM, _MAPPING, **args), result)
    ids_in = {r["responseId"] for r in served}
    kept = list(result.rows["response_id"])
    quarantined = set(result.quarantine["response_id"])
    assert len(kept) + len(quarantined) == len(ids_in)
    assert set(kept) | quarantined == ids_in
    assert all(len(v) <= TEXT_LIMIT for v in result.rows["suggestion"].dropna())


def test_corpus_files_are_small() -> None:
    for path in CORPUS.glob("*.json"):
        # The corpus is data to review in a diff: big answers are written as $repeat.
        assert path.stat().st_size < 16_000, path.name
