"""Every report language has every fixed string, with the same placeholders as English."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bsin.config import LANGUAGES
from bsin.paths import TEMPLATES_DIR
from bsin.report import INDICATOR_ORDER
from bsin.report_i18n import Translator, load_catalogue, placeholders

EN = load_catalogue("en")


def _template_keys() -> set[str]:
    text = "".join(
        (TEMPLATES_DIR / name).read_text(encoding="utf-8") for name in ("report.html", "report.txt")
    )
    return set(re.findall(r't\("([a-z_.]+)"', text))


def test_english_has_every_key_the_templates_and_code_use():
    used = _template_keys() | {f"ind.{k}" for k in INDICATOR_ORDER}
    used |= {
        "subject",
        "chart_satisfaction",
        "chart_nps",
        "chart_response_rate",
        "chart_comparison",
    }
    assert used - set(EN) == set()


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_catalogue_complete(language):
    cat = load_catalogue(language)
    assert set(cat) == set(EN), f"{language}.yaml keys differ from en.yaml"
    for key, text in EN.items():
        if isinstance(text, str):
            assert placeholders(cat[key]) == placeholders(text), f"{language}.yaml {key}"
            if text not in ("n<3", "Net Promoter Score", ".") and len(text) > 12:
                assert cat[key] != text, f"{language}.yaml {key} is still English"
        else:
            assert isinstance(cat[key], list) and len(cat[key]) == 12, f"{language}.yaml {key}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translator_formats(language):
    t = Translator(language)
    sep = "." if language == "en" else ","
    assert t.number(3.456, decimals=1) == f"3{sep}5"
    assert t.number(-0.01, decimals=1, signed=True) == f"±0{sep}0"
    assert t.month(date(2023, 3, 1)).endswith("2023")
