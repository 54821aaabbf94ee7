"""Translations of the report's fixed strings and locale-aware number formatting.

One YAML catalogue per language under ``include/templates/i18n/<lang>.yaml``, flat
``key: text`` pairs with ``str.format`` placeholders. English is the reference: every
other catalogue must have exactly its keys and placeholders (tests/test_report_i18n.py
checks this), and a key missing at run time falls back to English with a warning rather
than sending a partner a broken email.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from bsin.config import LANGUAGES
from bsin.paths import TEMPLATES_DIR

log = logging.getLogger(__name__)

I18N_DIR = TEMPLATES_DIR / "i18n"
DEFAULT_LANGUAGE = "en"


class TranslationError(ValueError):
    """A catalogue is missing or malformed; the message names the file and the fix."""


def catalogue_path(language: str, folder: Path | None = None) -> Path:
    """Where the catalogue of ``language`` lives."""
    return (folder or I18N_DIR) / f"{language}.yaml"


@lru_cache(maxsize=16)
def load_catalogue(language: str, folder: Path | None = None) -> dict[str, object]:
    """The key -> text mapping of ``language`` (lists allowed for month names)."""
    path = catalogue_path(language, folder)
    if language not in LANGUAGES:
        raise TranslationError(
            f"report language {language!r} is not supported: use one of {LANGUAGES} "
            "(or add include/templates/i18n/<lang>.yaml and the code to bsin.config.LANGUAGES)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TranslationError(f"{path}: translation catalogue missing; copy en.yaml") from None
    except yaml.YAMLError as exc:
        raise TranslationError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TranslationError(f"{path}: expected a mapping of key: text")
    return data


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields a format string uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True)
class Translator:
    """Looks up fixed strings and formats numbers and months for one language."""

    language: str

    def _lookup(self, key: str) -> object:
        own = load_catalogue(self.language)
        if key in own:
            return own[key]
        fallback = load_catalogue(DEFAULT_LANGUAGE)
        if key in fallback:
            log.warning("translation %r missing in %s.yaml: using English", key, self.language)
            return fallback[key]
        raise TranslationError(f"translation key {key!r} missing in en.yaml: add it")

    def has(self, key: str) -> bool:
        """Whether ``key`` is known in this language or in English."""
        return key in load_catalogue(self.language) or key in load_catalogue(DEFAULT_LANGUAGE)

    def __call__(self, key: str, **fields: object) -> str:
        """The text of ``key`` with ``fields`` filled in."""
        text = self._lookup(key)
        if not isinstance(text, str):
            raise TranslationError(f"translation key {key!r} is not a string")
        return text.format(**fields) if fields else text

    def month(self, month: date, short: bool = False) -> str:
        """``March 2023`` in this language (``Mar`` when ``short``)."""
        names = self._lookup("months_short" if short else "months")
        if not isinstance(names, list) or len(names) != 12:
            raise TranslationError(f"{self.language}.yaml: months must be a list of 12 names")
        name = str(names[month.month - 1])
        return name if short else f"{name} {month.year}"

    def number(self, value: float, decimals: int = 0, signed: bool = False) -> str:
        """``value`` with this language's decimal separator (and a sign when ``signed``)."""
        text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
        # Rounding can give "-0": a sign on zero reads as a change that is not there.
        if float(text) == 0:
            text = f"{0:.{decimals}f}"
            if signed:
                text = "±" + text
        return text.replace(".", str(self._lookup("decimal_separator")))
