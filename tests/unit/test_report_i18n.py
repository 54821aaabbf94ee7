"""Every report language has every fixed string, with the same placeholders as English;
languages are the catalogue files; numbers and months come from CLDR (Babel)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bsin.core.config import ConfigError, load_partners
from bsin.core.languages import I18N_DIR, available_languages, missing_language_message
from bsin.core.paths import TEMPLATES_DIR
from bsin.reporting.formatting import Formatter, round_half_up
from bsin.reporting.report_i18n import OPTIONAL_KEYS, Translator, load_catalogue, placeholders
from bsin.reporting.report_model import INDICATOR_ORDER
from bsin.reporting.report_view import format_change, format_value

EN = load_catalogue("en")
LANGUAGES = available_languages()
# Texts that read the same in several languages (symbols, names, placeholders only).
LANGUAGE_NEUTRAL = {
    "n<3",
    "Net Promoter Score",
    "{value} (n = {n})",
    "{name} (n = {n})",
    "{change} {vs}",
    "{value}, {change}",
}


def _template_keys() -> set[str]:
    text = "".join(
        (TEMPLATES_DIR / name).read_text(encoding="utf-8") for name in ("report.html", "report.txt")
    )
    return set(re.findall(r't\("([a-z_.]+)"', text))


def test_languages_are_the_catalogue_files():
    assert LANGUAGES == tuple(
        sorted((p.stem for p in I18N_DIR.glob("*.yaml")), key=lambda c: (c != "en", c))
    )
    # The Nordic step ships with the Baltic languages.
    assert {"en", "sv", "et", "lv", "lt", "fi", "nb", "da"} <= set(LANGUAGES)


def test_english_has_every_key_the_templates_and_code_use():
    used = _template_keys() | {f"ind.{k}" for k in INDICATOR_ORDER}
    used |= {
        "subject",
        "chart_satisfaction",
        "chart_nps",
        "chart_response_rate",
        "chart_comparison",
        "unit_points",
        "unit_percentage_points",
        "change_none",
        "alt_trend_up",
        "alt_trend_down",
    }
    assert used - set(EN) == set()


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_catalogue_complete(language):
    cat = load_catalogue(language)
    assert set(cat) - OPTIONAL_KEYS == set(EN), f"{language}.yaml keys differ from en.yaml"
    for key, text in EN.items():
        assert isinstance(text, str) and isinstance(cat[key], str), f"{language}.yaml {key}"
        assert placeholders(cat[key]) == placeholders(text), f"{language}.yaml {key}"
        if text not in LANGUAGE_NEUTRAL and len(text) > 12:
            assert cat[key] != text, f"{language}.yaml {key} is still English"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translator_formats_through_cldr(language):
    t = Translator(language)
    sep = "." if language == "en" else ","
    assert t.number(3.456, decimals=1) == f"3{sep}5"
    # A value that rounds to zero carries no sign: never "±0" or "−0".
    assert t.number(-0.01, decimals=1, signed=True) == f"0{sep}0"
    assert t.number(0.4, signed=True) == "0"
    assert t.month(date(2023, 3, 1)).count("2023") == 1
    assert "." not in t.month(date(2023, 3, 1)).replace("m.", "").rstrip(".")[-3:]


def test_half_up_rounding_is_consistent():
    en = Formatter("en")
    # The issue: 62.5 % rounded to 62 but 37.5 % to 38 (half-to-even on binary floats).
    assert en.percent(0.625) == "63%" and en.percent(0.375) == "38%"
    assert en.number(2.25, decimals=1) == "2.3" and en.number(2.35, decimals=1) == "2.4"
    # A share is rounded as the decimal a person reads, not as its binary float times 100
    # (0.575 * 100 == 57.4999...).
    assert en.percent(0.575) == "58%"
    assert round_half_up(-2.5) == -3  # half away from zero, symmetric for changes
    assert en.number(-0.4, signed=True) == "0"


def test_locale_details_come_from_cldr():
    sv, lt, fi = Formatter("sv"), Formatter("lt"), Formatter("fi")
    assert sv.number(-1.25, decimals=1, signed=True) == "\u22121,3"  # CLDR minus sign
    assert sv.percent(0.75) == "75\u00a0%"  # non-breaking space before %
    assert sv.number(12345) == "12\u00a0345"
    assert sv.country("SE") == "Sverige" and lt.country("LT") == "Lietuva"
    assert Formatter("et").country("EE") == "Eesti"
    assert fi.month(date(2023, 3, 1)) == "maaliskuu 2023"
    assert Translator("lv").month(date(2023, 3, 1)) == "2023. gada marts"


@pytest.mark.parametrize("language", LANGUAGES)
def test_changes_read_as_changes(language):
    t = Translator(language)
    fall = format_change("satisfaction_mean", -1.2, t)
    assert fall == t("unit_points", change=t.number(-1.2, decimals=1, signed=True))
    assert format_change("response_rate", 0.05, t) == t(
        "unit_percentage_points", change=t.number(5, signed=True)
    )
    assert format_change("nps", 0.3, t) == t("change_none")
    assert format_value("nps", 0.0, t) == "0"


def test_unknown_language_names_the_file_to_add(tmp_path):
    text = (Path(__file__).parents[2] / "include/config/partners.yaml").read_text()
    bad = tmp_path / "partners.yaml"
    bad.write_text(text.replace("report_language: lt", "report_language: is", 1))
    with pytest.raises(ConfigError) as err:
        load_partners(bad)
    message = str(err.value)
    assert "report_language" in message and "LT" in message
    assert str(I18N_DIR / "is.yaml") in message and "copy en.yaml" in message
    assert missing_language_message("fi") is None


def test_a_new_language_file_is_a_new_language(tmp_path):
    folder = tmp_path / "i18n"
    folder.mkdir()
    (folder / "en.yaml").write_text((I18N_DIR / "en.yaml").read_text())
    assert available_languages(folder) == ("en",)
    assert "is.yaml" in missing_language_message("is", folder)
    (folder / "is.yaml").write_text((I18N_DIR / "en.yaml").read_text())
    assert available_languages(folder) == ("en", "is")
    assert missing_language_message("is", folder) is None
