"""`make map-form`: a draft mapping from a partner's form, read through the Forms API."""

from __future__ import annotations

import json

import pytest
import yaml
from bsin_dev import map_form

from bsin.core.config import ConfigError
from bsin.transform.mapping import FIELDS, form_questions, load_mapping, validate_mapping
from tests.support.nordic_network import NEW_PARTNERS, build_nordic_network


@pytest.fixture(scope="module")
def nordic(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mapform")
    mp = pytest.MonkeyPatch()
    cfg, data = build_nordic_network(tmp, mp)
    mp.undo()
    # The project does not know the Norwegian texts: only the sample countries' mappings
    # (and the generic texts) are its known translations.
    norwegian = cfg / "mappings" / "no_monthly.yaml"
    expected = load_mapping("NO", "monthly", cfg)
    norwegian.unlink()
    (cfg / "mappings" / "no_self_assessment.yaml").unlink()
    (cfg / "mappings" / "dk_monthly.yaml").unlink()
    return cfg, data, expected


def _run(nordic, monkeypatch, tmp_path, capsys, form_id, country, kind="monthly"):
    cfg, data, _ = nordic
    monkeypatch.setenv("BSIN_CONFIG_DIR", str(cfg))
    out = tmp_path / f"{country.lower()}_{kind}.yaml"
    code = map_form.main(
        ["--form", form_id, "--country", country, "--kind", kind, "--emulator", str(data),
         "--out", str(out)]
    )  # fmt: skip
    captured = capsys.readouterr()
    return code, out, captured.out + captured.err


def test_a_new_language_gets_every_question_listed_and_todo_where_unknown(
    nordic, monkeypatch, tmp_path, capsys
):
    cfg, data, expected = nordic
    partner = next(p for p in NEW_PARTNERS if p["country"] == "NO")
    code, out, printed = _run(
        nordic, monkeypatch, tmp_path, capsys, partner["forms"]["monthly"], "NO"
    )
    assert code == 0
    text = out.read_text(encoding="utf-8")
    draft = yaml.safe_load(text)
    form = json.loads((data / "forms" / f"{partner['forms']['monthly']}.json").read_text("utf-8"))
    questions = form_questions(form)
    # Every question of the form, with its id, title and options, in form order.
    assert [q["question_id"] for q in draft["questions"]] == list(questions)
    for q in draft["questions"]:
        fq = questions[q["question_id"]]
        assert q["title"] == fq.title
        if fq.labels:
            assert list(q["choices"]) == list(fq.labels)
    assert draft["country"] == "NO" and draft["language"] == "nb"
    # Norwegian titles are known nowhere: no guessed field, a TODO naming the choices.
    assert "field: TODO  # one of:" in text
    # Yes/no labels in Norwegian are unknown too; the draft says what is left to do.
    assert "still to do before the draft is a valid mapping" in printed
    assert "unknown canonical field 'TODO'" in printed
    # Filling in the TODOs as the partner's real mapping does gives a valid mapping.
    by_id = {q.question_id: q for q in expected.questions}
    for q in draft["questions"]:
        real = by_id[q["question_id"]]
        q["field"] = real.field
        if real.choices:
            q["choices"] = dict(real.choices)
        if real.other:
            q["other"] = real.other
    assert validate_mapping(draft).by_field.keys() == expected.by_field.keys()


def test_known_titles_and_labels_are_prefilled_and_marked_for_review(
    nordic, monkeypatch, tmp_path, capsys
):
    cfg, data, _ = nordic
    partners = yaml.safe_load((cfg / "partners.yaml").read_text("utf-8"))["partners"]
    lv = next(p for p in partners if p["country"] == "LV")
    (cfg / "mappings" / "lv_monthly.yaml").rename(tmp_path / "lv_monthly.yaml.bak")
    try:
        code, out, printed = _run(
            nordic, monkeypatch, tmp_path, capsys, lv["forms"]["monthly"], "LV"
        )
    finally:
        (tmp_path / "lv_monthly.yaml.bak").rename(cfg / "mappings" / "lv_monthly.yaml")
    assert code == 0
    text = out.read_text(encoding="utf-8")
    draft = yaml.safe_load(text)
    # The sample's Latvian texts are known translations: every field guessed, each marked.
    assert {q["field"] for q in draft["questions"]} <= set(FIELDS["monthly"])
    guesses = text.count("# GUESS")
    assert guesses >= len(draft["questions"])
    assert "the draft is a valid mapping; review every GUESS" in printed
    real = load_mapping("LV", "monthly", cfg)
    assert {q["question_id"]: q["field"] for q in draft["questions"]} == {
        q.question_id: q.field for q in real.questions
    }


def test_unknown_partner_without_language_is_a_clear_error(nordic, monkeypatch, tmp_path, capsys):
    code, out, printed = _run(nordic, monkeypatch, tmp_path, capsys, "anything", "IS")
    assert code == 2 and not out.exists()
    assert "IS is not in partners.yaml" in printed and "--language" in printed


def test_draft_validation_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="draft.yaml"):
        validate_mapping(
            {"country": "NO", "form_kind": "monthly", "language": "nb", "questions": [
                {"question_id": "q1", "field": "TODO"}]},
            source=str(tmp_path / "draft.yaml"),
        )  # fmt: skip
