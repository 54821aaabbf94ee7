"""Every country's built-in sample form + mapping harmonises cleanly; injected faults do not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bsin.core.config import load_partners, load_programme
from bsin.core.months import parse_rfc3339
from bsin.core.paths import SAMPLE_DIR, config_dir
from bsin.transform.drift import detect_drift
from bsin.transform.harmonise import harmonise_feedback, harmonise_self_assessment
from bsin.transform.mapping import load_mapping

KEY = b"sample-test-key-0123456789"
PARTNERS = load_partners()
CASES = [(p.country, kind) for p in PARTNERS.partners for kind in p.form_kinds]

pytestmark = pytest.mark.skipif(
    not (SAMPLE_DIR / "forms").is_dir(), reason="sample data not generated (make sample-data)"
)


def load(country: str, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]], Any, Any]:
    partner = PARTNERS.partner(country)
    form_id = partner.form_id(kind)
    form = json.loads((SAMPLE_DIR / "forms" / f"{form_id}.json").read_text(encoding="utf-8"))
    responses = json.loads(
        (SAMPLE_DIR / "responses" / f"{form_id}.json").read_text(encoding="utf-8")
    )
    return form, responses, load_mapping(country, kind), partner


def harmonise(country: str, kind: str, form: Any, responses: list[Any], mapping: Any) -> Any:
    fn = harmonise_feedback if kind == "monthly" else harmonise_self_assessment
    return fn(
        responses,
        form,
        mapping,
        country=country,
        key=KEY,
        tz=PARTNERS.partner(country).timezone,
        grace_days=load_programme().grace_days,
    )


@pytest.mark.parametrize(("country", "kind"), CASES)
def test_sample_form_matches_its_mapping_and_harmonises_cleanly(country: str, kind: str) -> None:
    form, responses, mapping, _ = load(country, kind)
    assert (
        detect_drift(form, mapping, previous_revision_id=form["revisionId"], responses=responses)
        == []
    )
    result = harmonise(country, kind, form, responses, mapping)
    assert result.quarantine.empty, result.quarantine.to_string()
    assert result.notes.empty
    assert len(result.rows) == len({r["responseId"] for r in responses}) > 0
    emails = {r["respondentEmail"] for r in responses}
    for frame in (result.rows, result.selections):
        text = frame.astype(str).to_csv()
        assert not any(e in text for e in emails)


def _first_label(mapping: Any, field: str) -> tuple[str, str]:
    q = mapping.by_field[field]
    return q.question_id, next(iter(q.choices))


@pytest.mark.parametrize("country", [p.country for p in PARTNERS.partners])
def test_injected_faults_are_quarantined_and_nothing_else(country: str) -> None:
    form, responses, mapping, _ = load(country, "monthly")
    responses = copy.deepcopy(responses)
    skill_id, _ = _first_label(mapping, "new_skill")
    scale_id = mapping.by_field["satisfaction"].question_id
    injected = {
        responses[0]["responseId"]: "unknown_label",
        responses[1]["responseId"]: "out_of_range",
        responses[2]["responseId"]: "missing_email",
    }
    responses[0]["answers"][skill_id]["textAnswers"]["answers"] = [{"value": "¿Quizás?"}]
    responses[1]["answers"][scale_id]["textAnswers"]["answers"] = [{"value": "7"}]
    del responses[2]["respondentEmail"]
    result = harmonise(country, "monthly", form, responses, mapping)
    got = dict(zip(result.quarantine["response_id"], result.quarantine["rule"], strict=True))
    assert got == injected
    assert len(result.rows) + len(got) == len({r["responseId"] for r in responses})
    reason = result.quarantine.set_index("rule").loc["unknown_label", "reason"]
    assert f"({mapping.language})" in reason


def test_edited_swedish_response_keeps_the_latest_version() -> None:
    form, responses, mapping, partner = load("SE", "monthly")
    superseded = json.loads(
        (SAMPLE_DIR / "superseded" / f"{partner.form_id('monthly')}.json").read_text(
            encoding="utf-8"
        )
    )
    assert superseded
    edited = {r["responseId"] for r in superseded}
    result = harmonise("SE", "monthly", form, superseded + responses, mapping)
    assert result.quarantine.empty
    rows = result.rows.set_index("response_id")
    latest = {r["responseId"]: r for r in responses if r["responseId"] in edited}
    assert latest
    for rid, r in latest.items():
        newest = parse_rfc3339(r["lastSubmittedTime"]).replace(tzinfo=None)
        assert rows.loc[rid, "submitted_at"] == pd.Timestamp(newest)
        assert all(
            parse_rfc3339(s["lastSubmittedTime"]) < parse_rfc3339(r["lastSubmittedTime"])
            for s in superseded
            if s["responseId"] == rid
        )


def test_estonian_month_question_decides_the_month() -> None:
    form, responses, mapping, _ = load("EE", "monthly")
    assert "feedback_month" in mapping.by_field
    month_id = mapping.by_field["feedback_month"].question_id
    result = harmonise("EE", "monthly", form, responses, mapping)
    months = dict(zip(result.rows["response_id"], result.rows["feedback_month"], strict=True))
    for r in responses:
        answer = r["answers"].get(month_id)
        if answer:
            assert (
                months[r["responseId"]].isoformat()[:7]
                == answer["textAnswers"]["answers"][0]["value"][:7]
            )


def test_every_sample_mapping_file_exists_for_every_partner() -> None:
    folder: Path = config_dir() / "mappings"
    for country, kind in CASES:
        assert (folder / f"{country.lower()}_{kind}.yaml").exists()
