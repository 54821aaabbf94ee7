"""Mapping files: label normalisation and validation at load (bsin.reporting.text, bsin.transform.mapping)."""

from __future__ import annotations

import copy
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from bsin.core.config import ConfigError
from bsin.core.paths import INCLUDE
from bsin.reporting.text import clean_text, guess_language, normalise_label, truncate
from bsin.transform.mapping import load_mapping, mapping_path, validate_mapping
from tests.support.fixtures_forms import MONTHLY_TEXT, monthly_case, self_assessment_case

# --- bsin.reporting.text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    ["Ļoti apmierināts", "Žiniasklaida", "Iš dalies", "Mõjuinvestorid", "Företag"],
)
def test_nfd_and_nfc_labels_have_the_same_key(label: str) -> None:
    nfd = unicodedata.normalize("NFD", label)
    assert nfd != label  # the test really compares two different code point sequences
    assert normalise_label(nfd) == normalise_label(label)


def test_normalise_label_folds_what_nobody_can_see() -> None:
    assert normalise_label("  Ļoti \u00a0 Apmierināts\t") == "ļoti apmierināts"
    assert normalise_label("Fi\u200bnan\u200dsē\ufeffjums") == "finansējums"
    assert normalise_label("\u200fTaip\u202c") == "taip"


def test_normalise_label_keeps_diacritics() -> None:
    assert normalise_label("Loti apmierinats") != normalise_label("Ļoti apmierināts")
    assert normalise_label("Ne") != normalise_label("Nė")


def test_clean_text_and_truncate() -> None:
    assert clean_text("  \u200b ") is None
    assert clean_text(unicodedata.normalize("NFD", " Rīga ")) == "Rīga"
    assert truncate("abcdef", 10) == "abcdef"
    cut = truncate("x" * 50, 10)
    assert len(cut) == 10 and cut.endswith("[…]")


def test_guess_language_hints() -> None:
    assert guess_language(MONTHLY_TEXT["lv"]["titles"]) == "lv"
    assert guess_language(MONTHLY_TEXT["lt"]["titles"]) == "lt"
    assert guess_language(MONTHLY_TEXT["et"]["titles"]) == "et"
    assert guess_language(["Did you attend the peer session?"]) == "en"


# --- valid mappings -----------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(MONTHLY_TEXT))
def test_fixture_mappings_are_valid(language: str) -> None:
    mapping = monthly_case(language, with_month_question=True).mapping
    assert mapping.language == language
    assert "feedback_month" in mapping.by_field
    assert mapping.by_field["challenges"].other == "other"


def test_self_assessment_mapping_is_valid() -> None:
    mapping = self_assessment_case().mapping
    assert {q.field for q in mapping.questions} >= {"wave", "needs", "capability_scaling"}


def _write(tmp_path: Path, data: Any, name: str = "se_monthly.yaml") -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir(exist_ok=True)
    path = folder / name
    text = (
        data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    )
    path.write_text(text, encoding="utf-8")
    return path


def test_load_mapping_round_trip(tmp_path: Path) -> None:
    case = monthly_case("sv")
    _write(tmp_path, case.mapping_data)
    mapping = load_mapping("SE", "monthly", config_dir=tmp_path)
    assert mapping == case.mapping
    assert mapping_path("SE", "monthly", tmp_path) == tmp_path / "mappings" / "se_monthly.yaml"


def test_language_is_checked_against_partners_yaml(tmp_path: Path) -> None:
    shutil.copy(INCLUDE / "config" / "partners.yaml", tmp_path / "partners.yaml")
    case = monthly_case("sv")
    _write(tmp_path, {**case.mapping_data, "language": "et"})
    with pytest.raises(ConfigError) as err:
        load_mapping("SE", "monthly", config_dir=tmp_path)
    assert "se_monthly.yaml" in str(err.value)
    assert "language" in str(err.value) and "'sv'" in str(err.value)


# --- invalid mappings: each names the file, the key and the fix ---------------------------


def _mutate(fn: Any) -> dict[str, Any]:
    data = copy.deepcopy(monthly_case("sv").mapping_data)
    fn(data)
    return data


def _q(data: dict[str, Any], field: str) -> dict[str, Any]:
    return next(q for q in data["questions"] if q["field"] == field)


INVALID = {
    "unknown_field": (
        lambda d: _q(d, "suggestion").update(field="sugestion"),
        ["questions[9]", "unknown canonical field 'sugestion'", "use one of"],
    ),
    "field_mapped_twice": (
        lambda d: _q(d, "relevance").update(field="satisfaction"),
        ["questions[3]", "'satisfaction' is already mapped by questions[2]"],
    ),
    "choice_value_outside_set": (
        lambda d: _q(d, "new_skill")["choices"].update({"Delvis": "somewhat"}),
        ["choices.'Delvis'", "'somewhat' is not a value of 'new_skill'", "yes, partly, no"],
    ),
    "bool_where_enum_expected": (
        lambda d: _q(d, "new_skill")["choices"].update({"Ja": True}),
        ["choices.'Ja'", "put the value in quotes"],
    ),
    "required_field_missing": (
        lambda d: d["questions"].remove(_q(d, "recommend")),
        ["required field 'recommend' is not mapped", "add an entry with field: recommend"],
    ),
    "duplicate_question_id": (
        lambda d: _q(d, "relevance").update(question_id=_q(d, "satisfaction")["question_id"]),
        ["questions[3]", "already mapped in questions[2]"],
    ),
    "labels_collide_after_normalisation": (
        lambda d: _q(d, "attended_workshop")["choices"].update({" JA\u200b ": True}),
        ["questions[1]", "same label as 'Ja'", "keep one of them"],
    ),
    "choices_missing_on_choice_field": (
        lambda d: _q(d, "attended_workshop").pop("choices"),
        ["questions[1]", "choices: field 'attended_workshop' is a choice question"],
    ),
    "other_on_field_without_other": (
        lambda d: _q(d, "stakeholder_access").update(other="other"),
        ["questions[7]", "has no 'other' value", "remove the other key"],
    ),
    "unknown_key": (
        lambda d: _q(d, "satisfaction").update(scale="1-5"),
        ["questions[2].scale", "unknown key"],
    ),
    "scale_choice_out_of_range": (
        lambda d: _q(d, "satisfaction").update(choices={"Mycket nöjd": 6}),
        ["choices.'Mycket nöjd'", "a whole number from 1 to 5"],
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_mapping_file_is_rejected_with_key_and_fix(tmp_path: Path, name: str) -> None:
    mutate, expected = INVALID[name]
    path = _write(tmp_path, _mutate(mutate))
    with pytest.raises(ConfigError) as err:
        load_mapping("SE", "monthly", config_dir=tmp_path)
    message = str(err.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message, message


def test_unquoted_numeric_question_id_is_rejected(tmp_path: Path) -> None:
    text = yaml.safe_dump(monthly_case("sv").mapping_data, allow_unicode=True, sort_keys=False)
    first_id = monthly_case("sv").mapping_data["questions"][0]["question_id"]
    _write(tmp_path, text.replace(f"question_id: {first_id}", "question_id: 0123", 1))
    with pytest.raises(ConfigError, match=r"questions\[0\]\.question_id: .*put it in quotes"):
        load_mapping("SE", "monthly", config_dir=tmp_path)


def test_bare_yes_in_yaml_is_explained(tmp_path: Path) -> None:
    text = yaml.safe_dump(monthly_case("sv").mapping_data, allow_unicode=True, sort_keys=False)
    # What a person would type by hand: yes/no unquoted, which YAML 1.1 reads as booleans.
    _write(tmp_path, text.replace("Ja: 'yes'", "Ja: yes").replace("Nej: 'no'", "Nej: no"))
    with pytest.raises(ConfigError, match="YAML reads bare yes/no"):
        load_mapping("SE", "monthly", config_dir=tmp_path)


def test_missing_file_wrong_country_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no mapping for SE's monthly form; create it"):
        load_mapping("SE", "monthly", config_dir=tmp_path)
    _write(tmp_path, monthly_case("et").mapping_data)  # an EE file saved under the SE name
    with pytest.raises(ConfigError, match="country: is 'EE', expected 'SE'"):
        load_mapping("SE", "monthly", config_dir=tmp_path)
    _write(tmp_path, "country: SE\nquestions: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_mapping("SE", "monthly", config_dir=tmp_path)


def test_validate_mapping_reports_every_problem_at_once() -> None:
    data = _mutate(lambda d: (_q(d, "relevance").update(field="relevanse"), d["questions"].pop()))
    data["questions"].append({"question_id": "x", "field": "suggestion", "choices": {"a": "b"}})
    with pytest.raises(ConfigError) as err:
        validate_mapping(data, source="se_monthly.yaml")
    message = str(err.value)
    assert "unknown canonical field 'relevanse'" in message
    assert "required field 'relevance' is not mapped" in message
    assert "takes the answer as it is; remove choices" in message
